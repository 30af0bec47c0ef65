"""Contract suites' speed: the whole stack's suites against a running stack, in one run.

Target (issue 11): under 5 s for the whole stack, so a developer runs them on every change.
Baselines in the same rounds: `devenv --version` (start-up alone) and `devenv status` (one look
at the stack). Also the library call (`devenv.contracts.run`, no process start) and the slowest
suite, since suites run in parallel and the slowest one sets the wall time.

Run: `eval "$(tests/hermetic/setup)"; python bench/bench_contracts.py [--rounds N] [--project DIR]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from _common import LAST_CPU, devenv, row, start_project, timed

from devenv.contracts import Target
from devenv.contracts import run as run_contracts
from devenv.stack.handle import Stack


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--project", type=Path, help="a project whose stack is already up")
    args = ap.parse_args()

    root = args.project.resolve() if args.project else start_project()
    cli_t: list[float] = []
    cli_cpu: list[float] = []
    version_cpu: list[float] = []
    lib_t: list[float] = []
    version_t: list[float] = []
    status_t: list[float] = []
    per_suite: dict[str, list[float]] = defaultdict(list)
    try:
        target = Target.from_stack(Stack.load(root))
        for _ in range(args.rounds):
            version_t.append(timed(devenv("--version"), root)[0])
            version_cpu.append(LAST_CPU[0])
            status_t.append(timed(devenv("status"), root)[0])
            t, out = timed(devenv("test", "contracts", "--json"), root, ok=(0, 1))
            data = json.loads(out)
            if data["summary"]["failed"]:
                bad = [
                    f"{c['service']}.{c['check']}" for c in data["checks"] if c["status"] == "fail"
                ]
                sys.exit(f"bench: contracts fail on this stack: {bad}")
            cli_t.append(t)
            cli_cpu.append(LAST_CPU[0])
            t0 = time.perf_counter()
            outcomes = run_contracts(target)
            lib_t.append(time.perf_counter() - t0)
            sums: dict[str, float] = defaultdict(float)
            for o in outcomes:
                sums[o.service] += o.seconds
            for svc, s in sums.items():
                per_suite[svc].append(s)
        checks = len(outcomes)
    finally:
        if not args.project:
            subprocess.run(devenv("down", "--volumes"), cwd=root, capture_output=True)

    version = statistics.median(version_t)
    status = statistics.median(status_t)
    load = os.getloadavg()[0]
    print(f"\n{args.rounds} rounds, {checks} checks; seconds; load average at the end {load:.1f}")
    print(
        f"{'measure':<34} {'median':>7} {'min':>6} {'max':>6}  {'/--version':>7} "
        f"{'/status':>7}  target"
    )
    print("-" * 100)
    print(row("baseline: devenv --version", version_t, [version, status]))
    print(row("baseline: devenv status", status_t, [version, status]))
    print(row("devenv test contracts (all)", cli_t, [version, status], "< 5 s"))
    print(row("  library: contracts.run()", lib_t, [version, status]))
    print(row("  cpu: devenv --version", version_cpu, [None, None]))
    print(row("  cpu: devenv test contracts", cli_cpu, [None, None]))
    for svc, values in sorted(per_suite.items(), key=lambda kv: -statistics.median(kv[1])):
        print(row(f"    suite {svc}", values, [version, status]))


if __name__ == "__main__":
    main()

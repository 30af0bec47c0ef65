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
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

from devenv import config
from devenv.contracts import Target
from devenv.contracts import run as run_contracts
from devenv.stack import ports
from devenv.stack.handle import Stack

#: CPU seconds (user + system) of the last command timed, children included: unlike wall time
#: it hardly moves with the machine's load, so it shows the cost on an idle machine.
LAST_CPU: list[float] = [0.0]


def timed(argv: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> tuple[float, str]:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=os.environ.copy())
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    LAST_CPU[0] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in ok:
        sys.exit(f"bench: {' '.join(argv[:5])} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def devenv(*args: str) -> list[str]:
    return [sys.executable, "-m", "devenv", *args]


def row(name: str, values: list[float], bases: list[float | None], target: str = "") -> str:
    med = statistics.median(values)
    ratios = "  ".join(f"{med / b:6.2f}x" if b else "      -" for b in bases)
    return f"{name:<34} {med:7.3f} {min(values):6.3f} {max(values):6.3f}  {ratios}  {target}"


def start_project() -> Path:
    services = list(config.SERVICES)
    if os.environ.get("DEVENV_HERMETIC_GOTRUE_UNAVAILABLE"):
        services.remove("gotrue")
    root = Path(tempfile.mkdtemp(prefix="devenv-bench-doctor-"))
    repo = Path(__file__).resolve().parent.parent
    for folder in ("migrations", "seeds"):
        (root / folder).symlink_to(repo / folder)
    port_lines = "\n".join(f"{s} = {ports.free_port()}" for s in config.SERVICES)
    listed = ", ".join(f'"{s}"' for s in services)
    (root / "devenv.toml").write_text(
        f'[project]\nname = "bench-{uuid.uuid4().hex[:6]}"\nservices = [{listed}]\n'
        f"[ports]\n{port_lines}\n"
    )
    timed(devenv("up"), root)
    return root


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

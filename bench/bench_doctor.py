"""`devenv doctor` speed against its baselines, in one run, alternating.

Targets (issue 11): the full doctor under 1 s with the stack up; `devenv doctor engine` under
0.3 s. Baselines measured in the same rounds: `docker info` (the engine's own status call, what
`doctor engine` reports on) and `devenv --version` (Python and the CLI starting, nothing else);
also `devenv doctor --help`, the floor any subcommand pays (Typer parsing its parameters).
CPU seconds are printed too: on a loaded machine wall time mostly measures the queue.

Run: `eval "$(tests/hermetic/setup)"; python bench/bench_doctor.py [--rounds N] [--project DIR]`.
Without --project a throw-away project with the whole stack is started (and removed after);
with it, that project's running stack is used as is.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from _common import LAST_CPU, devenv, row, start_project, timed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--project", type=Path, help="a project whose stack is already up")
    args = ap.parse_args()

    root = args.project.resolve() if args.project else start_project()
    try:
        _, out = timed(devenv("doctor", "--json"), root, ok=(0, 1))
        findings = json.loads(out)["findings"]
        failing = [f["id"] for f in findings if f["status"] == "fail"]
        if failing:
            sys.exit(f"bench: the stack is not healthy, doctor fails {failing}")
        rows: dict[str, list[float]] = {
            "docker info": [],
            "devenv --version": [],
            "devenv doctor --help": [],
            "devenv doctor engine": [],
            "devenv doctor (all checks)": [],
        }
        argv = {
            "docker info": ["docker", "info"],
            "devenv --version": devenv("--version"),
            "devenv doctor --help": devenv("doctor", "--help"),
            "devenv doctor engine": devenv("doctor", "engine"),
            "devenv doctor (all checks)": devenv("doctor"),
        }
        cpu: dict[str, list[float]] = {name: [] for name in rows}
        for _ in range(args.rounds):
            for name, cmd in argv.items():
                rows[name].append(timed(cmd, root, ok=(0, 1))[0])
                cpu[name].append(LAST_CPU[0])
        # Where the full run's time goes: the checks themselves (in parallel) vs start-up.
        inner = [
            json.loads(timed(devenv("doctor", "--json"), root, ok=(0, 1))[1])["summary"]["seconds"]
            for _ in range(args.rounds)
        ]
    finally:
        if not args.project:
            subprocess.run(devenv("down", "--volumes"), cwd=root, capture_output=True)

    info = statistics.median(rows["docker info"])
    version = statistics.median(rows["devenv --version"])
    load = os.getloadavg()[0]
    print(f"\n{args.rounds} alternating rounds; seconds; load average at the end {load:.1f}")
    print(
        f"{'measure':<34} {'median':>7} {'min':>6} {'max':>6}  {'/docker info':>7} "
        f"{'/--version':>7}  target"
    )
    print("-" * 100)
    print(row("baseline: docker info", rows["docker info"], [info, version]))
    print(row("baseline: devenv --version", rows["devenv --version"], [info, version]))
    print(row("floor: devenv doctor --help", rows["devenv doctor --help"], [info, version]))
    print(row("devenv doctor engine", rows["devenv doctor engine"], [info, version], "< 0.3 s"))
    full = rows["devenv doctor (all checks)"]
    print(row(f"devenv doctor (all {len(findings)} checks)", full, [info, version], "< 1 s"))
    print(row("  checks only (inside the run)", inner, [info, version]))
    print("\nCPU seconds (user + system, child processes included; load-independent)")
    ci, cv = statistics.median(cpu["docker info"]), statistics.median(cpu["devenv --version"])
    for name in rows:
        print(row(f"cpu: {name}", cpu[name], [ci, cv]))


if __name__ == "__main__":
    main()

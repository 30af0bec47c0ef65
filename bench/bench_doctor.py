"""`devenv doctor` speed against its baselines, in one run, alternating.

Targets (the tracker's): `devenv doctor engine` within 3x `docker info` (the engine's own status
call, what the engine group reports on), and the full doctor under 1 s with the stack up.
Also measured in the same rounds: `devenv --version` (Python and the entry point, nothing else),
`devenv doctor --help` (what Typer costs before any command runs), and the doctor command run
without Typer (devenv.doctor.command.main, what the entry point hands `devenv doctor` to once it
dispatches there: the same row as `devenv doctor engine` then). CPU seconds are printed too: on
a loaded machine wall time mostly measures the queue.

Commands run with bytecode caching on (PYTHONDONTWRITEBYTECODE unset), as an installed devenv
runs: compiling every module on each start measures the compiler, not devenv.

Run: `eval "$(tests/hermetic/setup)"; python bench/bench_doctor.py [--rounds N] [--project DIR]`.
Without --project a throw-away project with the whole stack is started (and removed after);
with it, that project's running stack is used as is.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from _common import LAST_CPU, devenv, start_project, timed

#: `devenv doctor ARGS` through devenv.doctor.command.main, falling back to the Typer app as the
#: entry point would.
NO_TYPER = (
    "import sys\n"
    "from devenv.doctor.command import main\n"
    "code = main(sys.argv[1:])\n"
    "if code is None:\n"
    "    from devenv.cli import main as cli\n"
    "    sys.argv[1:1] = ['doctor']\n"
    "    cli()\n"
    "sys.exit(code)\n"
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--project", type=Path, help="a project whose stack is already up")
    args = ap.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

    argv = {
        "docker info": ["docker", "info"],
        "devenv --version": devenv("--version"),
        "devenv doctor --help": devenv("doctor", "--help"),
        "devenv doctor engine": devenv("doctor", "engine"),
        "doctor engine, no Typer": [sys.executable, "-c", NO_TYPER, "engine"],
        "devenv doctor": devenv("doctor"),
        "devenv doctor, no Typer": [sys.executable, "-c", NO_TYPER],
    }
    if importlib.util.find_spec("devenv.doctor.command") is None:  # a devenv from before it
        del argv["doctor engine, no Typer"], argv["devenv doctor, no Typer"]
    root = args.project.resolve() if args.project else start_project()
    try:
        _, out = timed(devenv("doctor", "--json"), root, ok=(0, 1))  # also writes bytecode
        findings = json.loads(out)["findings"]
        failing = [f["id"] for f in findings if f["status"] == "fail"]
        if failing:
            sys.exit(f"bench: the stack is not healthy, doctor fails {failing}")
        for cmd in argv.values():  # warm: bytecode, the compose version cache, the page cache
            timed(cmd, root, ok=(0, 1))
        wall: dict[str, list[float]] = {name: [] for name in argv}
        cpu: dict[str, list[float]] = {name: [] for name in argv}
        for _ in range(args.rounds):
            for name, cmd in argv.items():
                wall[name].append(timed(cmd, root, ok=(0, 1))[0])
                cpu[name].append(LAST_CPU[0])
    finally:
        if not args.project:
            subprocess.run(devenv("down", "--volumes"), cwd=root, capture_output=True)

    load = os.getloadavg()[0]
    print(
        f"\n{args.rounds} alternating rounds, one process run; seconds, medians (min-max);"
        f" {os.cpu_count()} cores, load average at the end {load:.1f}"
    )
    print(
        f"{'measure':<34} {'wall':>7} {'min':>6} {'max':>6} {'ratio':>8}  "
        f"{'cpu':>6} {'ratio':>7}  target"
    )
    print("-" * 96)
    info_w, info_c = statistics.median(wall["docker info"]), statistics.median(cpu["docker info"])
    targets = {
        "devenv doctor engine": "<= 3x docker info",
        "doctor engine, no Typer": "<= 3x docker info",
        "devenv doctor": "< 1 s",
        "devenv doctor, no Typer": "< 1 s",
    }
    for name in argv:
        w, c = wall[name], cpu[name]
        mw, mc = statistics.median(w), statistics.median(c)
        label = f"{name} ({len(findings)} checks)" if name == "devenv doctor" else name
        label = "baseline: docker info" if name == "docker info" else label
        print(
            f"{label:<34} {mw:7.3f} {min(w):6.3f} {max(w):6.3f} {mw / info_w:7.2f}x  "
            f"{mc:6.3f} {mc / info_c:6.2f}x  {targets.get(name, '')}"
        )
    print("ratios: to docker info's median (wall, and CPU: user + system, children included)")


if __name__ == "__main__":
    main()

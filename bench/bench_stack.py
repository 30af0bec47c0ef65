"""Stack speed against its baseline, in one run: `devenv up` vs `docker compose up -d --wait`.

Targets (issue: the stack handle):
  warm `devenv up` (images present, stack stopped) <= 1.05x `docker compose up -d --wait` on the
  same compose project, measured alternately; a second `devenv up` on a running stack < 0.5 s;
  `devenv --help` median < 0.1 s.

Run: `eval "$(tests/hermetic/setup)"; python bench/bench_stack.py [--rounds N]`.
Both variants start from the same state (`devenv down`: containers removed, volumes kept) and run
against the same project, so the ratio isolates what devenv adds: Python start-up, key and config
handling, port and image checks, progress polling and the gateway check through Kong.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from devenv import services as svcs
from devenv.stack import ports
from devenv.stack.handle import Stack


def sh(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    t = time.perf_counter()
    proc = subprocess.run(
        argv, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(argv[:4])}... failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed


def devenv(*args: str, cwd: Path) -> float:
    return sh([sys.executable, "-m", "devenv", *args], cwd)


def row(name: str, values: list[float], base: float | None = None, target: str = "") -> str:
    med = statistics.median(values)
    ratio = f"{med / base:6.2f}x" if base else "      -"
    spread = f"{min(values):6.2f} {max(values):6.2f}"
    return f"{name:<44} {med:8.3f} {spread}  {ratio}  {target}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    services = ["postgres", "kong", "redis", "fireworks"]
    if not os.environ.get("DEVENV_HERMETIC_GOTRUE_UNAVAILABLE"):
        services.insert(1, "gotrue")
    root = Path(tempfile.mkdtemp(prefix="devenv-bench-"))
    name = f"bench-{uuid.uuid4().hex[:6]}"
    port_lines = "\n".join(f"{s} = {ports.free_port()}" for s in svcs.names())
    (root / "devenv.toml").write_text(
        f'[project]\nname = "{name}"\nservices = {services!r}\n[ports]\n{port_lines}\n'.replace(
            "'", '"'
        )
    )
    stack = Stack.load(root)
    try:
        devenv("up", "--no-seed", cwd=root)  # first start: initdb, first migrations
        stack.require_keys()
        # The same argv and environment devenv's one compose runner would use.
        runner = stack.runner
        assert hasattr(runner, "argv")
        compose_argv = runner.argv(["up", "--detach", "--wait", *services])
        env = dict(runner.env)
        base_t: list[float] = []
        ours_t: list[float] = []
        per_service: dict[str, list[float]] = {s: [] for s in services}
        for _ in range(args.rounds):
            devenv("down", cwd=root)
            base_t.append(sh(compose_argv, root, env))
            devenv("down", cwd=root)
            ours_t.append(devenv("up", "--no-seed", cwd=root))
            for s in stack.status().services:
                if s.startup_s is not None:
                    per_service[s.name].append(s.startup_s)
        again = [devenv("up", "--no-seed", cwd=root) for _ in range(args.rounds)]
        python_t = [sh([sys.executable, "-c", "pass"], root) for _ in range(15)]
        help_t = [devenv("--help", cwd=root) for _ in range(15)]
        version_t = [devenv("--version", cwd=root) for _ in range(15)]
    finally:
        subprocess.run(
            [sys.executable, "-m", "devenv", "down", "--volumes"], cwd=root, capture_output=True
        )

    base = statistics.median(base_t)
    print(f"\nstack: {', '.join(services)}; {args.rounds} alternating rounds; seconds")
    print(f"{'measure':<44} {'median':>8} {'min':>6} {'max':>6}  {'ratio':>7}  target")
    print("-" * 96)
    print(row("baseline: docker compose up -d --wait", base_t, base))
    print(row("devenv up (warm, stack stopped)", ours_t, base, "<= 1.05x baseline"))
    print(row("devenv up (stack already running)", again, None, "< 0.5 s"))
    for s, values in per_service.items():
        if values:
            print(row(f"  {s}: started -> healthy (inside devenv up)", values))
    print(row("baseline: python -c pass", python_t, statistics.median(python_t)))
    print(row("devenv --help", help_t, statistics.median(python_t), "< 0.1 s"))
    print(row("devenv --version", version_t, statistics.median(python_t), "< 0.25 s"))


if __name__ == "__main__":
    main()

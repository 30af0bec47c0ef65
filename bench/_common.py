"""What the CLI benchmarks share: timing a devenv command (wall and CPU), the table row, and a
throw-away project with the whole stack up (the repository's migrations and seeds)."""

from __future__ import annotations

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


def start_project(prefix: str = "devenv-bench-") -> Path:
    services = list(svcs.names())
    if os.environ.get("DEVENV_HERMETIC_GOTRUE_UNAVAILABLE"):
        services.remove("gotrue")
    root = Path(tempfile.mkdtemp(prefix=prefix))
    repo = Path(__file__).resolve().parent.parent
    for folder in ("migrations", "seeds"):
        (root / folder).symlink_to(repo / folder)
    port_lines = "\n".join(f"{s} = {ports.free_port()}" for s in svcs.names())
    listed = ", ".join(f'"{s}"' for s in services)
    (root / "devenv.toml").write_text(
        f'[project]\nname = "bench-{uuid.uuid4().hex[:6]}"\nservices = [{listed}]\n'
        f"[ports]\n{port_lines}\n"
    )
    timed(devenv("up"), root)
    return root

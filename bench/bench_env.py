"""`devenv env check` speed on a 500-key schema and .env, against the CLI's own start-up.

Target (issue: .env schema): `devenv env check` of a 500-key schema and file under 0.3 s end to
end. Baseline: `devenv --version` in the same run (Python start-up plus the CLI's imports), so the
difference is what checking costs. The two commands run alternately, and the library call
(`devenv.envfile.check_files`, in process) is timed too, to show where the time goes.

Wall and CPU time are both shown: on a shared machine wall time also counts waiting for a core,
while a single-threaded command's CPU time (user + system) is what it costs when the machine is
idle. Both commands run the way an installed devenv does, with compiled bytecode: the machine's
PYTHONDONTWRITEBYTECODE=1 is lifted for the subprocesses and the cache goes to a temporary
PYTHONPYCACHEPREFIX (the source tree stays clean). The same pair is then run with no bytecode
cache for devenv's own modules (this machine's PYTHONDONTWRITEBYTECODE=1 with a source checkout),
where they are compiled from source on each start, for comparison.

Start-up, and Typer's pydantic adapters: Typer 0.29 converts every parameter through a pydantic
TypeAdapter that it builds lazily, but builds it before noticing the value is None (an option not
given, the ``--help`` flag of every group): every command that runs imports pydantic, whatever
its parameters. The table shows that import on its own (``import typer._adapters`` against
``import typer``), and ``devenv env check`` with Typer's own None shortcut taken first (patched
inside the benchmark's process; nothing in devenv changes), to show what the adapters cost.

Run: `python bench/bench_env.py [--rounds N] [--keys N]`.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_TYPES = [
    ("# @type=url(allowedProtocols=[http, https])", "https://svc{i}.example.com/v1"),
    ("# @type=string(minLength=8, startsWith=key_) @sensitive", "key_{i:08d}abcdef"),
    ("# @type=number(isInt=true, min=0, max=100000)", "{i}"),
    ("# @type=port", "{port}"),
    ("# @type=boolean", "true"),
    ("# @type=enum(development, staging, production)", "staging"),
    ("# @type=email", "user{i}@example.com"),
    ('# @type=string(matches="^[a-z0-9-]+$")', "name-{i}"),
    ("# @optional", ""),
    ("", "plain value {i}"),
]


def make_project(root: Path, keys: int) -> None:
    schema = [
        "# Benchmark schema",
        "# @defaultSensitive=false @defaultRequired=true",
        "# ---",
        "",
    ]
    env = ["# Benchmark .env"]
    for i in range(keys):
        decl, value = _TYPES[i % len(_TYPES)]
        key = f"KEY_{i:04d}"
        if i % 25 == 0:
            schema += ["", f"# --- section {i // 25} ---", ""]
        schema.append(f"# Item {i}: what it is for.")
        if decl:
            schema.append(decl)
        schema.append(f"{key}=")
        shown = value.format(i=i, port=1024 + i)
        env.append(f'{key}="{shown}"' if " " in shown else f"{key}={shown}")
    (root / ".env.schema").write_text("\n".join(schema) + "\n")
    (root / ".env").write_text("\n".join(env) + "\n")
    (root / "devenv.toml").write_text('[project]\nname = "bench-env"\n')


#: `devenv env check` with Typer's early return for an unset parameter (value None: no
#: conversion, `()` for a list) taken before it builds the parameter's pydantic adapter rather
#: than after; nothing else changes, and no pydantic is imported. What the command costs
#: without the adapters.
_NO_ADAPTERS = """
import sys
import typer.core as core
from typer._click.exceptions import MissingParameter
real = core._TyperParameter.process_value
def process_value(self, ctx, value):
    if value is not None:
        return real(self, ctx, value)
    value = () if (self.multiple or self.nargs == -1) else None
    if self.required and self.value_is_missing(value):
        raise MissingParameter(ctx=ctx, param=self)
    return self.callback(ctx, self, value) if self.callback is not None else value
core._TyperParameter.process_value = process_value
sys.argv = ["devenv", "env", "check"]
from devenv.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
assert "pydantic" not in sys.modules, "pydantic was imported"
sys.exit(code)
"""


def run(argv: list[str], cwd: Path, env: dict[str, str], expect: int = 0) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run. CPU time (user + system, from the child's rusage)
    is what the command costs on an idle machine; wall time on a shared one also counts waiting."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != expect:
        sys.exit(f"bench: {' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


class Series:
    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def add(self, measured: tuple[float, float]) -> None:
        self.wall.append(measured[0])
        self.cpu.append(measured[1])


def row(name: str, s: Series, base: Series | None, target: str = "") -> str:
    med = statistics.median(s.wall)
    cpu = statistics.median(s.cpu) if s.cpu else float("nan")
    if base is not None:
        ratio = f"{med / statistics.median(base.wall):6.2f}x"
        cratio = f"{cpu / statistics.median(base.cpu):6.2f}x" if s.cpu else "      -"
    else:
        ratio = cratio = "      -"
    return (
        f"{name:<44} {med:7.3f} {min(s.wall):6.3f} {max(s.wall):6.3f} {ratio}"
        f"  {cpu:7.3f} {cratio}  {target}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--keys", type=int, default=500)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="devenv-bench-env-") as d:
        root = Path(d)
        make_project(root, args.keys)
        py = [sys.executable, "-m", "devenv"]
        exe = [sys.executable, "-c"]
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        cold = dict(os.environ)  # as this machine runs it: no .pyc written for devenv itself
        run([*py, "env", "check"], root, cached)  # writes the bytecode cache, warms the files
        run([*exe, _NO_ADAPTERS], root, cached)
        commands = {
            "version": ([*py, "--version"], cached),
            "check": ([*py, "env", "check"], cached),
            "check_json": ([*py, "env", "check", "--json"], cached),
            "no_adapters": ([*exe, _NO_ADAPTERS], cached),
            "bare": ([*exe, "pass"], cached),
            "typer": ([*exe, "import typer"], cached),
            "adapters": ([*exe, "import typer._adapters"], cached),
            "version_cold": ([*py, "--version"], cold),
            "check_cold": ([*py, "env", "check"], cold),
        }
        series = {name: Series() for name in commands}
        for _ in range(args.rounds):  # alternating, so load changes hit every command alike
            for name, (argv, env) in commands.items():
                series[name].add(run(argv, root, env))

        from devenv import config, envfile

        cfg = config.load(root)
        lib = Series()
        for _ in range(args.rounds):
            t = time.perf_counter()
            c = time.process_time()
            result = envfile.check_files(cfg, environ={})
            lib.add((time.perf_counter() - t, time.process_time() - c))
        assert result.ok, result.problems[:3]

    s = series
    base = s["version"]
    print(f"devenv env check, {args.keys}-key schema and .env; {args.rounds} rounds, seconds")
    print(f"{'':<44} {'wall':>7} {'min':>6} {'max':>6} {'ratio':>7}  {'CPU':>7} {'ratio':>7}")
    print(row("baseline: devenv --version", base, None))
    print(row("devenv env check", s["check"], base, "target < 0.300 s"))
    print(row("devenv env check --json", s["check_json"], base, "target < 0.300 s"))
    print(row("envfile.check_files (in process)", lib, base))
    print("start-up, and what Typer's pydantic adapters cost:")
    print(row("python -c pass", s["bare"], base))
    print(row("python -c 'import typer'", s["typer"], base))
    print(row("python -c 'import typer._adapters' (pydantic)", s["adapters"], base))
    alone = statistics.median(s["adapters"].cpu) - statistics.median(s["typer"].cpu)
    print(f"{'  the adapters import alone (CPU)':<44} {alone:7.3f}")
    print(row("devenv env check, adapters skipped", s["no_adapters"], base, "< 0.150 s?"))
    print("without .pyc files for devenv's own modules (compiled on every start):")
    print(row("baseline: devenv --version (no devenv .pyc)", s["version_cold"], None))
    print(row("devenv env check (no devenv .pyc)", s["check_cold"], s["version_cold"]))
    wall = statistics.median(s["check"].wall)
    cpu = statistics.median(s["check"].cpu)
    print(
        f"target {'met' if wall < 0.3 else 'MISSED'} on wall time (median {wall:.3f} s), "
        f"{'met' if cpu < 0.3 else 'MISSED'} on CPU time (median {cpu:.3f} s)"
    )


if __name__ == "__main__":
    main()

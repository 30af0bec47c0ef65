"""`devenv env check` speed on a 500-key schema and .env, against the CLI's own start-up.

Target (issue: .env schema): `devenv env check` of a 500-key schema and file under 0.3 s end to
end. Baseline: `devenv --version` in the same run (Python start-up plus the CLI's imports), so the
difference is what checking costs. The two commands run alternately, and the library call
(`devenv.envfile.check_files`, in process) is timed too, to show where the time goes.

Both commands run the way an installed devenv does, with compiled bytecode: the machine's
PYTHONDONTWRITEBYTECODE=1 is lifted for the subprocesses and the cache goes to a temporary
PYTHONPYCACHEPREFIX (the source tree stays clean). The same pair is then run with no bytecode
cache for devenv's own modules (this machine's PYTHONDONTWRITEBYTECODE=1 with a source checkout),
where they are compiled from source on each start, for comparison.

Run: `python bench/bench_env.py [--rounds N] [--keys N]`.
"""

from __future__ import annotations

import argparse
import os
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


def run(argv: list[str], cwd: Path, env: dict[str, str], expect: int = 0) -> float:
    t = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode != expect:
        sys.exit(f"bench: {' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return elapsed


def row(name: str, values: list[float], base: float | None, target: str = "") -> str:
    med = statistics.median(values)
    ratio = f"{med / base:6.2f}x" if base else "      -"
    return f"{name:<44} {med:8.3f} {min(values):7.3f} {max(values):7.3f}  {ratio}  {target}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--keys", type=int, default=500)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="devenv-bench-env-") as d:
        root = Path(d)
        make_project(root, args.keys)
        py = [sys.executable, "-m", "devenv"]
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        cold = dict(os.environ)  # as this machine runs it: no .pyc written for devenv itself
        run([*py, "env", "check"], root, cached)  # writes the bytecode cache, warms the files
        version: list[float] = []
        check: list[float] = []
        check_json: list[float] = []
        version_cold: list[float] = []
        check_cold: list[float] = []
        for _ in range(args.rounds):
            version.append(run([*py, "--version"], root, cached))
            check.append(run([*py, "env", "check"], root, cached))
            check_json.append(run([*py, "env", "check", "--json"], root, cached))
            version_cold.append(run([*py, "--version"], root, cold))
            check_cold.append(run([*py, "env", "check"], root, cold))

        from devenv import config, envfile

        cfg = config.load(root)
        lib: list[float] = []
        for _ in range(args.rounds):
            t = time.perf_counter()
            result = envfile.check_files(cfg, environ={})
            lib.append(time.perf_counter() - t)
        assert result.ok, result.problems[:3]

    base = statistics.median(version)
    base_cold = statistics.median(version_cold)
    print(f"devenv env check, {args.keys}-key schema and .env; {args.rounds} rounds, seconds")
    print(f"{'':<44} {'median':>8} {'min':>7} {'max':>7}  {'ratio':>7}")
    print(row("baseline: devenv --version", version, None))
    print(row("devenv env check", check, base, "target < 0.300 s"))
    print(row("devenv env check --json", check_json, base, "target < 0.300 s"))
    print(row("envfile.check_files (in process)", lib, base))
    print(f"{'check minus start-up':<44} {statistics.median(check) - base:8.3f}")
    print("without .pyc files for devenv's own modules (compiled on every start):")
    print(row("baseline: devenv --version (no devenv .pyc)", version_cold, None))
    print(row("devenv env check (no devenv .pyc)", check_cold, base_cold))
    ok = statistics.median(check) < 0.3
    print(f"target {'met' if ok else 'MISSED'}: median {statistics.median(check):.3f} s")


if __name__ == "__main__":
    main()

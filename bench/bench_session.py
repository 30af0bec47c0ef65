"""A pytest session's start to its first test body, against its baselines, in one run.

Target (issue: up at the speed of the services): a pytest session from a kept template <= 1.5 s
to the first test body.

Each figure is a real `python -m pytest` in a subprocess on the pytest plugin, from just before
the process is spawned to the first test body's clock reading; the test asks for `devenv_db` (the
session's stack, started, migrated and seeded, and a database cloned for the test). The project
is the reference app (this repository's migrations and seeds with its GoTrue users, and its six
services), in a folder of its own. Rounds alternate the variants:

  pytest alone                    the same test without the fixture: the floor
  baseline: cache off             a throw-away stack with DEVENV_CLUSTER_CACHE=off (initdb,
                                  GoTrue's migrations and the data step in every session)
  throw-away, kept template       a throw-away stack started from the cluster cache's entry of
                                  the migrated and seeded cluster (what a CI job on an engine
                                  that ran the suite before gets)
  --devenv-keep                   the kept test stack of the previous run, cleaned

Run: `eval "$(tests/hermetic/setup)"; python bench/bench_session.py [--rounds N]`
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devenv import services as svcs

REPO = Path(__file__).resolve().parent.parent

TEST_FILE = """
import os, time

def test_first(devenv_db):
    with open(os.environ["BENCH_FIRST_BODY"], "w") as f:
        f.write(repr(time.time()))
"""

FLOOR_FILE = """
import os, time

def test_first():
    with open(os.environ["BENCH_FIRST_BODY"], "w") as f:
        f.write(repr(time.time()))
"""


def services() -> list[str]:
    s = [n for n in svcs.names() if not svcs.get(n).opt_in]
    if os.environ.get("DEVENV_HERMETIC_GOTRUE_UNAVAILABLE"):
        s.remove("gotrue")
    return s


class Session:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.app = base / "app"
        self.app.mkdir()
        for folder in ("migrations", "seeds"):
            (self.app / folder).symlink_to(REPO / folder)
        listed = ", ".join(f'"{s}"' for s in services())
        (self.app / "devenv.toml").write_text(f"[project]\nservices = [{listed}]\n")
        self.tests = base / "tests"
        self.tests.mkdir()
        (self.tests / "pytest.ini").write_text("[pytest]\n")
        (self.tests / "test_stack.py").write_text(TEST_FILE)
        (self.tests / "test_floor.py").write_text(FLOOR_FILE)
        self.out = base / "first-body"
        self.env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self.env |= {"BENCH_FIRST_BODY": str(self.out), "XDG_CACHE_HOME": str(base / "cache")}

    def run(self, test: str, *args: str, extra: dict[str, str] | None = None) -> float:
        self.out.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test]
        argv += ["--devenv-project", str(self.app), "--devenv-prefix", "bench-session", *args]
        t0 = time.time()
        proc = subprocess.run(
            argv, cwd=self.tests, env={**self.env, **(extra or {})}, capture_output=True, text=True
        )
        if proc.returncode != 0 or not self.out.is_file():
            sys.exit(f"bench: {' '.join(argv[3:])} failed:\n{proc.stdout[-3000:]}{proc.stderr}")
        return float(self.out.read_text()) - t0

    def close(self) -> None:
        from devenv.stack import gc
        from devenv.stack.engine import Engine

        for o in gc.find(Engine()):
            if o.root.startswith(str(self.base)):
                gc.remove(o)


def row(name: str, values: list[float], base: float, target: str = "") -> str:
    med = statistics.median(values)
    return (
        f"{name:<34} {med:7.3f} {min(values):7.3f} {max(values):7.3f} {med / base:7.3f}x  {target}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="devenv-bench-session-"))
    s = Session(base)
    runs: dict[str, list[float]] = {k: [] for k in ("floor", "off", "cached", "kept")}
    try:
        # Warm-up, not measured: the cache's entry of this project's data, and the kept stack.
        s.run("test_stack.py")
        s.run("test_stack.py", "--devenv-keep")
        for _ in range(args.rounds):
            runs["floor"].append(s.run("test_floor.py"))
            runs["off"].append(s.run("test_stack.py", extra={"DEVENV_CLUSTER_CACHE": "off"}))
            runs["cached"].append(s.run("test_stack.py"))
            runs["kept"].append(s.run("test_stack.py", "--devenv-keep"))
    finally:
        s.close()
        shutil.rmtree(base, ignore_errors=True)
    off = statistics.median(runs["off"])
    print(
        f"\npytest session to its first test body ({', '.join(services())};"
        f" migrations + default seeds); {args.rounds} alternating rounds; seconds;"
        " ratio vs the cache-off baseline"
    )
    print(f"{'measure':<34} {'median':>7} {'min':>7} {'max':>7} {'ratio':>8}  target")
    print("-" * 90)
    print(row("pytest alone (no stack)", runs["floor"], off))
    print(row("baseline: throw-away, cache off", runs["off"], off))
    print(row("throw-away, kept template", runs["cached"], off, "<= 1.5 s"))
    print(row("--devenv-keep (kept stack)", runs["kept"], off, "<= 1.5 s"))


if __name__ == "__main__":
    main()

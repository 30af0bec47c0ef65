"""Ephemeral stacks for tests, against their baselines, in one run.

Targets (issue: ephemeral stacks for CI):
  a database per test (the pytest plugin's `devenv_db`: CREATE DATABASE ... TEMPLATE from the
  template made after migrations and seeds) median < 20 ms for the reference project, against
  re-running migrations and seeds (`devenv db reset` in place) and truncate-and-reseed;
  session start of the full ephemeral stack <= 1.2x `devenv up` cold on the same images.

Run: `eval "$(tests/hermetic/setup)"; python bench/bench_testing.py [--rounds N] [--dbs N]`.

The reference project is this repository (migrations/, seeds/default with its two GoTrue users),
so the stacks here include GoTrue. "Cold" means what a CI job sees: no containers and no volumes
of the project (a fresh Postgres data directory), images present. Each cold `devenv up` and each
ephemeral start run alternately on fresh projects; both load the same migrations and seeds; the
ephemeral start also makes the template and runs the start-up clean-up (`devenv gc`).
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
import uuid
from pathlib import Path

from devenv import services as svcs
from devenv.db import auth as authmod
from devenv.db import conn as dbconn
from devenv.db import reset as resetmod
from devenv.db import seed_files, snapshots
from devenv.db import seeds as seedsmod
from devenv.db.plan import DataPlan
from devenv.stack import ports
from devenv.testing.ephemeral import start, stop

REPO = Path(__file__).resolve().parent.parent
PREFIX = "bench-tp"


def row(name: str, values: list[float], base: float | None = None, target: str = "") -> str:
    med = statistics.median(values)
    ratio = f"{med / base:7.3f}x" if base else "       -"
    return f"{name:<52} {med:9.4f} {min(values):9.4f} {max(values):9.4f} {ratio}  {target}"


def header(title: str) -> None:
    print(f"\n{title}")
    print(f"{'measure':<52} {'median':>9} {'min':>9} {'max':>9} {'ratio':>8}  target")
    print("-" * 110)


def services() -> list[str]:
    s = ["postgres", "kong", "redis", "fireworks"]
    if not os.environ.get("DEVENV_HERMETIC_GOTRUE_UNAVAILABLE"):
        s.insert(1, "gotrue")
    return s


def reference_project(base: Path, svc: list[str]) -> Path:
    """A copy of the reference project (migrations, seeds) with its own name and free ports."""
    root = base / f"ref-{uuid.uuid4().hex[:6]}"
    root.mkdir()
    shutil.copytree(REPO / "migrations", root / "migrations")
    shutil.copytree(REPO / "seeds", root / "seeds")
    port_lines = "\n".join(f"{s} = {ports.free_port()}" for s in svcs.names())
    (root / "devenv.toml").write_text(
        f'[project]\nname = "bench-up-{root.name[4:]}"\nservices = {svc!r}\n'
        f"[ports]\n{port_lines}\n".replace("'", '"')
    )
    return root


def devenv(*args: str, cwd: Path) -> float:
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "devenv", *args], cwd=cwd, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"bench: devenv {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed


def bench_start(base: Path, rounds: int) -> tuple[list[float], list[float]]:
    svc = services()
    up_t: list[float] = []
    eph_t: list[float] = []
    for _ in range(rounds):
        root = reference_project(base, svc)
        try:
            up_t.append(devenv("up", cwd=root))
        finally:
            devenv("down", "--volumes", cwd=root)
        root = reference_project(base, svc)
        t = time.perf_counter()
        ts = start(root, services=svc, prefix=PREFIX)
        eph_t.append(time.perf_counter() - t)
        stop(ts)
    return up_t, eph_t


def bench_databases(base: Path, n: int, slow_rounds: int) -> None:
    svc = ["postgres", "gotrue"] if "gotrue" in services() else ["postgres"]
    root = reference_project(base, svc)
    seed_sets = ["default"] if "gotrue" in svc else []
    ts = start(root, services=svc, seed_sets=seed_sets, prefix=PREFIX)
    try:
        dsn = ts.database_url
        auth = authmod.target_for(ts.stack)
        ts.create_database("warm")  # the first clone pays for connecting; not a test's cost
        hand_out: list[float] = []
        per_test: list[float] = []
        drop_t: list[float] = []
        for _ in range(n):
            t0 = time.perf_counter()
            db = ts.create_database("bench")
            t1 = time.perf_counter()
            ts.drop_database(db.name)
            t2 = time.perf_counter()
            hand_out.append(t1 - t0)
            drop_t.append(t2 - t1)
            per_test.append(t2 - t0)
        wal: list[float] = []
        template = snapshots.PREFIX + ts.spec.template
        with dbconn.connect(dsn) as conn:
            for i in range(n):
                t0 = time.perf_counter()
                snapshots.clone(conn, f"bench_wal_{i}", template, "WAL_LOG")
                wal.append(time.perf_counter() - t0)
                conn.execute(f"DROP DATABASE bench_wal_{i} WITH (FORCE)")
        migrate_seed: list[float] = []
        for _ in range(slow_rounds):
            t0 = time.perf_counter()
            resetmod.reset(
                DataPlan.at(root / "migrations", root / "seeds"),
                dsn,
                seed_sets or ("default",),
                auth=auth,
                full=True,  # the replay itself, not the kept state bench_reset.py measures
            )
            migrate_seed.append(time.perf_counter() - t0)
        truncate: list[float] = []
        parsed = [seed_files.read_set(root / "seeds", s) for s in seed_sets]
        for _ in range(slow_rounds):
            t0 = time.perf_counter()
            with dbconn.connect(dsn) as conn, dbconn.locked(conn):
                tables = conn.execute(
                    "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables"
                    " WHERE schemaname = 'public'"
                ).fetchall()
                if tables:
                    conn.execute(
                        "TRUNCATE "
                        + ", ".join(str(t[0]) for t in tables)
                        + " RESTART IDENTITY CASCADE"
                    )
                seedsmod.load_sets(conn, parsed, force=True, auth=auth)
            truncate.append(time.perf_counter() - t0)
        size = (
            ts.connect()
            .execute("SELECT pg_size_pretty(pg_database_size(%s))", (template,))
            .fetchone()
        )
    finally:
        stop(ts)
    base_ms = statistics.median(migrate_seed)
    header(
        f"a database per test: reference project ({', '.join(svc)};"
        f" template {size[0] if size else '?'}); clones n={n}, baselines n={slow_rounds};"
        " seconds; ratio vs re-running migrations+seeds"
    )
    print(row("baseline: re-run migrations + seeds (db reset)", migrate_seed, base_ms))
    print(row("baseline: truncate app tables + re-seed", truncate, base_ms))
    print(row("devenv_db hand-out: CREATE DATABASE TEMPLATE", hand_out, base_ms, "< 0.020 s"))
    print(row("devenv_db per test: create + DROP WITH (FORCE)", per_test, base_ms))
    print(row("  of which DROP DATABASE WITH (FORCE)", drop_t, base_ms))
    print(row("  (alternative: STRATEGY WAL_LOG clone)", wal, base_ms))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3, help="cold starts of each kind")
    ap.add_argument("--dbs", type=int, default=50, help="per-test databases handed out")
    ap.add_argument("--slow", type=int, default=5, help="rounds of each slow baseline")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="devenv-bench-testing-"))
    try:
        bench_databases(base, args.dbs, args.slow)
        up_t, eph_t = bench_start(base, args.rounds)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    header(
        f"session start, cold ({', '.join(services())}; migrations + default seeds);"
        f" {args.rounds} alternating rounds; seconds"
    )
    up = statistics.median(up_t)
    print(row("baseline: devenv up (cold: no containers, no volumes)", up_t, up))
    print(row("ephemeral stack start (+ template, + gc)", eph_t, up, "<= 1.2x baseline"))


if __name__ == "__main__":
    main()

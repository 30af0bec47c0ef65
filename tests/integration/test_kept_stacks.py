"""Kept test stacks (devenv.testing.kept, pytest --devenv-keep) on a real engine: a second run
starts from the first run's stack, cleaned to a new stack's state; a second run at the same time
gets a throw-away stack; changed inputs make the kept stack anew; `devenv gc` leaves it, `devenv
gc --kept` removes it when no run holds it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from devenv.db import snapshots
from devenv.stack import gc
from devenv.stack.engine import Engine
from devenv.testing import ephemeral, kept
from devenv.testing.handles import TEST_DB_PREFIX, TestStack
from tests.conftest import REPO

pytestmark = pytest.mark.engine

APP = REPO / "tests" / "fixtures" / "testing_app"
SERVICES = ["postgres", "redis", "fireworks", "mail"]


@pytest.fixture
def project(engine: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The example app in a folder of its own (so its kept stack is this test's alone), kept
    stacks' state under tmp_path; whatever kept stack the test made is removed after it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "app"
    shutil.copytree(APP, root)
    yield root
    for o in gc.find(Engine()):
        if o.root.startswith(str(tmp_path)):
            gc.remove(o)


def start(root: Path, notes: list[str] | None = None) -> TestStack:
    said = notes if notes is not None else []
    return ephemeral.start(
        root, services=SERVICES, keep=True, prefix="it-kept", on_note=said.append
    )


def count(ts: TestStack, query: str) -> int:
    with ts.connect() as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def redis_keys(ts: TestStack) -> bytes:
    with socket.create_connection((ts.stack.host, ts.stack.cfg.ports["redis"]), 5) as s:
        s.sendall(b"DBSIZE\r\n")
        return s.recv(64)


def test_the_next_run_starts_from_the_kept_stack_cleaned(project: Path) -> None:
    first = start(project)
    assert first.spec.kept and not first.kept_again
    name, ports = first.name, dict(first.stack.cfg.ports)
    # What a run may leave behind: rows in the app's database, a table, a test database kept
    # for a failed test, Redis keys, a mail, the mock's journal.
    with first.connect(autocommit=True) as conn:
        conn.execute("INSERT INTO notes (owner, body) VALUES ('left', 'by run 1')")
        conn.execute("CREATE TABLE scratch (x int)")
        conn.execute("CREATE ROLE run1_role LOGIN")  # the cluster's, not the database's
    left_db = first.create_database("gw0").name
    with socket.create_connection((first.stack.host, ports["redis"]), 5) as s:
        s.sendall(b"SET left 1\r\n")
        assert s.recv(16).startswith(b"+OK")
    with first.fireworks("run-1").client() as fw:  # the scope is never closed: a crashed run
        fw.post("/inference/v1/chat/completions", json={"model": "m", "messages": []})
    journal = httpx.get(f"http://{first.stack.host}:{ports['fireworks']}/__devenv/journal").json()
    assert journal["count"] == 1, journal
    ephemeral.stop(first)
    # stop() left it running.
    assert any(o.project == name for o in gc.find(Engine()))

    second = start(project)
    try:
        assert (second.name, second.kept_again) == (name, True)
        assert dict(second.stack.cfg.ports) == ports  # the same containers, not new ones
        assert count(second, "SELECT count(*) FROM notes") == 3  # the seeded rows, no more
        assert count(second, "SELECT count(*) FROM pg_class WHERE relname = 'scratch'") == 0
        assert count(second, "SELECT count(*) FROM pg_roles WHERE rolname = 'run1_role'") == 0
        assert count(second, "SELECT count(*) FROM pg_roles WHERE rolname = 'anon'") == 1
        dbs = count(
            second,
            f"SELECT count(*) FROM pg_database WHERE starts_with(datname, '{TEST_DB_PREFIX}')",
        )
        assert dbs == 0, f"{left_db} should have been dropped"
        assert redis_keys(second).startswith(b":0")
        journal = httpx.get(
            f"http://{first.stack.host}:{ports['fireworks']}/__devenv/journal"
        ).json()
        assert journal["count"] == 0, journal
        # A test database of this run still comes from the template.
        db = second.create_database()
        with db.connect() as conn:
            row = conn.execute("SELECT count(*) FROM notes").fetchone()
        assert row == (3,)
    finally:
        ephemeral.stop(second)


def test_a_second_run_at_once_gets_a_throw_away_stack(project: Path) -> None:
    first = start(project)
    notes: list[str] = []
    try:
        other = start(project, notes)
        try:
            assert not other.spec.kept and other.name.startswith("it-kept-")
            assert any("in use by another run" in n for n in notes), notes
        finally:
            ephemeral.stop(other)
        assert not any(o.project == other.name for o in gc.find(Engine()))
    finally:
        ephemeral.stop(first)


def change_a_migration(project: Path, first: TestStack) -> None:
    migration = next((project / "migrations").glob("*tags.sql"))
    migration.write_text(migration.read_text() + "\n-- one byte more\n")


def kill_postgres(project: Path, first: TestStack) -> None:
    subprocess.run(["docker", "kill", f"{first.name}-postgres-1"], check=True, capture_output=True)


def dirty_then_kill_redis(project: Path, first: TestStack) -> None:
    """A run wrote to the app's database, then Redis died: `up` starts Redis again, and the
    Postgres that kept running still holds the row."""
    with first.connect(autocommit=True) as conn:
        conn.execute("INSERT INTO notes (owner, body) VALUES ('left', 'by run 1')")
    subprocess.run(["docker", "kill", f"{first.name}-redis-1"], check=True, capture_output=True)


def drop_the_template(project: Path, first: TestStack) -> None:
    """Someone dropped the kept template, and the last run left a row in the app's database:
    a template made again from that database would carry the row into every test."""
    snapshots.delete(first.database_url, ephemeral.KEPT_TEMPLATE)
    with first.connect(autocommit=True) as conn:
        conn.execute("INSERT INTO notes (owner, body) VALUES ('left', 'by run 1')")


@pytest.mark.parametrize(
    ("between", "again"),
    [
        (change_a_migration, False),
        (kill_postgres, True),
        (dirty_then_kill_redis, True),
        (drop_the_template, False),
    ],
)
def test_what_cannot_be_used_as_is_is_started_again_or_made_anew(
    project: Path, between: Callable[[Path, TestStack], None], again: bool
) -> None:
    """A changed migration is another fingerprint: the stack is made anew. A killed container
    is started again by `up`, and the stack cleaned as always (a killed Postgres comes back on
    a fresh tmpfs, from the cache's entry). A stack that cannot be cleaned (its template gone)
    is made anew. Each time, the run sees the seeded rows and no more."""
    first = start(project)
    ephemeral.stop(first)
    between(project, first)
    second = start(project)
    try:
        assert second.name == first.name and second.kept_again == again
        assert count(second, "SELECT count(*) FROM notes") == 3
    finally:
        ephemeral.stop(second)


def test_gc_leaves_it_and_gc_kept_removes_it_when_unused(project: Path) -> None:
    first = start(project)
    try:
        found = {o.project: o for o in gc.find(Engine())}
        assert gc.owner_state(found[first.name].owner) == "kept"
        assert first.name not in [o.project for o in gc.collect(prefix=first.name).removed]
        assert first.name not in kept.remove_unused(dry_run=True)  # a run holds it
    finally:
        ephemeral.stop(first)
    plain = subprocess.run([sys.executable, "-m", "devenv", "gc"], capture_output=True, text=True)
    assert f"kept {first.name}: a kept test stack" in plain.stdout, plain.stdout + plain.stderr
    cli = subprocess.run(
        [sys.executable, "-m", "devenv", "gc", "--kept"],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    assert f"removed the kept test stack {first.name}" in cli.stdout
    assert not any(o.project == first.name for o in gc.find(Engine()))
    assert not Path(first.spec.root).exists()


def test_gotrue_users_are_the_seeded_ones_again(
    engine: None, gotrue: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reference project (migrations, seeds, two GoTrue users): a user signed up in one run
    is gone in the next, the seeded ones log in, through GoTrue's pool that the swap cut off."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "ref"
    root.mkdir()
    for part in ("migrations", "seeds"):
        shutil.copytree(REPO / part, root / part)
    shutil.copy(REPO / "devenv.toml", root / "devenv.toml")
    services = ["postgres", "gotrue"]

    def login(ts: TestStack, email: str, password: str) -> int:
        r = httpx.post(
            f"{ts.gotrue_url}/token?grant_type=password",
            json={"email": email, "password": password},
        )
        return r.status_code

    try:
        first = ephemeral.start(root, services=services, keep=True, prefix="it-kept")
        r = httpx.post(
            f"{first.gotrue_url}/signup",
            json={"email": "run1@example.com", "password": "run1-password"},
        )
        assert r.status_code == 200, r.text
        assert login(first, "run1@example.com", "run1-password") == 200
        ephemeral.stop(first)
        second = ephemeral.start(root, services=services, keep=True, prefix="it-kept")
        try:
            assert second.kept_again
            assert login(second, "alice@example.com", "alice-password") == 200
            assert login(second, "run1@example.com", "run1-password") == 400
        finally:
            ephemeral.stop(second)
    finally:
        for o in gc.find(Engine()):
            if o.root.startswith(str(tmp_path)):
                gc.remove(o)

"""A database per test on a real Postgres (a local cluster, no Docker): the template clone, the
drop with connections left open, names that never collide between workers."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from devenv.db import snapshots
from devenv.testing.handles import StackSpec, TestStack
from tests.support import localpg


class _Values:
    """The one thing TestStack asks its Stack for here: the running stack's values."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def env_values(self) -> dict[str, str]:
        return {"DATABASE_URL": self.dsn}


@pytest.fixture
def stack(pg: localpg.LocalCluster) -> Iterator[TestStack]:
    session = uuid.uuid4().hex[:8]
    src = f"src_{session}"
    with psycopg.connect(pg.dsn(), autocommit=True) as c:
        c.execute(f"CREATE DATABASE {src}")
    with psycopg.connect(pg.dsn(src), autocommit=True) as c:
        c.execute("CREATE TABLE notes (id int PRIMARY KEY, body text)")
        c.execute("INSERT INTO notes SELECT g, 'n' || g FROM generate_series(1, 100) g")
    snapshots.save(pg.dsn(src), f"pytest-{session}")
    spec = StackSpec(
        name="unit",
        root="/nonexistent",
        project_root="/nonexistent",
        services=("postgres",),
        ports={},
        owner="",
        session=session,
        template=f"pytest-{session}",
    )
    ts = TestStack(_Values(pg.dsn()), spec)  # type: ignore[arg-type]
    yield ts
    ts.close()
    with contextlib.suppress(snapshots.SnapshotError):  # a test may have removed it
        snapshots.delete(pg.dsn(), f"pytest-{session}")
    with psycopg.connect(pg.dsn(), autocommit=True) as c:
        c.execute(f"DROP DATABASE {src} WITH (FORCE)")


def _exists(cluster: localpg.LocalCluster, name: str) -> bool:
    with psycopg.connect(cluster.dsn(), autocommit=True) as c:
        return (
            c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            is not None
        )


def test_each_database_is_a_fresh_copy_of_the_template(
    stack: TestStack,
    pg: localpg.LocalCluster,
) -> None:
    a = stack.create_database("gw0")
    b = stack.create_database("gw0")
    assert a.name != b.name
    with a.connect(autocommit=True) as c:
        c.execute("DELETE FROM notes")
    with b.connect() as c:
        assert c.execute("SELECT count(*) FROM notes").fetchone() == (100,)
    for db in (a, b):
        stack.drop_database(db.name)
        assert not _exists(pg, db.name)
    assert "test-pw" not in repr(a)


def test_drop_succeeds_with_connections_left_open(
    stack: TestStack,
    pg: localpg.LocalCluster,
) -> None:
    db = stack.create_database("gw1")
    held: list[Any] = []
    for _ in range(3):
        conn = db.connect()
        conn.execute("SELECT * FROM notes FOR SHARE").fetchall()  # open transaction, row locks
        held.append(conn)
    stack.drop_database(db.name)
    assert not _exists(pg, db.name)
    for conn in held:
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")


def test_workers_and_threads_never_collide_on_names(stack: TestStack) -> None:
    names: list[str] = []
    lock = threading.Lock()

    def make(worker: str) -> None:
        for _ in range(3):
            db = stack.create_database(worker)
            with lock:
                names.append(db.name)

    threads = [threading.Thread(target=make, args=(w,)) for w in ("gw0", "gw1", "gw0")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(names) == len(set(names)) == 9
    for n in names:
        stack.drop_database(n)


def test_a_missing_template_is_one_clear_error(stack: TestStack) -> None:
    from devenv.errors import DatabaseError

    snapshots.delete(stack.database_url, stack.spec.template)
    with pytest.raises(DatabaseError) as err:
        stack.create_database("gw0")
    assert "cannot create test database" in err.value.message
    assert "test-pw" not in err.value.one_line()

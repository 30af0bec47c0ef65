"""Postgres killed in the middle of a seed: the next run completes and the data is whole.

Runs on its own cluster (the shared one stays up for the other tests). The server is stopped
with ``pg_ctl -m immediate``: no shutdown checkpoint, crash recovery at the next start, as when a
container is killed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devenv.db import migrations, seeds
from devenv.errors import DatabaseError
from tests.conftest import unavailable
from tests.support import localpg

ROWS = 400_000


@pytest.fixture
def cluster() -> Iterator[localpg.LocalCluster]:
    try:
        c = localpg.create(password="crash-pw")
    except Exception as exc:
        unavailable(f"cannot start a local Postgres: {exc}")
        raise
    yield c
    c.destroy()


def test_killed_server_mid_seed_then_rerun_loads_whole(
    cluster: localpg.LocalCluster, tmp_path: Path
) -> None:
    dsn = cluster.dsn()
    m = tmp_path / "migrations"
    m.mkdir()
    (m / "001.sql").write_text("create table readings (id bigint primary key, v text not null);")
    migrations.migrate(dsn, m)
    s = tmp_path / "seeds" / "big"
    s.mkdir(parents=True)
    with (s / "readings.csv").open("w") as f:
        f.write("id,v\n")
        for i in range(ROWS):
            f.write(f"{i},value number {i} with some padding to make the row longer\n")

    errors: list[BaseException] = []

    def run() -> None:
        try:
            seeds.seed(dsn, tmp_path / "seeds", ["big"])
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    # Kill only once COPY has really started writing rows.
    with psycopg.connect(dsn, autocommit=True) as watch:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            row = watch.execute("select tuples_processed from pg_stat_progress_copy").fetchone()
            if row and row[0] and row[0] > 1000:
                break
            time.sleep(0.005)
        else:
            pytest.fail("COPY never started")
    cluster.kill()
    t.join(30)
    assert len(errors) == 1 and isinstance(errors[0], DatabaseError), errors
    msg = errors[0].one_line()
    assert "lost the connection to Postgres while loading seed set 'big'" in msg
    assert "run `devenv seed` again" in msg

    cluster.start()
    with psycopg.connect(dsn, autocommit=True) as c:
        row = c.execute("select count(*) from readings").fetchone()
        assert row == (0,)  # the killed transaction left nothing half-loaded
        assert c.execute("select count(*) from devenv.seed_sets").fetchone() == (0,)
    res = seeds.seed(dsn, tmp_path / "seeds", ["big"])
    assert res.sets[0].status == "loaded" and res.sets[0].rows == ROWS
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.execute("select count(*), min(id), max(id) from readings").fetchone() == (
            ROWS,
            0,
            ROWS - 1,
        )

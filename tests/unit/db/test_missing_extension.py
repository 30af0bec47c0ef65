"""A migration that creates an extension the server lacks fails with one line naming the
extension and an image that has it (real Postgres 15 from the machine's packages, which has only
the contrib set)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devenv.db import migrations
from tests.unit.db.conftest import Db


def migrate(db: Db, tmp_path: Path, sql: str) -> migrations.MigrationError:
    m = tmp_path / "migrations"
    m.mkdir()
    (m / "20240101000000_init.sql").write_text("create table public.t (id int);\n" + sql)
    with pytest.raises(migrations.MigrationError) as exc:
        migrations.migrate(db.dsn, m)
    return exc.value


def test_vector_names_the_db_extensions_entry(db: Db, tmp_path: Path) -> None:
    err = migrate(db, tmp_path, "create extension if not exists vector with schema extensions;\n")
    path = tmp_path / "migrations" / "20240101000000_init.sql"
    assert err.message == (
        f"{path}:2: extension 'vector' is not available in the stack's Postgres image;"
        ' devenv\'s own image with "vector" in [db] extensions has it'
    )
    assert (err.hint or "").startswith(
        'add "vector" to [db] extensions in devenv.toml and run `devenv up`'
    )
    assert "rolled back and not recorded" in (err.hint or "")
    assert db.scalar("select to_regclass('public.t')") is None  # the file was rolled back


def test_a_part_of_postgis_names_postgis(db: Db, tmp_path: Path) -> None:
    err = migrate(db, tmp_path, "create extension postgis_topology;\n")
    assert err.message.endswith(
        ":2: extension 'postgis_topology' is not available in the stack's Postgres image;"
        ' devenv\'s own image with "postgis" in [db] extensions has it'
    )


def test_supabase_only_extension(db: Db, tmp_path: Path) -> None:
    err = migrate(db, tmp_path, "\n\ncreate extension pg_net;\n")
    assert err.message.endswith(
        ":4: extension 'pg_net' is not available in the stack's Postgres image;"
        " supabase/postgres:15.8.1.085 has it"
    )
    assert (err.hint or "").startswith('set [images] postgres = "supabase/postgres:15.8.1.085"')


def test_other_feature_errors_keep_the_server_line(db: Db, tmp_path: Path) -> None:
    err = migrate(
        db, tmp_path, "create table u (x int) partition by range (x) with (fillfactor=1);\n"
    )
    assert "extension" not in err.message and ":2:" in err.message

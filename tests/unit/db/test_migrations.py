"""Migrations on a real Postgres: apply, record, refuse edits and removals, roll back failures
with file and line, serialise concurrent runs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devenv.db import migrations
from devenv.db.migrations import MigrationError
from devenv.errors import DatabaseError, UsageError
from tests.unit.db.conftest import Db


def write(d: Path, name: str, sql: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    p = d / name
    p.write_text(sql)
    return p


def test_applies_in_order_each_recorded_with_checksum(db: Db, tmp_path: Path) -> None:
    d = tmp_path / "migrations"
    write(d, "002_items.sql", "insert into things (name) values ('b');")
    write(
        d,
        "001_things.sql",
        "create table things (id serial primary key, name text);\n"
        "insert into things (name) values ('a');",
    )
    write(d, "README.md", "not a migration")
    res = migrations.migrate(db.dsn, d)
    assert [a.name for a in res.applied] == ["001_things.sql", "002_items.sql"]
    assert db.rows("select name from things order by id") == [("a",), ("b",)]
    recorded = db.rows("select name, checksum from devenv.schema_migrations order by name")
    assert recorded == [
        ("001_things.sql", migrations.checksum(d / "001_things.sql")),
        ("002_items.sql", migrations.checksum(d / "002_items.sql")),
    ]
    again = migrations.migrate(db.dsn, d)
    assert again.applied == [] and again.already_applied == 2


def test_status_reports_applied_pending_changed_missing(db: Db, tmp_path: Path) -> None:
    d = tmp_path / "m"
    write(d, "001_a.sql", "create table a (x int);")
    write(d, "002_b.sql", "create table b (x int);")
    migrations.migrate(db.dsn, d)
    write(d, "001_a.sql", "create table a (x int, y int);")
    (d / "002_b.sql").unlink()
    write(d, "003_c.sql", "create table c (x int);")
    st = migrations.status(db.dsn, d)
    assert {e.name: e.state for e in st.entries} == {
        "001_a.sql": "changed",
        "002_b.sql": "missing",
        "003_c.sql": "pending",
    }
    assert st.as_dict()["counts"] == {"applied": 0, "pending": 1, "changed": 1, "missing": 1}


def test_status_of_a_fresh_database_is_all_pending(db: Db, tmp_path: Path) -> None:
    d = tmp_path / "m"
    write(d, "001_a.sql", "select 1;")
    st = migrations.status(db.dsn, d)
    assert [(e.name, e.state) for e in st.entries] == [("001_a.sql", "pending")]


def test_syntax_error_rolls_back_and_names_file_line_statement(db: Db, tmp_path: Path) -> None:
    d = tmp_path / "m"
    write(d, "001_ok.sql", "create table ok (x int);")
    bad = write(
        d,
        "002_bad.sql",
        "create table half (x int);\n\ninsert into half values (1);\n"
        "create tabel broken (\n  x int\n);\n",
    )
    with pytest.raises(MigrationError) as ei:
        migrations.migrate(db.dsn, d)
    msg = ei.value.one_line()
    assert f"{bad}:4:" in msg
    assert 'syntax error at or near "tabel"' in msg
    assert "create tabel broken" in msg
    assert "1 migration applied before it" in msg
    # rolled back: the file's earlier statements left nothing behind, and it is not recorded
    assert db.scalar("select to_regclass('half')") is None
    assert db.rows("select name from devenv.schema_migrations") == [("001_ok.sql",)]


def test_runtime_error_without_position_names_the_statement_line(db: Db, tmp_path: Path) -> None:
    d = tmp_path / "m"
    p = write(
        d,
        "001_x.sql",
        "create table t (x int check (x > 0));\n-- comment\n\n"
        "insert into t\n  values (1);\ninsert into t values (-5);\n",
    )
    with pytest.raises(MigrationError) as ei:
        migrations.migrate(db.dsn, d)
    msg = ei.value.one_line()
    assert f"{p}:6:" in msg and "violates check constraint" in msg
    assert "Failing row contains (-5)" in msg
    assert db.scalar("select to_regclass('t')") is None


def test_unterminated_string_is_reported_before_running(db: Db, tmp_path: Path) -> None:
    d = tmp_path / "m"
    p = write(d, "001_x.sql", "create table t (x int);\nselect 'oops;\n")
    with pytest.raises(MigrationError, match=rf"{p}:2: unterminated string literal"):
        migrations.migrate(db.dsn, d)
    assert db.scalar("select to_regclass('t')") is None


def test_edited_applied_migration_is_refused_and_nothing_applied(db: Db, tmp_path: Path) -> None:
    d = tmp_path / "m"
    write(d, "001_a.sql", "create table a (x int);")
    migrations.migrate(db.dsn, d)
    write(d, "001_a.sql", "create table a (x int, y int);")
    write(d, "002_b.sql", "create table b (x int);")
    with pytest.raises(MigrationError) as ei:
        migrations.migrate(db.dsn, d)
    line = ei.value.one_line()
    assert "001_a.sql was edited after it was applied" in line
    assert "nothing was applied" in line and "devenv db new" in line and "db reset" in line
    assert db.scalar("select to_regclass('b')") is None


def test_removed_applied_migration_is_refused(db: Db, tmp_path: Path) -> None:
    d = tmp_path / "m"
    write(d, "001_a.sql", "create table a (x int);")
    migrations.migrate(db.dsn, d)
    (d / "001_a.sql").unlink()
    write(d, "002_b.sql", "create table b (x int);")
    with pytest.raises(MigrationError, match=r"001_a\.sql was applied but its file is gone"):
        migrations.migrate(db.dsn, d)
    assert db.scalar("select to_regclass('b')") is None


def test_crlf_checkout_is_not_an_edit(db: Db, tmp_path: Path) -> None:
    d = tmp_path / "m"
    p = write(d, "001_a.sql", "create table a (x int);\nselect 1;\n")
    migrations.migrate(db.dsn, d)
    p.write_bytes(b"create table a (x int);\r\nselect 1;\r\n")
    assert migrations.status(db.dsn, d).ok


def test_literal_begin_commit_in_a_file_stay_inside_devenvs_transaction(
    db: Db, tmp_path: Path
) -> None:
    d = tmp_path / "m"
    write(d, "001_a.sql", "BEGIN;\ncreate table a (x int);\ncreate tabel b ();\nCOMMIT;\n")
    with pytest.raises(MigrationError):
        migrations.migrate(db.dsn, d)
    assert db.scalar("select to_regclass('a')") is None


def test_two_migrate_runs_at_once_apply_each_file_once(db: Db, tmp_path: Path) -> None:
    d = tmp_path / "m"
    write(
        d,
        "001_slow.sql",
        "create table runs (n int);\nselect pg_sleep(0.5);\ninsert into runs values (1);",
    )
    write(d, "002_more.sql", "insert into runs values (2);")
    results: list[object] = []

    def run() -> None:
        try:
            results.append(migrations.migrate(db.dsn, d))
        except Exception as exc:  # surfaced by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(isinstance(r, migrations.MigrateResult) for r in results), results
    applied = sorted(len(r.applied) for r in results)  # type: ignore[attr-defined]
    assert applied == [0, 2]
    assert any(r.waited_for_lock for r in results)  # type: ignore[attr-defined]
    assert db.rows("select n from runs order by n") == [(1,), (2,)]


def test_lock_wait_times_out_with_the_holder_named(db: Db, tmp_path: Path) -> None:
    from devenv.db import conn as dbconn

    d = tmp_path / "m"
    write(d, "001_a.sql", "create table a (x int);")
    with db.connect() as holder:
        holder.execute("select pg_advisory_lock(%s)", (dbconn.LOCK_KEY,))
        pid = holder.info.backend_pid
        with pytest.raises(DatabaseError, match=rf"server pid {pid}\) still holds the lock"):
            migrations.migrate(db.dsn, d, lock_timeout=0.3)
    assert db.scalar("select to_regclass('a')") is None


def test_missing_folder_means_no_migrations(db: Db, tmp_path: Path) -> None:
    res = migrations.migrate(db.dsn, tmp_path / "nope")
    assert res.applied == [] and res.already_applied == 0


def test_not_utf8_file_is_named(db: Db, tmp_path: Path) -> None:
    d = tmp_path / "m"
    d.mkdir()
    (d / "001_a.sql").write_bytes(b"select '\xff';")
    with pytest.raises(MigrationError, match=r"001_a\.sql: not UTF-8"):
        migrations.migrate(db.dsn, d)


def test_cannot_connect_is_one_line(tmp_path: Path) -> None:
    from tests.support.localpg import free_port

    dsn = f"postgresql://postgres:x@127.0.0.1:{free_port()}/postgres?connect_timeout=2"
    with pytest.raises(DatabaseError) as ei:
        migrations.migrate(dsn, tmp_path)
    line = ei.value.one_line()
    assert "cannot connect to Postgres at 127.0.0.1:" in line and "devenv up" in line
    assert ":x@" not in line


def test_new_migration_names_and_orders(tmp_path: Path) -> None:
    d = tmp_path / "m"
    t = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    p1 = migrations.new_migration(d, "Add Favourites", now=t)
    p2 = migrations.new_migration(d, "second", now=t)
    assert p1.name == "20300102030405_add_favourites.sql"
    assert p2.name == "20300102030406_second.sql"
    assert p1.read_text().startswith("-- add_favourites")
    with pytest.raises(UsageError, match="invalid migration name"):
        migrations.new_migration(d, "drop;table")

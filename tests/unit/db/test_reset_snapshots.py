"""`db reset` and snapshots on a real Postgres."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from devenv.db import migrations, reset, seeds, snapshots
from devenv.db.plan import DataPlan
from devenv.db.snapshots import SnapshotError
from devenv.errors import DatabaseError, UsageError
from tests.unit.db.conftest import Db


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    m = tmp_path / "migrations"
    m.mkdir()
    (m / "001_items.sql").write_text(
        "create extension if not exists pgcrypto;\n"
        "create table items (id int primary key, name text not null,"
        " token text default encode(gen_random_bytes(4), 'hex'));\n"
        "create function item_count() returns bigint language sql as $$"
        " select count(*) from items $$;\n"
    )
    (m / "002_extra.sql").write_text("create schema reports;\ncreate table reports.r (x int);\n")
    s = tmp_path / "seeds"
    (s / "default").mkdir(parents=True)
    (s / "default" / "items.csv").write_text("id,name\n1,one\n2,two\n")
    (s / "demo").mkdir()
    (s / "demo" / "items.csv").write_text("id,name\n100,hundred\n")
    return m, s


def test_reset_rebuilds_from_files_and_times_phases(db: Db, project: tuple[Path, Path]) -> None:
    m, s = project
    migrations.migrate(db.dsn, m)
    seeds.seed(db.dsn, s, ["default", "demo"])
    with db.connect() as c:
        c.execute("insert into items values (3, 'by hand')")
        c.execute("create table scratch (x int)")
        c.execute("create schema playground")
        c.execute("grant usage on schema public to anon")
    res = reset.reset(DataPlan.at(m, s), db.dsn, ["default"])
    assert set(res.phases) == {"read files", "connect", "clean", "migrate", "seed", "keep"}
    assert res.template == "kept"
    assert res.clean.dropped_schemas == ["devenv", "extensions", "playground", "public", "reports"]
    assert isinstance(res.migrate, migrations.MigrateResult) and len(res.migrate.applied) == 2
    assert res.seed is not None and res.seed.sets[0].status == "loaded"
    assert db.rows("select id from items order by id") == [(1,), (2,)]
    assert db.scalar("select to_regclass('scratch')") is None
    assert db.scalar("select to_regnamespace('playground')") is None
    assert db.scalar("select item_count()") == 2
    assert db.rows("select name from devenv.seed_sets") == [("default",)]
    # public keeps its owner and grants; auth (GoTrue's) is untouched
    assert db.scalar("select has_schema_privilege('anon', 'public', 'USAGE')") is True
    assert db.scalar("select nspowner::regrole::text from pg_namespace where nspname='public'") == (
        "pg_database_owner"
    )
    assert db.scalar("select to_regnamespace('auth')") is not None


def _dirty(db: Db) -> None:
    with db.connect() as c:
        c.execute("insert into items values (3, 'by hand')")
        c.execute("create table scratch (x int)")
        c.execute("create schema playground")


def _assert_post_seed(db: Db) -> None:
    assert db.rows("select id, name from items order by id") == [(1, "one"), (2, "two")]
    assert db.scalar("select to_regclass('scratch')") is None
    assert db.scalar("select to_regnamespace('playground')") is None
    assert db.scalar("select item_count()") == 2
    assert db.rows("select name from devenv.seed_sets") == [("default",)]
    assert db.scalar("select count(*) from devenv.schema_migrations") == 2


def test_second_reset_restores_the_kept_state(db: Db, project: tuple[Path, Path]) -> None:
    m, s = project
    first = reset.reset(DataPlan.at(m, s), db.dsn, ["default"])
    assert first.template == "kept"
    _dirty(db)
    with db.connect() as c:
        c.execute(f"alter database {db.name} set work_mem = '7MB'")
    other = psycopg.connect(db.dsn, autocommit=True)  # a client connected to the database
    second = reset.reset(DataPlan.at(m, s), db.dsn, ["default"])
    assert second.template == "restored"
    assert set(second.phases) == {"read files", "restore"}
    assert second.summary == {"migrations": 2, "sets": {"default": {"rows": 2, "users": 0}}}
    _assert_post_seed(db)
    assert db.scalar("show work_mem") == "7MB"  # database settings carried over, as a restore
    with pytest.raises(psycopg.OperationalError):
        other.execute("select 1")
    other.close()
    # the kept state is the reset's own: no snapshot shows it
    assert snapshots.list_snapshots(db.dsn) == []
    # and it stays usable: a third reset restores it again
    _dirty(db)
    assert reset.reset(DataPlan.at(m, s), db.dsn, ["default"]).template == "restored"
    _assert_post_seed(db)


def test_one_changed_migration_byte_means_a_full_reset(db: Db, project: tuple[Path, Path]) -> None:
    m, s = project
    reset.reset(DataPlan.at(m, s), db.dsn, ["default"])
    f = m / "002_extra.sql"
    f.write_text(f.read_text().replace("(x int)", "(y int)"))
    res = reset.reset(DataPlan.at(m, s), db.dsn, ["default"])
    assert res.template == "kept" and isinstance(res.migrate, migrations.MigrateResult)
    assert len(res.migrate.applied) == 2
    assert db.rows("select column_name from information_schema.columns where table_name = 'r'") == [
        ("y",)
    ]
    # a changed seed file, other sets, and --full each replay too
    (s / "default" / "items.csv").write_text("id,name\n1,one\n")
    assert reset.reset(DataPlan.at(m, s), db.dsn, ["default"]).template == "kept"
    assert db.rows("select id from items") == [(1,)]
    assert reset.reset(DataPlan.at(m, s), db.dsn, ["default", "demo"]).template == "kept"
    assert reset.reset(DataPlan.at(m, s), db.dsn, ["default", "demo"]).template == "restored"
    assert db.rows("select id from items order by id") == [(1,), (100,)]
    full = reset.reset(DataPlan.at(m, s), db.dsn, ["default", "demo"], full=True)
    assert full.template == "" and full.seed is not None


def test_a_kept_state_without_its_mark_is_never_used(db: Db, project: tuple[Path, Path]) -> None:
    m, s = project
    reset.reset(DataPlan.at(m, s), db.dsn, ["default"])
    kept = reset.TEMPLATE_PREFIX + db.name
    with psycopg.connect(snapshots.maintenance_dsn(db.dsn), autocommit=True) as c:
        # what an interrupted save leaves: the clone, with no comment yet
        c.execute(f'comment on database "{kept}" is null')
    _dirty(db)
    res = reset.reset(DataPlan.at(m, s), db.dsn, ["default"])
    assert res.template == "kept" and isinstance(res.migrate, migrations.MigrateResult)
    assert len(res.migrate.applied) == 2
    _assert_post_seed(db)
    assert reset.reset(DataPlan.at(m, s), db.dsn, ["default"]).template == "restored"


def test_reset_terminates_sessions_holding_locks(db: Db, project: tuple[Path, Path]) -> None:
    m, s = project
    migrations.migrate(db.dsn, m)
    holder = psycopg.connect(db.dsn)
    holder.execute("lock table items in access exclusive mode")  # an open transaction
    res = reset.reset(DataPlan.at(m, s), db.dsn)
    assert res.clean.sessions_terminated == 1
    with pytest.raises(psycopg.OperationalError):
        holder.execute("select 1")
    holder.close()


def test_reset_refuses_a_remote_database(project: tuple[Path, Path]) -> None:
    m, s = project
    with pytest.raises(UsageError, match="not a local database") as ei:
        reset.reset(DataPlan.at(m, s), "postgresql://postgres:pw@db.example.com:5432/postgres")
    assert ":pw@" not in ei.value.one_line()


def test_broken_seed_file_stops_reset_before_anything_is_dropped(
    db: Db, project: tuple[Path, Path]
) -> None:
    m, s = project
    migrations.migrate(db.dsn, m)
    seeds.seed(db.dsn, s, ["default"])
    (s / "default" / "bad.json").write_text("[{")
    with pytest.raises(DatabaseError, match=r"bad\.json:1: not valid JSON"):
        reset.reset(DataPlan.at(m, s), db.dsn)
    assert db.scalar("select count(*) from items") == 2


def test_reset_with_failing_migration_names_it(db: Db, project: tuple[Path, Path]) -> None:
    m, s = project
    (m / "003_bad.sql").write_text("select 1;\nselect nope from items;\n")
    with pytest.raises(migrations.MigrationError, match=r"003_bad\.sql:2: column \"nope\""):
        reset.reset(DataPlan.at(m, s), db.dsn)


def test_snapshot_save_list_restore_delete(db: Db, project: tuple[Path, Path]) -> None:
    m, s = project
    migrations.migrate(db.dsn, m)
    seeds.seed(db.dsn, s, ["default"])
    with db.connect() as c:
        c.execute(f"grant create on database {db.name} to supabase_auth_admin")
        c.execute(f"alter database {db.name} set work_mem = '7MB'")
    saved = snapshots.save(db.dsn, "seeded")
    assert saved.snapshot.source == db.name and saved.snapshot.size_bytes > 1_000_000
    listed = {x.name: x for x in snapshots.list_snapshots(db.dsn)}
    assert "seeded" in listed and listed["seeded"].source == db.name

    with db.connect() as c:
        c.execute("delete from items")
        c.execute("create table later (x int)")
    other = psycopg.connect(db.dsn, autocommit=True)  # a client still connected to the target
    res = snapshots.restore(db.dsn, "seeded")
    assert res.terminated >= 1
    with pytest.raises(psycopg.OperationalError):
        other.execute("select 1")
    other.close()
    assert db.rows("select id from items order by id") == [(1,), (2,)]
    assert db.scalar("select to_regclass('later')") is None
    # database-level grants and settings of the target survive the swap
    assert (
        db.scalar(f"select has_database_privilege('supabase_auth_admin', '{db.name}', 'CREATE')")
        is True
    )
    assert db.scalar("show work_mem") == "7MB"
    # the snapshot itself is intact and can be restored again
    assert snapshots.restore(db.dsn, "seeded").snapshot.name == "seeded"
    snapshots.delete(db.dsn, "seeded")
    assert "seeded" not in {x.name for x in snapshots.list_snapshots(db.dsn)}


def test_snapshot_bad_input(db: Db) -> None:
    with pytest.raises(UsageError, match="invalid snapshot name"):
        snapshots.save(db.dsn, "Bad Name")
    with pytest.raises(SnapshotError, match="no snapshot 'ghost'"):
        snapshots.restore(db.dsn, "ghost")
    with pytest.raises(SnapshotError, match="no snapshot 'ghost'"):
        snapshots.delete(db.dsn, "ghost")
    snapshots.save(db.dsn, "twice")
    try:
        with pytest.raises(SnapshotError, match="snapshot 'twice' already exists"):
            snapshots.save(db.dsn, "twice")
    finally:
        snapshots.delete(db.dsn, "twice")
    with pytest.raises(UsageError, match="unknown clone strategy"):
        snapshots.save(db.dsn, "x", strategy="RSYNC")


@pytest.mark.parametrize("strategy", ["FILE_COPY", "WAL_LOG"])
def test_both_clone_strategies_work(db: Db, strategy: str) -> None:
    with db.connect() as c:
        c.execute("create table t as select g from generate_series(1, 1000) g")
    snapshots.save(db.dsn, f"s-{strategy.lower()}", strategy=strategy)
    with db.connect() as c:
        c.execute("drop table t")
    snapshots.restore(db.dsn, f"s-{strategy.lower()}", strategy=strategy)
    assert db.scalar("select count(*) from t") == 1000
    snapshots.delete(db.dsn, f"s-{strategy.lower()}")


def test_save_while_a_client_keeps_reconnecting(db: Db) -> None:
    stop = threading.Event()

    def pester() -> None:
        while not stop.is_set():
            try:
                with psycopg.connect(db.dsn, connect_timeout=2) as c:
                    c.execute("select pg_sleep(0.05)")
            except psycopg.Error:
                pass

    t = threading.Thread(target=pester)
    t.start()
    try:
        snapshots.save(db.dsn, "busy")
    finally:
        stop.set()
        t.join(10)
    snapshots.delete(db.dsn, "busy")


def test_prepare_migrates_then_seeds_and_only_warns_on_changed_sets(
    db: Db, project: tuple[Path, Path]
) -> None:
    from devenv.db import plan

    m, s = project
    first = plan.run(plan.DataPlan.at(m, s), db.dsn, ["default", "absent"])
    assert isinstance(first.migrate, migrations.MigrateResult)
    assert len(first.migrate.applied) == 2
    assert first.seed is not None and first.seed.sets[0].status == "loaded"
    (s / "default" / "items.csv").write_text("id,name\n1,one\n")
    again = plan.run(plan.DataPlan.at(m, s), db.dsn, ["default"])
    assert isinstance(again.migrate, migrations.MigrateResult)
    assert again.migrate.applied == []
    assert again.warnings() == [
        "seed set 'default' changed since it was loaded; reload it with"
        " `devenv seed default --force` or `devenv db reset`"
    ]
    assert db.scalar("select count(*) from items") == 2

"""The initialised-cluster cache (devenv.stack.cluster_cache, compose/postgres/devenv-cluster.sh):
a first start of Postgres copies a kept cluster instead of running initdb, with this stack's own
passwords; a damaged entry is removed and never used; a volume with data is never overwritten.

The cache volume is shared by every stack on the engine (tests run in parallel): each test here
works on an entry of its own, named through ``Stack.cluster_keys``, which is tried first."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from devenv.stack.handle import Stack
from tests.integration.conftest import Project, stack_services

pytestmark = pytest.mark.engine


def up(p: Project, key: str) -> Stack:
    st = p.stack
    st.cluster_keys = (key,)
    st.up(timeout=120)
    return st


def postgres_logs(st: Stack) -> str:
    return st.runner.run(["logs", "--no-log-prefix", "postgres"]).stdout


def in_cache(st: Stack, *argv: str) -> subprocess.CompletedProcess[str]:
    return st.runner.run(["exec", "-T", "postgres", *argv], check=False)


def test_a_first_start_copies_the_kept_cluster_with_its_own_passwords(
    project_factory: Any,
) -> None:
    services = [s for s in stack_services() if s in ("postgres", "gotrue")]
    p: Project = project_factory(services)
    key = f"test-{uuid.uuid4().hex}"
    first = up(p, key)
    assert first.cluster_from in ("", first.runner.env["DEVENV_CLUSTER_KEY"])
    assert first.keep_cluster(key)
    assert (
        in_cache(first, "test", "-f", f"/var/lib/devenv/cache/{key}/.devenv-manifest").returncode
        == 0
    )
    old_password = first.require_keys().postgres_password

    # New keys, no volume: the next first start copies the entry and takes the new password.
    (p.root / ".devenv" / "secrets.json").unlink()
    p.cli("down", "--volumes", check=True)
    second = up(p, key)
    assert second.cluster_from == key
    assert "the cluster came from devenv's cache" in postgres_logs(second)
    assert "initdb.d: running" not in postgres_logs(second)
    keys = second.require_keys()
    assert keys.postgres_password != old_password
    with psycopg.connect(second.database_url()) as c:
        roles = c.execute(
            "select rolname from pg_roles where rolname in ('anon', 'authenticated',"
            " 'service_role', 'authenticator', 'supabase_auth_admin') order by 1"
        ).fetchall()
        assert len(roles) == 5  # the bootstrap's roles came with the copy
        c.execute("create table kept (x int)")
        c.execute("insert into kept values (1)")
    stale = second.database_url().replace(keys.postgres_password, old_password)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(stale).close()
    if "gotrue" in services:
        # GoTrue logs in as supabase_auth_admin with the new password, and its migrations came
        # with the copy: a sign-up works at once.
        r = httpx.post(
            f"{second.urls()['gotrue']}/signup",
            json={"email": "cached@example.com", "password": "a-password-1"},
            headers={"apikey": keys.anon_key},
            timeout=10,
        )
        assert r.status_code == 200, r.text

    # A volume with data is never overwritten: a later start keeps the table.
    p.cli("down", check=True)
    third = up(p, key)
    assert third.cluster_from is None
    with psycopg.connect(third.database_url()) as c:
        assert c.execute("select x from kept").fetchall() == [(1,)]
    in_cache(third, "rm", "-rf", f"/var/lib/devenv/cache/{key}")


def test_a_damaged_entry_is_removed_and_never_used(project_factory: Any) -> None:
    p: Project = project_factory(["postgres"])
    key = f"test-{uuid.uuid4().hex}"
    st = up(p, key)
    assert st.keep_cluster(key)
    entry = f"/var/lib/devenv/cache/{key}"
    # A file lost from the entry (a disk filling up, a hand in the volume).
    assert in_cache(st, "rm", f"{entry}/global/pg_control").returncode == 0
    p.cli("down", "--volumes", check=True)
    again = up(p, key)
    assert again.cluster_from != key
    said = postgres_logs(again)
    assert f"the cached cluster {key[:12]} is damaged or of another version: removed" in said
    assert in_cache(again, "test", "-e", entry).returncode == 1
    with psycopg.connect(again.database_url()) as c:
        assert c.execute("select 1").fetchone() == (1,)


def test_gc_keeps_the_cache_while_a_stack_has_it_mounted(project_factory: Any) -> None:
    p: Project = project_factory(["postgres"])
    assert p.cli("up", "--no-seed").returncode == 0
    for args in (("gc", "--caches"), ("gc", "--caches", "--dry-run")):
        out = p.cli(*args, check=True).stdout
        assert "kept the cluster cache devenv-cluster-cache: in use by" in out, out
    # `down --volumes` removes the project's volumes, not the engine-wide cache.
    p.cli("down", "--volumes", check=True)
    names = p.stack.engine.client.volumes.list(filters={"name": "devenv-cluster-cache"})
    assert [v.name for v in names] == ["devenv-cluster-cache"]


def test_a_test_stack_starts_from_the_kept_data_step_until_one_migration_byte_changes(
    engine: None, tmp_path: Path
) -> None:
    from devenv.testing import ephemeral

    marker = uuid.uuid4().hex  # this test's own entries: no other stack has these inputs
    (tmp_path / "migrations").mkdir()
    migration = tmp_path / "migrations" / "001_items.sql"
    migration.write_text(f"-- {marker}\ncreate table items (id int primary key, name text);\n")
    (tmp_path / "seeds" / "default").mkdir(parents=True)
    (tmp_path / "seeds" / "default" / "items.csv").write_text("id,name\n1,one\n2,two\n")
    toml = '[project]\nname = "cachetest"\nservices = ["postgres"]\n'
    (tmp_path / "devenv.toml").write_text(toml)

    def session() -> tuple[str, str, list[tuple[Any, ...]]]:
        ts = ephemeral.start(tmp_path)
        try:
            st = ts.stack
            assert st.cluster_keys, "the test stack names its data entry"
            # A test's database, cloned from the template the entry keeps (or this session made).
            assert ts.spec.template == "pytest-kept"
            with ts.create_database().connect() as c:
                rows = c.execute("select * from items order by id").fetchall()
                rows += c.execute(
                    "select data_type from information_schema.columns"
                    " where table_name = 'items' and column_name = 'name'"
                ).fetchall()
            return st.cluster_keys[0], st.cluster_from or "", rows
        finally:
            ephemeral.stop(ts)

    key_a, from_a, rows_a = session()
    assert from_a != key_a  # a first session: the data step ran, then its cluster was kept
    key_b, from_b, rows_b = session()
    assert key_b == key_a and from_b == key_a  # started from it
    assert rows_a == rows_b == [(1, "one"), (2, "two"), ("text",)]
    # One byte of one migration: another key, so a full data step on the bare cluster.
    migration.write_text(migration.read_text().replace("name text", "name varchar"))
    key_c, from_c, rows_c = session()
    assert key_c != key_a and from_c != key_a and from_c != key_c
    assert rows_c == [(1, "one"), (2, "two"), ("character varying",)]


def test_with_the_cache_off_a_first_start_runs_initdb(project_factory: Any) -> None:
    import os

    from devenv import environ

    p: Project = project_factory(["postgres"])
    st = Stack.load(p.root, env=environ.read({**os.environ, "DEVENV_CLUSTER_CACHE": "off"}))
    st.up(timeout=120)
    assert st.runner.env["DEVENV_CLUSTER_KEY"] == "" and st.cluster_from is None
    said = postgres_logs(st)
    assert "initdb.d: running" in said and "devenv:" not in said

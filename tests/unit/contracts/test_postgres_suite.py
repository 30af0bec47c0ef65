"""The postgres suite against a real Postgres (a local cluster, no Docker), bootstrapped with the
stack's own bootstrap.sh: what passes on a healthy schema, and each failure named precisely."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devenv.contracts.core import FAIL, PASS, SKIP, Outcome
from devenv.contracts.suites.postgres import PostgresSuite
from devenv.contracts.target import Target
from tests.conftest import REPO, unavailable
from tests.support import localpg

ALICE = "0a11ce00-0000-4000-8000-000000000001"
BOB = "0b0b0000-0000-4000-8000-000000000002"

# A stand-in for what GoTrue's migrations make (auth.users, auth.uid()), enough for RLS policies.
SCHEMA = f"""
CREATE TABLE auth.users (id uuid PRIMARY KEY);
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$;
GRANT EXECUTE ON FUNCTION auth.uid() TO authenticated;
INSERT INTO auth.users VALUES ('{ALICE}'), ('{BOB}');
CREATE TABLE public.notes (
  id serial PRIMARY KEY, user_id uuid NOT NULL REFERENCES auth.users (id), body text);
ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.notes FOR SELECT TO authenticated USING (auth.uid() = user_id);
GRANT SELECT ON public.notes TO authenticated;
INSERT INTO public.notes (user_id, body) VALUES
  ('{ALICE}', 'a1'), ('{ALICE}', 'a2'), ('{BOB}', 'b1');
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[localpg.LocalCluster]:
    try:
        c = localpg.create(password="contracts-pw")
    except Exception as exc:
        unavailable(f"cannot start a local Postgres: {exc}")
        raise
    try:
        localpg.run_bootstrap(c, REPO / "compose" / "postgres" / "bootstrap.sh")
        with psycopg.connect(c.dsn(), autocommit=True) as conn:
            conn.execute(SCHEMA)
            conn.execute("CREATE DATABASE contracts_tpl TEMPLATE postgres")
        yield c
    finally:
        c.destroy()


@pytest.fixture
def dsn(cluster: localpg.LocalCluster) -> str:
    name = f"c_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE contracts_tpl")
    return cluster.dsn(name)


def run(dsn: str, migrations: Path | None = None) -> dict[str, Outcome]:
    target = Target(database_url=dsn, migrations_dir=migrations)
    return {o.check: o for o in PostgresSuite(target).run()}


def test_healthy_database_passes(dsn: str) -> None:
    out = run(dsn)
    for name in ("reachable", "roles_and_schemas", "rls_enabled", "authenticated_sees_own_rows"):
        assert out[name].status == PASS, out[name]
    assert out["migrations_applied"].status == SKIP


def test_table_without_rls_is_named(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.leaky (id int)")
    out = run(dsn)["rls_enabled"]
    assert out.status == FAIL
    assert "RLS off on public.leaky" in out.message


def test_policy_that_shows_other_users_rows_fails(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE POLICY everyone ON public.notes FOR SELECT TO authenticated USING (true)"
        )
    out = run(dsn)["authenticated_sees_own_rows"]
    assert out.status == FAIL
    assert "public.notes" in out.message and "rows of other users" in out.message


def test_missing_role_is_named(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ALTER ROLE service_role NOBYPASSRLS")
    try:
        out = run(dsn)["roles_and_schemas"]
        assert out.status == FAIL and "BYPASSRLS" in out.message
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ALTER ROLE service_role BYPASSRLS")


def test_unapplied_migrations_are_listed(dsn: str, tmp_path: Path) -> None:
    (tmp_path / "20240101000000_one.sql").write_text("create table public.x (id int);\n")
    out = run(dsn, tmp_path)["migrations_applied"]
    assert out.status == FAIL
    assert "20240101000000_one.sql pending" in out.message


def test_server_down_fails_every_check_without_stopping(cluster: localpg.LocalCluster) -> None:
    port = localpg.free_port()
    out = run(f"postgresql://postgres:contracts-pw@127.0.0.1:{port}/postgres")
    assert out["reachable"].status == FAIL
    assert "OperationalError" in out["reachable"].message
    assert "contracts-pw" not in " ".join(o.message for o in out.values())
    assert len(out) == len(PostgresSuite.check_names())

"""compose/postgres/bootstrap.sh on Supabase's role layout (supabase/postgres), no Docker: a real
Postgres 15 whose initdb superuser is `supabase_admin`, laid out by the test stand-in's init
scripts (tests/fixtures/supabase_postgres, written from Supabase's own), then bootstrapped.

The bootstrap must recognise the layout by what is in the database (a superuser
`supabase_admin`), create nothing twice, change no attribute the image set, and give the login
roles devenv and GoTrue use the stack's password, also when it is run again with a new one."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devenv.db import conn as dbconn
from devenv.db import reset, snapshots
from devenv.errors import DatabaseError
from tests.conftest import REPO, unavailable
from tests.support import localpg
from tests.unit.db.conftest import BOOTSTRAP

LAYOUT = REPO / "tests" / "fixtures" / "supabase_postgres"

#: What the bootstrap must leave exactly as Supabase's scripts made it.
_ROLES_QUERY = (
    "SELECT rolname, oid, rolsuper, rolinherit, rolcanlogin, rolbypassrls, rolcreaterole,"
    " rolcreatedb, rolreplication,"
    " (SELECT setconfig FROM pg_db_role_setting s WHERE s.setrole = r.oid AND s.setdatabase = 0)"
    " FROM pg_roles r WHERE rolname NOT LIKE 'pg\\_%' ORDER BY rolname"
)
_SCHEMAS_QUERY = (
    "SELECT nspname, oid, nspowner::regrole::text, nspacl::text FROM pg_namespace"
    " WHERE nspname NOT LIKE 'pg\\_%' ORDER BY nspname"
)


def _env(cluster: localpg.LocalCluster, password: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PGHOST": "127.0.0.1",
        "PGPORT": str(cluster.port),
        "POSTGRES_PASSWORD": password,
        "POSTGRES_DB": "postgres",
        **extra,
    }


def _sh(script: Path, env: dict[str, str]) -> None:
    proc = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{script.name} failed: {proc.stderr.strip()[-800:]}"


def _rows(dsn: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as c:
        return c.execute(query).fetchall()


@pytest.fixture
def supabase_pg() -> Iterator[localpg.LocalCluster]:
    password = "pw-" + secrets.token_hex(8)
    try:
        cluster = localpg.create(password=password, superuser="supabase_admin")
    except Exception as exc:
        unavailable(f"cannot start a local Postgres: {exc}")
        raise
    try:
        # Supabase's migrate.sh, as its image runs it at initdb (psql reads PGPASSWORD there).
        _sh(LAYOUT / "migrate.sh", _env(cluster, password, PGPASSWORD=password))
        yield cluster
    finally:
        cluster.destroy()


def test_bootstrap_recognises_the_layout_and_creates_nothing_twice(
    supabase_pg: localpg.LocalCluster,
) -> None:
    cluster = supabase_pg
    admin = cluster.dsn(user="supabase_admin")
    roles_before = _rows(admin, _ROLES_QUERY)
    schemas_before = _rows(admin, _SCHEMAS_QUERY)
    assert ("postgres", False) in {(r[0], r[2]) for r in roles_before}  # hosted attributes

    # As the image's entrypoint runs it: POSTGRES_USER is the image's (supabase_admin).
    env = _env(cluster, cluster.password, POSTGRES_USER="supabase_admin")
    _sh(BOOTSTRAP, {**env, "PGPASSWORD": cluster.password})

    # Same roles (same oids: none dropped and made again), same attributes and settings —
    # the API roles keep the INHERIT Supabase gave them, `postgres` stays no superuser.
    assert _rows(admin, _ROLES_QUERY) == roles_before
    assert _rows(admin, _SCHEMAS_QUERY) == schemas_before
    # The image gives supabase_auth_admin and authenticator no password; now they have the
    # stack's, as `supabase start` sets it: GoTrue and PostgREST can log in.
    for role in ("supabase_auth_admin", "authenticator", "postgres", "supabase_admin"):
        with psycopg.connect(cluster.dsn(user=role)) as c:
            assert c.execute("SELECT current_user").fetchone() == (role,)


def test_a_rerun_with_new_keys_gives_every_login_role_the_new_password(
    supabase_pg: localpg.LocalCluster,
) -> None:
    cluster = supabase_pg
    old = cluster.password
    env = _env(cluster, old, POSTGRES_USER="supabase_admin", PGPASSWORD=old)
    _sh(BOOTSTRAP, env)
    new = "pw-" + secrets.token_hex(8)
    # `devenv up` with new keys on an old volume: the container carries the new password, the
    # database still has the old one.
    _sh(BOOTSTRAP, {**env, "POSTGRES_PASSWORD": new})
    cluster.password = new
    for role in ("supabase_auth_admin", "authenticator", "postgres", "supabase_admin"):
        with psycopg.connect(cluster.dsn(user=role)) as c:
            assert c.execute("SELECT current_user").fetchone() == (role,)


def test_migrations_as_postgres_get_supabase_default_privileges(
    supabase_pg: localpg.LocalCluster,
) -> None:
    """Migrations run as `postgres`, as `supabase start` runs them: not a superuser here, yet
    a table it makes without GRANT lines is usable by `authenticated` (the image's default
    privileges), and RLS applies to `postgres` only where the image says (BYPASSRLS)."""
    cluster = supabase_pg
    _sh(BOOTSTRAP, _env(cluster, cluster.password, POSTGRES_USER="supabase_admin"))
    with psycopg.connect(cluster.dsn(user="postgres"), autocommit=True) as c:
        row = c.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        assert row == (False,)
        c.execute("CREATE TABLE public.notes (id serial PRIMARY KEY, body text)")
        c.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions")
        c.execute("SET ROLE authenticated")
        c.execute("INSERT INTO public.notes (body) VALUES ('x')")
        assert c.execute("SELECT count(*) FROM public.notes").fetchone() == (1,)


def test_python_recognises_the_layout_by_its_superuser(supabase_pg: localpg.LocalCluster) -> None:
    """Snapshots switch to the image's superuser; a stock server's DSN is left as it is."""
    cluster = supabase_pg
    _sh(BOOTSTRAP, _env(cluster, cluster.password, POSTGRES_USER="supabase_admin"))
    dsn = cluster.dsn(user="postgres")
    with psycopg.connect(dsn) as c:
        assert dbconn.supabase_image(c)
    switched = dbconn.superuser_dsn(dsn)
    assert psycopg.conninfo.conninfo_to_dict(switched)["user"] == "supabase_admin"
    # The image's superuser asks for no switch.
    assert dbconn.superuser_dsn(cluster.dsn(user="supabase_admin")).endswith("connect_timeout=10")
    with psycopg.connect(switched) as c:
        assert c.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()


def test_stock_postgres_is_not_taken_for_the_image(pg: localpg.LocalCluster) -> None:
    dsn = pg.dsn()
    with psycopg.connect(dsn) as c:
        assert not dbconn.supabase_image(c)
    assert dbconn.superuser_dsn(dsn) == dsn


def test_snapshot_and_restore_as_postgres_on_the_layout(supabase_pg: localpg.LocalCluster) -> None:
    """`postgres` alone may not clone a database a superuser's session is on; devenv uses the
    image's superuser for it, and the restored database keeps `postgres` as its owner."""
    cluster = supabase_pg
    _sh(BOOTSTRAP, _env(cluster, cluster.password, POSTGRES_USER="supabase_admin"))
    dsn = cluster.dsn(user="postgres")
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE TABLE public.kept (v int)")
        c.execute("INSERT INTO public.kept VALUES (1)")
    with psycopg.connect(cluster.dsn(user="supabase_admin")):
        # A superuser's session on the database, as pg_cron's launcher is on the image.
        snapshots.save(dsn, "one")
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("INSERT INTO public.kept VALUES (2)")
    snapshots.restore(dsn, "one")
    with psycopg.connect(dsn) as c:
        assert c.execute("SELECT count(*) FROM public.kept").fetchone() == (1,)
        owner = c.execute(
            "SELECT datdba::regrole::text FROM pg_database WHERE datname = 'postgres'"
        ).fetchone()
        assert owner == ("postgres",)


def test_reset_refuses_the_layout_with_one_line(supabase_pg: localpg.LocalCluster) -> None:
    cluster = supabase_pg
    _sh(BOOTSTRAP, _env(cluster, cluster.password, POSTGRES_USER="supabase_admin"))
    with psycopg.connect(cluster.dsn(user="postgres"), autocommit=True) as c:
        c.execute("CREATE TABLE public.kept (v int)")
    with pytest.raises(DatabaseError) as err:
        reset.clean(cluster.dsn(user="postgres"))
    assert "Supabase's Postgres image" in err.value.one_line()
    assert "devenv down --volumes" in err.value.one_line()
    with psycopg.connect(cluster.dsn(user="postgres")) as c:  # nothing was dropped
        assert c.execute("SELECT to_regclass('public.kept') IS NOT NULL").fetchone() == (True,)

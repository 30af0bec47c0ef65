"""compose/postgres/bootstrap.sh on a real Postgres 15: the grants, role attributes and schemas an
app sees on hosted Supabase, and no secret on any process's command line while it runs."""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from devenv.db.plan import DataPlan
from tests.conftest import unavailable
from tests.support import localpg
from tests.unit.db.conftest import BOOTSTRAP, Db


def test_tables_made_without_grants_are_usable_by_the_api_roles(db: Db) -> None:
    """Hosted Supabase's default privileges: a migration with no GRANT lines works for
    `authenticated` (RLS, not grants, decides); a sequence behind a serial key too."""
    with db.connect() as c:
        c.execute("CREATE TABLE public.notes (id serial PRIMARY KEY, body text)")
        c.execute("CREATE FUNCTION public.twice(int) RETURNS int LANGUAGE sql AS 'SELECT $1 * 2'")
        for role in ("anon", "authenticated", "service_role"):
            c.execute(f"SET ROLE {role}")
            c.execute("INSERT INTO public.notes (body) VALUES (%s)", (role,))
            assert c.execute("SELECT public.twice(21)").fetchone() == (42,)
            c.execute("RESET ROLE")
        assert c.execute("SELECT count(*) FROM public.notes").fetchone() == (3,)


def test_default_privileges_are_only_for_public(db: Db) -> None:
    """As on Supabase: a table in another schema gets no grants even where the schema is usable."""
    with db.connect() as c:
        c.execute("CREATE SCHEMA private")
        c.execute("GRANT USAGE ON SCHEMA private TO authenticated")
        c.execute("CREATE TABLE private.secrets (v text)")
        c.execute("SET ROLE authenticated")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            c.execute("SELECT * FROM private.secrets")


def test_roles_have_hosted_supabase_attributes(db: Db) -> None:
    rows = dict(
        (str(r[0]), r[1:])
        for r in db.rows(
            "SELECT rolname, rolcanlogin, rolinherit, rolbypassrls FROM pg_roles"
            " WHERE rolname IN ('anon', 'authenticated', 'service_role', 'authenticator')"
        )
    )
    assert rows == {
        "anon": (False, False, False),
        "authenticated": (False, False, False),
        "service_role": (False, False, True),
        "authenticator": (True, False, False),
    }
    timeouts = dict(
        (str(r[0]), r[1])
        for r in db.rows(
            "SELECT r.rolname, s.setconfig FROM pg_db_role_setting s"
            " JOIN pg_roles r ON r.oid = s.setrole WHERE s.setdatabase = 0"
            " AND r.rolname IN ('anon', 'authenticated', 'authenticator')"
        )
    )
    assert timeouts == {
        "anon": ["statement_timeout=3s"],
        "authenticated": ["statement_timeout=8s"],
        "authenticator": ["statement_timeout=8s"],
    }
    members = {
        str(r[0])
        for r in db.rows(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
            " JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = 'authenticator'"
        )
    }
    assert members == {"anon", "authenticated", "service_role"}


def test_extensions_schema_takes_extensions(db: Db) -> None:
    """Supabase migrations install extensions `with schema extensions`."""
    with db.connect() as c:
        c.execute('CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA extensions')
        c.execute("SET ROLE authenticated")
        row = c.execute("SELECT extensions.uuid_generate_v4() IS NOT NULL").fetchone()
        assert row == (True,)


# ------------------------------------------------------------------------------------------
# Issue 17.5: the password never on a command line.


@pytest.fixture
def own_cluster() -> Iterator[localpg.LocalCluster]:
    """A cluster with a password no other process on the machine can be carrying."""
    password = "pw-" + secrets.token_hex(16)
    try:
        cluster = localpg.create(password=password)
    except Exception as exc:
        unavailable(f"cannot start a local Postgres: {exc}")
        raise
    try:
        yield cluster
    finally:
        cluster.destroy()


def _bootstrap_env(cluster: localpg.LocalCluster) -> dict[str, str]:
    # The client authenticates with PGPASSFILE-less PGPASSWORD: environment, not argv.
    return {
        **os.environ,
        "PGHOST": "127.0.0.1",
        "PGPORT": str(cluster.port),
        "PGPASSWORD": cluster.password,
        "POSTGRES_PASSWORD": cluster.password,
        "POSTGRES_USER": "postgres",
    }


def test_no_secret_on_any_command_line_while_the_bootstrap_runs(
    own_cluster: localpg.LocalCluster,
) -> None:
    """Every process's command line is sampled while the bootstrap's psql runs. To be sure the
    sampling sees psql, the test holds a lock the bootstrap needs (a row lock on the
    authenticator role) until psql has been seen, then lets it finish."""
    secret = own_cluster.password
    localpg.run_bootstrap(own_cluster, BOOTSTRAP)  # roles exist: the next run blocks on the lock
    seen: list[list[str]] = []
    leaks: list[str] = []
    stop = threading.Event()

    def sample(parent: int) -> None:
        while not stop.is_set():
            for p in psutil.process_iter(["pid", "ppid", "cmdline"]):
                cmd = p.info.get("cmdline") or []
                if any(secret in part for part in cmd):
                    leaks.append(f"pid {p.info['pid']}: {cmd[0] if cmd else '?'}")
                if p.info.get("ppid") == parent and cmd and os.path.basename(cmd[0]) == "psql":
                    seen.append(cmd)

    with psycopg.connect(own_cluster.dsn()) as holder:
        holder.execute("ALTER ROLE authenticator CONNECTION LIMIT -1")  # row lock, held
        proc = subprocess.Popen(
            ["sh", str(BOOTSTRAP)],
            env=_bootstrap_env(own_cluster),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        sampler = threading.Thread(target=sample, args=(proc.pid,), daemon=True)
        sampler.start()
        deadline = time.monotonic() + 20
        while not seen and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        time.sleep(0.2)  # a few more full samples while psql waits on the lock
        holder.rollback()
    out, err = proc.communicate(timeout=30)
    stop.set()
    sampler.join(5)
    assert proc.returncode == 0, err
    assert seen, "the sampler never saw the bootstrap's psql: the test proved nothing"
    assert not leaks, f"the password is on a command line: {leaks}"
    assert secret not in out + err
    # And it did its job: the password it set (from the environment) is the one that logs in.
    with psycopg.connect(own_cluster.dsn(user="authenticator")) as c:
        assert c.execute("SELECT current_user").fetchone() == ("authenticator",)


def test_bootstrap_without_a_password_fails_with_one_line(
    own_cluster: localpg.LocalCluster,
) -> None:
    env = _bootstrap_env(own_cluster)
    del env["POSTGRES_PASSWORD"]
    proc = subprocess.run(["sh", str(BOOTSTRAP)], env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "POSTGRES_PASSWORD must be set" in proc.stderr


def test_reset_keeps_default_privileges_and_the_extensions_schema(db: Db, tmp_path: Path) -> None:
    """`devenv db reset` empties public and extensions; they come back as the bootstrap made them,
    so a table a migration creates after the reset is still usable by `authenticated`."""
    from devenv.db import reset

    m = tmp_path / "migrations"
    m.mkdir()
    (m / "20240101000000_notes.sql").write_text(
        'create extension if not exists "uuid-ossp" with schema extensions;\n'
        "create table public.notes (id uuid primary key default extensions.uuid_generate_v4());\n"
    )
    s = tmp_path / "seeds"
    (s / "default").mkdir(parents=True)
    reset.reset(DataPlan.at(m, s), db.dsn, [])
    res = reset.reset(DataPlan.at(m, s), db.dsn, [], full=True)
    assert "extensions" in res.clean.dropped_schemas
    with db.connect() as c:
        c.execute("SET ROLE authenticated")
        c.execute("INSERT INTO public.notes DEFAULT VALUES")
        assert c.execute("SELECT count(*) FROM public.notes").fetchone() == (1,)
    # the same from the state the first reset kept
    assert reset.reset(DataPlan.at(m, s), db.dsn, []).template == "restored"
    with db.connect() as c:
        c.execute("SET ROLE authenticated")
        c.execute("INSERT INTO public.notes DEFAULT VALUES")
        assert c.execute("SELECT count(*) FROM public.notes").fetchone() == (1,)

"""`devenv init` then the real stack, through the CLI as a new user runs it: in an empty
directory (init -> up -> env init -> env check -> seed --force -> status), and over a Supabase
CLI project (up with no devenv.toml, then init). Real Postgres, GoTrue, Kong, Redis and the
Fireworks mock; row-level security checked the way docs/data.md tells a backend to do it."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from devenv import config
from devenv import services as svcs
from devenv.stack import ports
from tests.integration.conftest import Project, destroy

pytestmark = [pytest.mark.engine, pytest.mark.gotrue]

FIXTURE = Path(__file__).parent.parent / "unit" / "init" / "supabase_project"
ALICE = "0a11ce00-0000-4000-8000-000000000001"


@pytest.fixture
def fresh(engine: None, gotrue: None, tmp_path: Path) -> Iterator[Project]:
    root = tmp_path / f"init-{uuid.uuid4().hex[:8]}"
    root.mkdir()
    p = Project(root, root.name)
    yield p
    destroy(p)


def free_ports(text: str, mapping: dict[str, str]) -> str:
    """The same file with each `key = <port>` line given a port free now (the defaults may be
    taken by another stack on this machine)."""
    used: set[int] = set()
    for key in mapping:
        port = ports.free_port()
        while port in used:
            port = ports.free_port()
        used.add(port)
        text, n = re.subn(rf"(?m)^{key} = \d+$", f"{key} = {port}", text)
        assert n == 1, key
    return text


def as_user(dsn: str, user_id: str, sql: str) -> list[tuple[Any, ...]]:
    """What the backend runs for a signed-in user: the role and JWT claims set per transaction,
    so row-level security applies although DATABASE_URL is the superuser."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute("select set_config('role', 'authenticated', true)")
        conn.execute(
            "select set_config('request.jwt.claims', %s, true)",
            (json.dumps({"sub": user_id, "role": "authenticated"}),),
        )
        return conn.execute(sql).fetchall()


def test_init_in_an_empty_directory_then_up_env_and_seed(fresh: Project) -> None:
    p = fresh
    init = p.cli("init")
    assert init.returncode == 0, init.stderr
    toml = p.root / "devenv.toml"
    toml.write_text(free_ports(toml.read_text(), {s: "" for s in svcs.default_ports()}))

    up = p.cli("up", timeout=600)
    assert up.returncode == 0, up.stdout + up.stderr
    assert re.search(r"migrations: applied 1 \(\d{14}_init\.sql\)", up.stdout), up.stdout
    assert "seed default: loaded 3 rows, 2 auth users" in up.stdout

    env_init = p.cli("env", "init")
    assert env_init.returncode == 0, env_init.stderr
    check = p.cli("env", "check")
    assert check.returncode == 0, check.stdout + check.stderr

    # Seeded users log in through the gateway; RLS shows each only their own notes.
    st = p.stack
    values = st.env_values()
    r = httpx.post(
        f"{values['SUPABASE_URL']}/auth/v1/token",
        params={"grant_type": "password"},
        json={"email": "alice@example.com", "password": "alice-password"},
        headers={"apikey": values["SUPABASE_ANON_KEY"]},
        timeout=20,
    )
    assert r.status_code == 200, r.text
    dsn = values["DATABASE_URL"]
    assert as_user(dsn, ALICE, "select count(*) from public.notes") == [(2,)]
    with psycopg.connect(dsn) as conn:  # the superuser sees every row
        assert conn.execute("select count(*) from public.notes").fetchone() == (3,)
    # `authenticator` (same password): nothing without the role switch, RLS with it.
    auth_dsn = dsn.replace("//postgres:", "//authenticator:", 1)
    with psycopg.connect(auth_dsn) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select count(*) from public.notes")
    assert as_user(auth_dsn, ALICE, "select count(*) from public.notes") == [(2,)]

    # seed --force twice leaves the rows one load leaves, and says what it replaced.
    for _ in range(2):
        forced = p.cli("seed", "--force")
        assert forced.returncode == 0, forced.stderr
        assert "reloaded  default: 1 file; rows: 3 replaced, 3 inserted, 0 skipped; 2 users" in (
            forced.stdout
        )
    with psycopg.connect(dsn) as conn:
        assert conn.execute("select count(*) from public.notes").fetchone() == (3,)

    # status -o json reports each service's startup time, as `up` printed it.
    status = p.cli("status", "-o", "json")
    assert status.returncode == 0, status.stderr
    services = json.loads(status.stdout)["services"]
    assert {s["service"] for s in services} >= {"postgres", "gotrue", "kong", "redis", "fireworks"}
    assert all(isinstance(s["startup_s"], float) for s in services), services

    # A second init changes nothing.
    again = p.cli("init")
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_a_supabase_cli_project_runs_with_no_file_moved(fresh: Project) -> None:
    p = fresh
    shutil.copytree(FIXTURE, p.root, dirs_exist_ok=True)
    cfg_path = p.root / "supabase" / "config.toml"
    text = cfg_path.read_text().replace('project_id = "Acme Shop"', f'project_id = "{p.name}"')
    for old in ("55321", "55322", "55324"):  # api, db, inbucket: ports free now
        text = text.replace(f"port = {old}", f"port = {ports.free_port()}")
    cfg_path.write_text(text)
    cfg = config.load(p.root)
    assert cfg.source == cfg_path and cfg.name == p.name
    # GoTrue, Redis and the Fireworks mock have no Supabase setting: devenv's default ports.
    # Where another stack on this machine holds one, do what a user would: `devenv init`
    # (adoption written to devenv.toml) and give that service a free port.
    no_setting = [s for s in cfg.services if s in ("gotrue", "redis", "fireworks")]
    busy = [s for s in no_setting if not ports.is_free(cfg.ports[s])]
    if busy:
        r = p.cli("init")
        assert r.returncode == 0, r.stderr
        toml = p.root / "devenv.toml"
        toml.write_text(free_ports(toml.read_text(), dict.fromkeys(busy, "")))

    up = p.cli("up", timeout=600)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "migrations: applied 2 (20240101000000_todos.sql, 20240102000000_tags.sql)" in (
        up.stdout
    )
    st = p.stack
    with psycopg.connect(st.database_url()) as conn:
        assert conn.execute("select count(*) from public.todos").fetchone() == (2,)
        assert conn.execute("select count(*) from public.tags").fetchone() == (2,)
    # Signup is off, as the Supabase config says: GoTrue refuses it through the gateway.
    values = st.env_values()
    signup = httpx.post(
        f"{values['SUPABASE_URL']}/auth/v1/signup",
        json={"email": "new@example.com", "password": "new-password-1"},
        headers={"apikey": values["SUPABASE_ANON_KEY"]},
        timeout=20,
    )
    assert signup.status_code in (400, 403, 422) and "disabled" in signup.text.lower(), signup.text
    if not busy:
        r = p.cli("init")
        assert r.returncode == 0 and "taken: api.port" in r.stdout, r.stdout + r.stderr
    assert not (p.root / "migrations").exists() and not (p.root / "seeds").exists()
    assert "nothing to do" in p.cli("init").stdout

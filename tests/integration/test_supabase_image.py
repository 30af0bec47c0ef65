"""`[images] postgres` set to Supabase's own Postgres image: `devenv up` on its role layout.

This machine reaches no registry, so the real supabase/postgres cannot be pulled; the test builds a
stand-in FROM the stack's Postgres image (tests/fixtures/supabase_postgres: Supabase's initdb
superuser, pg_hba.conf and init scripts, written from theirs) and names it in devenv.toml, as a
user names Supabase's. One stack for the module: up healthy, the image's roles and attributes
left as it made them, a migration and a seed run as `postgres` (not a superuser there), other
roles through the pooler, snapshots, `db reset`'s refusal, a seeded user signing in through
GoTrue, and new keys on the old volume reaching every login role."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from devenv import config
from tests.conftest import REPO, run_cli, unavailable
from tests.integration.conftest import Project, gotrue_available, make_project

pytestmark = pytest.mark.engine

STANDIN = REPO / "tests" / "fixtures" / "supabase_postgres"
ADA = "0ada0000-0000-4000-8000-00000000000a"

MIGRATION = """\
create table public.tags (id int primary key, name text not null);
alter table public.tags enable row level security;
create policy tags_read on public.tags for select using (true);
create table public.notes (
    id bigint generated always as identity primary key,
    owner uuid not null default auth.uid() references auth.users (id) on delete cascade,
    body text not null
);
alter table public.notes enable row level security;
create policy own_notes on public.notes for all to authenticated
    using (owner = auth.uid()) with check (owner = auth.uid());
"""
USERS = f"""\
- email: ada@example.com
  password: ada-password-1
  id: {ADA}
"""


def _standin_image() -> str:
    """Build the stand-in once per content and base image; the tag says what it is."""
    base = config.load(Path(os.environ.get("TMPDIR", "/tmp"))).image("postgres")
    h = hashlib.sha256(base.encode())
    for f in sorted(p for p in STANDIN.rglob("*") if p.is_file()):
        h.update(f.relative_to(STANDIN).as_posix().encode() + b"\0" + f.read_bytes())
    tag = f"devenv-test/supabase-postgres-standin:{h.hexdigest()[:12]}"
    docker = shutil.which("docker")
    if docker is None:
        unavailable("no docker CLI to build the Supabase Postgres stand-in")
        raise AssertionError("unreachable")
    have = subprocess.run([docker, "image", "inspect", tag], capture_output=True, check=False)
    if have.returncode != 0:
        built = subprocess.run(
            [docker, "build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-t", tag, str(STANDIN)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert built.returncode == 0, f"stand-in build failed: {built.stderr[-1500:]}"
    return tag


@pytest.fixture(scope="module")
def sb(engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    image = _standin_image()
    services = ["postgres", "pooler"]
    if gotrue_available() is None:
        services += ["gotrue", "kong"]
    p = make_project(tmp_path_factory.mktemp("sb"), services, images=f'postgres = "{image}"')
    # Its own name (make_project's is random too), so it is plain whose containers these are.
    name = f"sb-{uuid.uuid4().hex[:8]}"
    toml = p.root / "devenv.toml"
    toml.write_text(toml.read_text().replace(f'name = "{p.name}"', f'name = "{name}"'))
    p = Project(p.root, name)
    (p.root / "migrations").mkdir()
    (p.root / "migrations" / "001_notes.sql").write_text(MIGRATION)
    seeds = p.root / "seeds" / "default"
    seeds.mkdir(parents=True)
    (seeds / "10_tags.csv").write_text("id,name\n1,red\n2,blue\n")
    if "gotrue" in services:
        (seeds / "auth.users.yaml").write_text(USERS)
        (seeds / "20_notes.csv").write_text(f"owner,body\n{ADA},ada's first note\n")
    # The image devenv.toml names, not the harness's override (which would win over it).
    saved = os.environ.pop("DEVENV_IMAGE_POSTGRES", None)
    try:
        up = run_cli("up", cwd=p.root, timeout=300)
        assert up.returncode == 0, f"up failed:\n{up.stdout}\n{up.stderr}"
        yield p
    finally:
        run_cli("down", "--volumes", cwd=p.root, timeout=120)
        if saved is not None:
            os.environ["DEVENV_IMAGE_POSTGRES"] = saved


def _secrets(p: Project) -> dict[str, str]:
    data: dict[str, str] = json.loads((p.root / ".devenv" / "secrets.json").read_text())
    return data


def _dsn(p: Project, user: str) -> str:
    pw = _secrets(p)["postgres_password"]
    return f"postgresql://{user}:{pw}@127.0.0.1:{p.cfg.ports['postgres']}/postgres"


def _rows(p: Project, sql: str, user: str = "postgres") -> list[tuple[Any, ...]]:
    with psycopg.connect(_dsn(p, user), autocommit=True) as c:
        return c.execute(sql).fetchall()


def test_up_runs_the_image_devenv_toml_names_and_it_is_healthy(sb: Project) -> None:
    from devenv.stack import engine as eng

    pg = next(c for c in sb.containers() if c.service == "postgres")
    assert pg.state == "running"
    tags = eng.Engine().client.containers.get(pg.id).image.tags
    assert any(t.startswith("devenv-test/supabase-postgres-standin:") for t in tags), tags
    # Healthy as devenv's probe says (the engine's own healthcheck ticks every 5 s, off the
    # critical path, and may not have run yet).
    status = json.loads(run_cli("status", "-o", "json", cwd=sb.root, check=True).stdout)
    health = {s["service"]: s["health"] for s in status["services"]}
    assert health["postgres"] == "healthy", status["services"]


def test_the_image_roles_are_kept_as_it_made_them(sb: Project) -> None:
    """Made once, by the image (its migrate.sh fails on a role that exists, so a bootstrap
    running first would have failed initdb), with hosted Supabase's attributes: the stock
    bootstrap would have made the API roles NOINHERIT and needs a superuser `postgres`."""
    rows = {
        r[0]: r[1:]
        for r in _rows(
            sb,
            "SELECT rolname, rolsuper, rolinherit, rolcanlogin, rolbypassrls FROM pg_roles"
            " WHERE rolname IN ('supabase_admin', 'postgres', 'anon', 'authenticated',"
            " 'service_role', 'authenticator', 'supabase_auth_admin')",
        )
    }
    assert rows == {
        "supabase_admin": (True, True, True, True),
        "postgres": (False, True, True, True),
        "anon": (False, True, False, False),
        "authenticated": (False, True, False, False),
        "service_role": (False, True, False, True),
        "authenticator": (False, False, True, False),
        "supabase_auth_admin": (False, False, True, False),
    }
    owner = _rows(sb, "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'auth'")
    assert owner == [("supabase_admin",)]
    # The logs of the first start: the image's init scripts and the bootstrap, no error.
    logs = subprocess.run(
        ["docker", "logs", next(c.id for c in sb.containers() if c.service == "postgres")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "already exists" not in logs.stdout + logs.stderr
    # The bootstrap gave the roles the image leaves without a password the stack's.
    for role in ("supabase_auth_admin", "authenticator", "supabase_admin"):
        assert _rows(sb, "SELECT current_user", user=role) == [(role,)]


def test_postgres_contract_suite_passes_on_the_image(sb: Project) -> None:
    proc = run_cli("test", "contracts", "postgres", "--json", cwd=sb.root)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_migration_and_seed_run_as_postgres(sb: Project) -> None:
    assert _rows(sb, "SELECT count(*) FROM public.tags") == [(2,)]
    owners = _rows(
        sb,
        "SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = 'notes'"
        " UNION ALL SELECT tableowner FROM pg_tables WHERE schemaname = 'devenv'"
        " AND tablename = 'schema_migrations'",
    )
    assert owners == [("postgres",), ("postgres",)]
    applied = _rows(sb, "SELECT name FROM devenv.schema_migrations")
    assert [r[0] for r in applied] == ["001_notes.sql"]


def test_other_roles_log_in_through_the_pooler(sb: Project) -> None:
    """The pooler looks passwords up as `postgres`, which reads them on the image through
    pg_read_all_data (no superuser): PostgREST's `authenticator` gets through."""
    pw = _secrets(sb)["postgres_password"]
    dsn = f"postgresql://authenticator:{pw}@127.0.0.1:{sb.cfg.ports['pooler']}/postgres"
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as c:
        assert c.execute("SELECT current_user").fetchone() == ("authenticator",)


def test_snapshot_save_and_restore_and_reset_says_how(sb: Project) -> None:
    """Snapshots need a superuser while the image's background workers sit on the database;
    an in-place reset cannot tell the image's schemas from the app's and says what to do."""
    assert run_cli("db", "snapshot", "save", "before", cwd=sb.root, check=True).returncode == 0
    _rows(sb, "INSERT INTO public.tags VALUES (3, 'green') RETURNING id")
    run_cli("db", "snapshot", "restore", "before", cwd=sb.root, check=True)
    assert _rows(sb, "SELECT count(*) FROM public.tags") == [(2,)]
    run_cli("db", "snapshot", "delete", "before", cwd=sb.root, check=True)
    proc = run_cli("db", "reset", cwd=sb.root)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Supabase's Postgres image" in lines[0], proc.stderr
    assert "devenv down --volumes" in lines[0]
    assert _rows(sb, "SELECT count(*) FROM public.tags") == [(2,)]


@pytest.mark.gotrue
def test_a_seeded_user_signs_in_and_sees_only_their_rows(gotrue: None, sb: Project) -> None:
    keys = _secrets(sb)
    base = f"http://127.0.0.1:{sb.cfg.ports['kong']}/auth/v1"
    with httpx.Client(timeout=10) as http:
        r = http.post(
            f"{base}/token?grant_type=password",
            headers={"apikey": keys["anon_key"]},
            json={"email": "ada@example.com", "password": "ada-password-1"},
        )
    assert r.status_code == 200, r.text
    assert r.json()["user"]["id"] == ADA
    # RLS as PostgREST applies it: `authenticated`, with the token's subject.
    with psycopg.connect(_dsn(sb, "authenticator"), autocommit=True) as c:
        c.execute("SET ROLE authenticated")
        assert c.execute("SELECT count(*) FROM public.notes").fetchone() == (0,)
        c.execute("SELECT set_config('request.jwt.claim.sub', %s, false)", (ADA,))
        assert c.execute("SELECT body FROM public.notes").fetchall() == [("ada's first note",)]


def test_new_keys_on_the_old_volume_reach_every_login_role(sb: Project) -> None:
    """`.devenv/` lost while the data volume stays: `up` makes new keys and re-runs the
    bootstrap, over loopback (the image's socket wants supabase_admin's old password)."""
    old = _secrets(sb)["postgres_password"]
    assert run_cli("down", cwd=sb.root).returncode == 0
    shutil.rmtree(sb.root / ".devenv")
    up = run_cli("up", cwd=sb.root, timeout=300)
    assert up.returncode == 0, f"{up.stdout}\n{up.stderr}"
    assert _secrets(sb)["postgres_password"] != old
    for role in ("postgres", "supabase_admin", "supabase_auth_admin", "authenticator"):
        assert _rows(sb, "SELECT current_user", user=role) == [(role,)]
    assert _rows(sb, "SELECT count(*) FROM public.tags") == [(2,)]
    if "gotrue" in sb.cfg.services:
        with httpx.Client(timeout=10) as http:
            r = http.post(
                f"http://127.0.0.1:{sb.cfg.ports['kong']}/auth/v1/token?grant_type=password",
                headers={"apikey": _secrets(sb)["anon_key"]},
                json={"email": "ada@example.com", "password": "ada-password-1"},
            )
        assert r.status_code == 200, r.text

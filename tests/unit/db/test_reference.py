"""The repository's own reference project (migrations/ and seeds/).

Its favourites, history and profiles reference auth.users and auth.uid(), which exist only after
GoTrue's own migrations: the full run is marked ``gotrue``. The catalogue part needs no auth and
runs here on the real Postgres."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import jwt
import psycopg
import pytest

from devenv.db import migrations, reset, seed_files, seeds
from devenv.db.plan import DataPlan
from tests.conftest import REPO
from tests.unit.db.conftest import Db, GoTrue

MIGRATIONS = REPO / "migrations"
SEEDS = REPO / "seeds"
ALICE = "0a11ce00-0000-4000-8000-000000000001"
BOB = "0b0b0000-0000-4000-8000-000000000002"


def test_generator_reproduces_the_committed_catalogue(tmp_path: Path) -> None:
    out = tmp_path / "machines.csv"
    subprocess.run(
        [sys.executable, str(SEEDS / "generate.py"), "--out", str(out)], check=True, timeout=60
    )
    assert out.read_bytes() == (SEEDS / "default" / "10_machines.csv").read_bytes()


def test_reference_sets_are_well_formed() -> None:
    default = seed_files.read_set(SEEDS, "default")
    demo = seed_files.read_set(SEEDS, "demo")
    assert [u.email for u in default.users] == ["alice@example.com", "bob@example.com"]
    assert [u.id for u in default.users] == [ALICE, BOB]
    assert len(demo.users) == 8
    assert {u.email for u in demo.users}.isdisjoint(u.email for u in default.users)
    assert [f.path.name for f in default.files] == [
        "10_machines.csv",
        "20_favourites.csv",
        "30_history.sql",
    ]
    assert seed_files.available_sets(SEEDS) == ["default", "demo"]


def test_catalogue_migration_and_seeds_apply_without_auth(db: Db, tmp_path: Path) -> None:
    m = tmp_path / "migrations"
    m.mkdir()
    shutil.copy(MIGRATIONS / "20240101000000_machines.sql", m)
    s = tmp_path / "seeds"
    (s / "default").mkdir(parents=True)
    (s / "demo").mkdir()
    shutil.copy(SEEDS / "default" / "10_machines.csv", s / "default")
    shutil.copy(SEEDS / "demo" / "10_machines.sql", s / "demo")
    migrations.migrate(db.dsn, m)
    res = seeds.seed(db.dsn, s, ["default", "demo"])
    assert [x.rows for x in res.sets] == [3000, 0]
    assert db.scalar("select count(*) from machines") == 53000
    # the demo rows took ids after the seeded ones (the identity sequence was moved on)
    assert db.scalar("select min(id) from machines where sku like 'DEMO-%'") == 3001
    assert db.scalar("select has_table_privilege('anon', 'machines', 'SELECT')") is True
    # As on hosted Supabase, anon holds INSERT by the schema's default privileges: RLS (no insert
    # policy) is what keeps the catalogue read-only for it.
    assert db.scalar("select has_table_privilege('anon', 'machines', 'INSERT')") is True
    with db.connect() as c, pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level"):
        c.execute("set role anon")
        c.execute(
            "insert into machines (sku, name, category, manufacturer, price_cents)"
            " values ('X-1', 'x', 'saw', 'y', 1)"
        )


# ------------------------------------------------------------------------------------------
# The whole reference project, with the real GoTrue.


def claims_of(g: GoTrue, email: str, password: str) -> dict[str, object]:
    r = httpx.post(
        f"{g.url}/token",
        params={"grant_type": "password"},
        json={"email": email, "password": password},
        headers={"apikey": g.anon_key},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    return dict(jwt.decode(token, g.jwt_secret, algorithms=["HS256"], audience="authenticated"))


@pytest.mark.gotrue
def test_reference_project_end_to_end(auth_db: Db, gotrue: GoTrue) -> None:
    from devenv.db.auth import AuthTarget

    auth = AuthTarget(gotrue.url, gotrue.service_role_key)
    migrations.migrate(auth_db.dsn, MIGRATIONS)
    res = seeds.seed(auth_db.dsn, SEEDS, ["default", "demo"], auth=auth)
    assert [x.status for x in res.sets] == ["loaded", "loaded"]
    assert auth_db.scalar("select count(*) from profiles") == 10  # the trigger on auth.users

    claims = claims_of(gotrue, "alice@example.com", "alice-password")
    assert claims["sub"] == ALICE and claims["role"] == "authenticated"
    with auth_db.connect() as c, c.transaction():
        # As PostgREST does: the `authenticated` role with the request's JWT claims.
        c.execute("set local role authenticated")
        c.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        own = c.execute("select user_id::text, machine_id from favourites order by 2").fetchall()
        assert own == [(ALICE, 1), (ALICE, 42), (ALICE, 1500)]
        assert c.execute("select count(*) from view_history").fetchone() == (120,)
        c.execute("insert into favourites (machine_id) values (5)")  # owner = auth.uid()
        with pytest.raises(Exception, match="row-level security"), c.transaction():
            c.execute(f"insert into favourites (user_id, machine_id) values ('{BOB}', 6)")
    assert auth_db.scalar("select count(*) from favourites where user_id = %s", BOB) == 2

    again = reset.reset(DataPlan.at(MIGRATIONS, SEEDS), auth_db.dsn, ["default"], auth=auth)
    assert again.clean.auth_users_removed == 10
    assert auth_db.scalar("select count(*) from auth.users") == 2
    assert auth_db.scalar("select count(*) from machines") == 3000
    assert claims_of(gotrue, "bob@example.com", "bob-password")["sub"] == BOB

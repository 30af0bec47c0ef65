"""Seeded auth users against the real GoTrue (run as a local process on the test cluster).

Marked ``gotrue``: where the GoTrue binary cannot be had, these skip with the harness's reason."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from devenv.db import migrations, seeds
from devenv.db.auth import AuthSeedError, AuthTarget, DuplicateEmail
from devenv.db.plan import DataPlan
from devenv.db.seeds import SeedError
from tests.unit.db.conftest import Db, GoTrue

pytestmark = pytest.mark.gotrue

ALICE = "5f0c1d7e-0000-4000-8000-00000000a11c"


def login(g: GoTrue, email: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{g.url}/token",
        params={"grant_type": "password"},
        json={"email": email, "password": password},
        headers={"apikey": g.anon_key},
        timeout=10,
    )


def signup(g: GoTrue, email: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{g.url}/signup",
        json={"email": email, "password": password},
        headers={"apikey": g.anon_key},
        timeout=10,
    )


def refresh(g: GoTrue, token: str) -> httpx.Response:
    return httpx.post(
        f"{g.url}/token",
        params={"grant_type": "refresh_token"},
        json={"refresh_token": token},
        headers={"apikey": g.anon_key},
        timeout=10,
    )


def target(g: GoTrue) -> AuthTarget:
    return AuthTarget(g.url, g.service_role_key)


def user_exists(g: GoTrue, uid: str) -> bool:
    r = httpx.get(
        f"{g.url}/admin/users/{uid}",
        headers={"Authorization": f"Bearer {g.service_role_key}", "apikey": g.service_role_key},
        timeout=10,
    )
    return r.status_code == 200


def make(root: Path, name: str, files: dict[str, str]) -> None:
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    for k, v in files.items():
        (d / k).write_text(v)


@pytest.fixture
def app(auth_db: Db, tmp_path: Path) -> Db:
    m = tmp_path / "migrations"
    m.mkdir()
    (m / "001.sql").write_text(
        "create table notes (id int primary key,"
        " owner uuid not null references auth.users (id) on delete cascade, body text);"
    )
    migrations.migrate(auth_db.dsn, m)
    return auth_db


USERS = (
    f"- email: alice@example.com\n  password: alice-pass-1\n  id: {ALICE}\n"
    "  user_metadata: {name: Alice}\n  app_metadata: {plan: pro}\n"
    "- email: bob@example.com\n  password: bob-pass-1\n"
)


def test_seeded_users_log_in_and_rows_reference_them(
    app: Db, gotrue: GoTrue, tmp_path: Path
) -> None:
    root = tmp_path / "seeds"
    make(
        root,
        "default",
        {
            "auth.users.yaml": USERS,
            "notes.csv": f"id,owner,body\n1,{ALICE},hello\n",
            "notes_bob.sql": "insert into notes select 2, id, 'bob' from auth.users"
            " where email = 'bob@example.com';",
        },
    )
    res = seeds.seed(app.dsn, root, ["default"], auth=target(gotrue)).sets[0]
    assert (res.status, res.users) == ("loaded", 2)
    r = login(gotrue, "alice@example.com", "alice-pass-1")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"]["id"] == ALICE
    assert body["user"]["user_metadata"]["name"] == "Alice"
    assert body["user"]["app_metadata"]["plan"] == "pro"
    assert login(gotrue, "bob@example.com", "bob-pass-1").status_code == 200
    assert login(gotrue, "bob@example.com", "wrong-pass").status_code == 400
    assert app.scalar("select count(*) from notes") == 2
    again = seeds.seed(app.dsn, root, ["default"], auth=target(gotrue)).sets[0]
    assert again.status == "unchanged"


def test_force_updates_users_in_place(app: Db, gotrue: GoTrue, tmp_path: Path) -> None:
    root = tmp_path / "seeds"
    make(root, "s", {"auth.users.yaml": USERS})
    seeds.seed(app.dsn, root, ["s"], auth=target(gotrue))
    make(root, "s", {"auth.users.yaml": USERS.replace("alice-pass-1", "alice-pass-2")})
    assert seeds.seed(app.dsn, root, ["s"], auth=target(gotrue)).sets[0].status == "changed"
    res = seeds.seed(app.dsn, root, ["s"], auth=target(gotrue), force=True).sets[0]
    assert res.status == "reloaded"
    assert login(gotrue, "alice@example.com", "alice-pass-1").status_code == 400
    r = login(gotrue, "alice@example.com", "alice-pass-2")
    assert r.status_code == 200 and r.json()["user"]["id"] == ALICE


def test_duplicate_email_across_sets_is_refused_and_rolled_back(
    app: Db, gotrue: GoTrue, tmp_path: Path
) -> None:
    root = tmp_path / "seeds"
    make(root, "a", {"auth.users.yaml": USERS})
    make(
        root,
        "b",
        {
            "auth.users.yaml": "- email: carol@example.com\n  password: carol-pass\n"
            "- email: bob@example.com\n  password: other-pass\n",
        },
    )
    seeds.seed(app.dsn, root, ["a"], auth=target(gotrue))
    with pytest.raises(DuplicateEmail) as ei:
        seeds.seed(app.dsn, root, ["b"], auth=target(gotrue))
    line = ei.value.one_line()
    assert "user 2" in line and "bob@example.com already exists in GoTrue" in line
    assert "other-pass" not in line
    # carol, created before the clash, was removed again: the set loads whole or not at all
    assert login(gotrue, "carol@example.com", "carol-pass").status_code == 400
    assert app.scalar("select count(*) from devenv.seed_users where seed_set = 'b'") == 0


def test_failing_rows_remove_the_users_created_for_the_set(
    app: Db, gotrue: GoTrue, tmp_path: Path
) -> None:
    root = tmp_path / "seeds"
    make(root, "s", {"auth.users.yaml": USERS, "notes.csv": "id,owner,body\n1,not-a-uuid,x\n"})
    with pytest.raises(SeedError, match=r"notes\.csv: row 1 \(line 2\)"):
        seeds.seed(app.dsn, root, ["s"], auth=target(gotrue))
    assert not user_exists(gotrue, ALICE)
    assert app.scalar("select count(*) from auth.users") == 0


def test_wrong_service_key_is_one_line(app: Db, gotrue: GoTrue, tmp_path: Path) -> None:
    root = tmp_path / "seeds"
    make(root, "s", {"auth.users.yaml": USERS})
    with pytest.raises(AuthSeedError) as ei:
        seeds.seed(app.dsn, root, ["s"], auth=AuthTarget(gotrue.url, "not-the-key"))
    assert "HTTP 401" in ei.value.one_line() or "HTTP 403" in ei.value.one_line()
    assert "not-the-key" not in ei.value.one_line()


def test_reset_removes_and_reseeds_auth_users(app: Db, gotrue: GoTrue, tmp_path: Path) -> None:
    from devenv.db import reset

    m = tmp_path / "migrations"
    root = tmp_path / "seeds"
    make(root, "default", {"auth.users.yaml": USERS})
    seeds.seed(app.dsn, root, ["default"], auth=target(gotrue))
    token = login(gotrue, "alice@example.com", "alice-pass-1").json()["refresh_token"]
    # a user that signed up by hand is gone after the reset
    r = signup(gotrue, "dave@example.com", "dave-pass-1")
    assert r.status_code == 200, r.text
    res = reset.reset(DataPlan.at(m, root), app.dsn, ["default"], auth=target(gotrue))
    assert res.clean.auth_users_removed == 3
    assert login(gotrue, "dave@example.com", "dave-pass-1").status_code == 400
    assert login(gotrue, "alice@example.com", "alice-pass-1").json()["user"]["id"] == ALICE
    # sessions from before the reset are gone with the rest of GoTrue's data
    r = refresh(gotrue, token)
    assert r.status_code == 400
    assert app.scalar("select count(*) from notes") == 0


def test_reset_from_the_kept_state_with_the_real_gotrue(
    app: Db, gotrue: GoTrue, tmp_path: Path
) -> None:
    """The second reset clones the kept state into place: GoTrue's pool loses its connections
    with the old database and must answer on the new one at once, with the seeded users."""
    from devenv.db import reset

    m = tmp_path / "migrations"
    root = tmp_path / "seeds"
    make(root, "default", {"auth.users.yaml": USERS, "notes.csv": f"id,owner,body\n1,{ALICE},x\n"})
    plan = DataPlan.at(m, root)
    first = reset.reset(plan, app.dsn, ["default"], auth=target(gotrue))
    assert first.template == "kept"
    token = login(gotrue, "alice@example.com", "alice-pass-1").json()["refresh_token"]
    r = signup(gotrue, "dave@example.com", "dave-pass-1")
    assert r.status_code == 200, r.text
    second = reset.reset(plan, app.dsn, ["default"], auth=target(gotrue))
    assert second.template == "restored" and second.clean.auth_users_removed == 3
    assert second.summary["sets"]["default"] == {"rows": 1, "users": 2}
    # the first request after the swap already works (no error while the pool reconnects)
    assert login(gotrue, "alice@example.com", "alice-pass-1").json()["user"]["id"] == ALICE
    assert login(gotrue, "dave@example.com", "dave-pass-1").status_code == 400
    r = refresh(gotrue, token)
    assert r.status_code == 400
    # GoTrue writes to the restored database: a new sign-up
    r = signup(gotrue, "erin@example.com", "erin-pass-1")
    assert r.status_code == 200, r.text
    assert app.scalar("select count(*) from notes") == 1

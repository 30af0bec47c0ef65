"""The `devenv db` and `devenv seed` commands as a user runs them (a subprocess), pointed at the
test cluster through DEVENV_DATABASE_URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.unit.db.conftest import Db


@pytest.fixture
def proj(tmp_path: Path, db: Db) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "app"
    (root / "migrations").mkdir(parents=True)
    (root / "devenv.toml").write_text(
        '[project]\nname = "cli-test"\nservices = ["postgres"]\n'
        '[db]\nmigrations = "migrations"\nseeds = "seeds"\ndefault_seed = "base"\n'
    )
    (root / "migrations" / "001_t.sql").write_text("create table t (id int primary key, v text);")
    (root / "seeds" / "base").mkdir(parents=True)
    (root / "seeds" / "base" / "t.csv").write_text("id,v\n1,a\n2,b\n")
    return root, {"DEVENV_DATABASE_URL": db.dsn}


def test_migrate_status_seed_reset_round_trip(proj: tuple[Path, dict[str, str]], db: Db) -> None:
    root, env = proj
    p = run_cli("db", "status", "--json", cwd=root, env=env, check=True)
    assert json.loads(p.stdout)["counts"]["pending"] == 1
    p = run_cli("db", "migrate", cwd=root, env=env, check=True)
    assert "applied  001_t.sql" in p.stdout
    p = run_cli("db", "migrate", "--json", cwd=root, env=env, check=True)
    assert json.loads(p.stdout)["already_applied"] == 1
    p = run_cli("seed", cwd=root, env=env, check=True)
    assert "loaded    base: 1 files, 2 rows, 0 users" in p.stdout
    p = run_cli("seed", "--json", cwd=root, env=env, check=True)
    assert json.loads(p.stdout)["sets"][0]["status"] == "unchanged"
    (root / "seeds" / "base" / "t.csv").write_text("id,v\n1,a\n2,b\n3,c\n")
    p = run_cli("seed", cwd=root, env=env)
    assert p.returncode == 1
    assert "changed   base" in p.stdout and "devenv seed base --force" in p.stderr
    p = run_cli("seed", "base", "--force", cwd=root, env=env, check=True)
    assert "reloaded  base" in p.stdout
    assert db.scalar("select count(*) from t") == 3
    db.scalar("insert into t values (9, 'by hand') returning id")
    p = run_cli("db", "reset", "--json", cwd=root, env=env, check=True)
    out = json.loads(p.stdout)
    assert set(out["phases_s"]) == {"read files", "connect", "clean", "migrate", "seed", "keep"}
    assert out["template"] == "kept"
    assert db.scalar("select count(*) from t") == 3
    db.scalar("insert into t values (9, 'by hand') returning id")
    p = run_cli("db", "reset", cwd=root, env=env, check=True)
    assert p.stdout.startswith("reset: restored the state the last full reset kept (1 migrations,")
    assert "1 seed set(s): 3 rows, 0 users" in p.stdout
    assert db.scalar("select count(*) from t") == 3
    p = run_cli("db", "reset", "--full", cwd=root, env=env, check=True)
    assert p.stdout.startswith("reset: 1 migrations applied, 1 seed set(s) loaded (3 rows,")


def test_bad_input_is_one_line_with_exit_codes(proj: tuple[Path, dict[str, str]]) -> None:
    root, env = proj
    (root / "migrations" / "002_bad.sql").write_text("select 1;\nselect * from nowhere;\n")
    p = run_cli("db", "migrate", cwd=root, env=env)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr
    assert lines[0].startswith("devenv: error: ")
    assert '002_bad.sql:2: relation "nowhere" does not exist' in lines[0]

    (root / "migrations" / "001_t.sql").write_text("create table t (id int);")
    p = run_cli("db", "status", cwd=root, env=env)
    assert p.returncode == 1 and "changed  001_t.sql" in p.stdout

    p = run_cli("seed", "nope", cwd=root, env=env)
    assert p.returncode == 2 and "no seed set 'nope'" in p.stderr

    p = run_cli("db", "new", "bad;name", cwd=root, env=env)
    assert p.returncode == 2 and "invalid migration name" in p.stderr

    p = run_cli("db", "snapshot", "restore", "ghost", cwd=root, env=env)
    assert p.returncode == 1 and "no snapshot 'ghost'" in p.stderr


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    from tests.support.localpg import free_port

    url = f"postgresql://postgres:s3cret@127.0.0.1:{free_port()}/postgres?connect_timeout=2"
    p = run_cli("db", "status", cwd=tmp_path, env={"DEVENV_DATABASE_URL": url})
    assert p.returncode == 1
    assert "cannot connect to Postgres at 127.0.0.1:" in p.stderr and "s3cret" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_new_prints_the_file(proj: tuple[Path, dict[str, str]]) -> None:
    root, env = proj
    p = run_cli("db", "new", "add_things", cwd=root, env=env, check=True)
    made = root / p.stdout.strip()
    assert made.is_file() and made.name.endswith("_add_things.sql")


def test_snapshot_commands(proj: tuple[Path, dict[str, str]], db: Db) -> None:
    root, env = proj
    run_cli("db", "migrate", cwd=root, env=env, check=True)
    run_cli("seed", cwd=root, env=env, check=True)
    name = f"cli-{db.name[-6:]}"
    p = run_cli("db", "snapshot", "save", name, cwd=root, env=env, check=True)
    assert f"saved snapshot {name}" in p.stdout
    p = run_cli("db", "snapshot", "list", "--json", cwd=root, env=env, check=True)
    assert name in [s["name"] for s in json.loads(p.stdout)["snapshots"]]
    db.scalar("delete from t returning 1")
    p = run_cli("db", "snapshot", "restore", name, "--json", cwd=root, env=env, check=True)
    assert json.loads(p.stdout)["action"] == "restored"
    assert db.scalar("select count(*) from t") == 2
    run_cli("db", "snapshot", "delete", name, cwd=root, env=env, check=True)


def test_shell_runs_psql_without_the_password_in_argv(
    proj: tuple[Path, dict[str, str]],
) -> None:
    root, env = proj
    p = subprocess.run(
        [sys.executable, "-m", "devenv", "db", "shell"],
        cwd=root,
        env={**os.environ, **env},
        input="select 40 + 2 as answer;\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode == 0, p.stderr
    assert "42" in p.stdout

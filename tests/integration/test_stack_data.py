"""The data side of a running stack, through the CLI: `up` migrates and seeds, `db`/`seed`/`env`
commands find the stack's Postgres by themselves, and a Postgres killed mid-seed loses nothing the
next run cannot finish."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.conftest import Project

pytestmark = pytest.mark.engine

MIGRATION_1 = """\
create table public.machines (
    id bigint primary key,
    name text not null
);
"""
MIGRATION_2 = """\
alter table public.machines add column year int;
create view public.machine_names as select name from public.machines;
"""


def data_project(factory: Any, *, seed_rows: int = 3) -> Project:
    p: Project = factory(["postgres"])
    (p.root / "migrations").mkdir()
    (p.root / "migrations" / "001_machines.sql").write_text(MIGRATION_1)
    (p.root / "migrations" / "002_year.sql").write_text(MIGRATION_2)
    default = p.root / "seeds" / "default"
    default.mkdir(parents=True)
    rows = "".join(f"{i},machine {i},{1980 + i % 40}\n" for i in range(1, seed_rows + 1))
    (default / "10_machines.csv").write_text("id,name,year\n" + rows)
    return p


def query(p: Project, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(p.database_url(), autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else []


def test_up_applies_migrations_then_default_seed_and_is_idempotent(project_factory: Any) -> None:
    p = data_project(project_factory)
    first = p.cli("up")
    assert first.returncode == 0, first.stderr
    assert "migrations: applied 2 (001_machines.sql, 002_year.sql)" in first.stdout
    assert "seed default: loaded 3 rows" in first.stdout
    assert "anon key" not in first.stdout  # no gateway or auth here: no API keys to show
    assert query(p, "select count(*), min(year) from public.machines") == [(3, 1981)]

    # Same Postgres container, same files: the data step has nothing to look at.
    again = p.cli("up", "--json")
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    assert data["data_unchanged"] is True and data["data"] is None
    assert "data" in data["phases"]

    # A new migration file: the next up runs the data step again, and applies just that file.
    (p.root / "migrations" / "003_note.sql").write_text(
        "alter table public.machines add column note text;\n"
    )
    third = p.cli("up", "--json")
    assert third.returncode == 0, third.stderr
    data = json.loads(third.stdout)
    assert data["data_unchanged"] is False
    assert [a["name"] for a in data["data"]["migrate"]["applied"]] == ["003_note.sql"]
    assert data["data"]["migrate"]["already_applied"] == 2
    assert [s["status"] for s in data["data"]["seed"]["sets"]] == ["unchanged"]

    # Postgres restarted (a new start time): the data step runs again, finding nothing to do.
    assert p.cli("restart", "postgres").returncode == 0
    fourth = json.loads(p.cli("up", "--json").stdout)
    assert fourth["data_unchanged"] is False
    assert fourth["data"]["migrate"]["applied"] == []

    # An edited seed set is reported, not reloaded, and does not fail `up`.
    (p.root / "seeds" / "default" / "10_machines.csv").write_text("id,name,year\n9,new,2000\n")
    changed = p.cli("up")
    assert changed.returncode == 0, changed.stderr
    assert "devenv seed default --force" in changed.stderr
    assert query(p, "select count(*) from public.machines") == [(3,)]


def test_up_no_seed_migrates_only(project_factory: Any) -> None:
    p = data_project(project_factory)
    proc = p.cli("up", "--no-seed")
    assert proc.returncode == 0, proc.stderr
    assert "migrations: applied 2" in proc.stdout
    assert "seed default" not in proc.stdout
    assert query(p, "select count(*) from public.machines") == [(0,)]
    # `devenv seed` finds the stack's database by itself.
    seeded = p.cli("seed")
    assert seeded.returncode == 0, seeded.stderr
    assert "loaded    default: 1 files, 3 rows" in seeded.stdout
    assert query(p, "select count(*) from public.machines") == [(3,)]


def test_failing_migration_in_up_names_file_and_line_and_leaves_the_stack_up(
    project_factory: Any,
) -> None:
    p = data_project(project_factory)
    (p.root / "migrations" / "003_broken.sql").write_text(
        "create table public.ok_so_far (id int);\n\nselect * from public.no_such_table;\n"
    )
    proc = p.cli("up")
    assert proc.returncode == 1
    # Besides the progress lines (service, state, elapsed), one line says it all.
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("devenv:")]
    assert len(lines) == 1 and lines[0].startswith("devenv: error: the stack is up, but"), lines
    assert "003_broken.sql" in lines[0] and ":3" in lines[0] and "no_such_table" in lines[0]
    assert "Traceback" not in proc.stderr
    # The earlier migrations stay applied, the broken one rolled back whole, nothing seeded.
    assert query(p, "select name from devenv.schema_migrations order by name") == [
        ("001_machines.sql",),
        ("002_year.sql",),
    ]
    assert query(p, "select to_regclass('public.ok_so_far')") == [(None,)]
    assert p.cli("status").returncode == 0  # still running

    # Fixed, `devenv db migrate` finishes without a restart; `up` then seeds.
    (p.root / "migrations" / "003_broken.sql").write_text(
        "create table public.ok_so_far (id int);\n"
    )
    fixed = p.cli("db", "migrate")
    assert fixed.returncode == 0, fixed.stderr
    assert "applied  003_broken.sql" in fixed.stdout
    up = p.cli("up")
    assert up.returncode == 0, up.stderr
    assert "seed default: loaded 3 rows" in up.stdout


def test_up_warns_about_env_problems_without_printing_values(project_factory: Any) -> None:
    p = data_project(project_factory)
    (p.root / ".env.schema").write_text(
        "# @defaultRequired=false\n# ---\n"
        "# @required @sensitive\nDATABASE_URL=\n"
        "# @required @type=port\nAPP_PORT=\n"
    )
    (p.root / ".env").write_text(
        "DATABASE_URL=postgres://u:hunter2-secret@h/db\nAPP_PORT=notaport\n"
    )
    proc = p.cli("up", "--no-seed")
    assert proc.returncode == 0, proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("devenv: warning:")]
    assert any(".env:2" in w and "APP_PORT" in w for w in warnings), proc.stderr
    assert "hunter2-secret" not in proc.stdout + proc.stderr


def test_env_init_writes_the_running_stacks_values(project_factory: Any) -> None:
    p = data_project(project_factory)
    (p.root / ".env.schema").write_text(
        "# @defaultRequired=false\n# ---\n"
        "# @required @sensitive @type=url\nDATABASE_URL=\n"
        "# @required\nAPP_NAME=reference\n"
    )
    up = p.cli("up", "--no-seed")
    assert up.returncode == 0, up.stderr
    proc = p.cli("env", "init")
    assert proc.returncode == 0, proc.stderr
    written = (p.root / ".env").read_text()
    assert f"DATABASE_URL={p.database_url()}" in written
    password = json.loads((p.root / ".devenv" / "secrets.json").read_text())["postgres_password"]
    assert password not in proc.stdout + proc.stderr
    check = p.cli("env", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    # A second init keeps what is there.
    (p.root / ".env").write_text(written + "EXTRA=kept\n")
    again = p.cli("env", "init")
    assert again.returncode == 0, again.stderr
    assert "EXTRA=kept" in (p.root / ".env").read_text()


def test_db_commands_find_the_stack(project_factory: Any) -> None:
    p = data_project(project_factory)
    assert p.cli("up").returncode == 0
    status = p.cli("db", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert "001_machines.sql" in status.stdout

    assert p.cli("db", "snapshot", "save", "clean").returncode == 0
    query(p, "delete from public.machines")
    restored = p.cli("db", "snapshot", "restore", "clean")
    assert restored.returncode == 0, restored.stderr
    assert query(p, "select count(*) from public.machines") == [(3,)]

    query(p, "insert into public.machines values (100, 'scratch', 1999)")
    reset = p.cli("db", "reset")
    assert reset.returncode == 0, reset.stderr
    assert query(p, "select count(*) from public.machines") == [(3,)]


def test_db_commands_on_a_stopped_stack_say_how_to_start_it(project_factory: Any) -> None:
    p = data_project(project_factory)
    proc = p.cli("db", "migrate")
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "devenv up" in proc.stderr


def test_postgres_killed_mid_seed_then_up_completes_the_set(project_factory: Any) -> None:
    rows = 1_500_000
    p = data_project(project_factory, seed_rows=rows)
    assert p.cli("up", "--no-seed").returncode == 0
    pg_name = next(c.name for c in p.containers() if c.service == "postgres")
    pg = p.stack.engine.client.containers.get(pg_name)
    watcher = psycopg.connect(p.database_url(), autocommit=True)

    seed = subprocess.Popen(
        [sys.executable, "-m", "devenv", "seed"],
        cwd=p.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    copying = 0
    while time.monotonic() < deadline and seed.poll() is None:
        row = watcher.execute(
            "select coalesce(max(tuples_processed), 0) from pg_stat_progress_copy"
        ).fetchone()
        copying = int(row[0]) if row else 0
        if copying > 0:
            break
        time.sleep(0.02)
    assert copying > 0, "the COPY never started"
    pg.kill()
    out, err = seed.communicate(timeout=60)
    watcher.close()
    assert seed.returncode == 1, out + err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "devenv up" in lines[0] or "postgres" in lines[0].lower(), err

    # The next `up` restarts Postgres and loads the whole set: nothing half-made was kept.
    up = p.cli("up")
    assert up.returncode == 0, up.stderr
    assert f"seed default: loaded {rows} rows" in up.stdout
    assert query(p, "select count(*) from public.machines") == [(rows,)]
    assert query(p, "select name from devenv.seed_sets") == [("default",)]


def test_seed_with_a_bad_row_names_file_and_row_and_keeps_the_data(project_factory: Any) -> None:
    p = data_project(project_factory)
    assert p.cli("up").returncode == 0
    (p.root / "seeds" / "extra").mkdir()
    (p.root / "seeds" / "extra" / "10_machines.csv").write_text(
        "id,name,year\n200,fine,2001\n201,,2002\n"
    )
    proc = p.cli("seed", "extra")
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "10_machines.csv" in lines[0], proc.stderr
    assert query(p, "select count(*) from public.machines") == [(3,)]
    assert query(p, "select count(*) from public.machines where id >= 200") == [(0,)]


def test_db_shell_without_a_local_psql_runs_psql_in_the_container(
    project_factory: Any, tmp_path: Path
) -> None:
    p = data_project(project_factory)
    assert p.cli("up").returncode == 0
    bin_dir = tmp_path / "bin"  # docker only: no psql on PATH
    bin_dir.mkdir()
    docker = shutil.which("docker")
    assert docker
    (bin_dir / "docker").symlink_to(docker)
    proc = subprocess.run(
        [sys.executable, "-m", "devenv", "db", "shell"],
        cwd=p.root,
        env={**os.environ, "PATH": str(bin_dir)},
        input="select count(*) || ' machines' from public.machines;\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "3 machines" in proc.stdout


def test_up_hints_env_init_and_init_fills_framework_prefixed_public_names(
    project_factory: Any,
) -> None:
    p: Project = project_factory(["postgres", "kong"])
    (p.root / ".env.schema").write_text(
        "# @defaultRequired=false\n# ---\n"
        "# @required @type=url\nNEXT_PUBLIC_SUPABASE_URL=\n"
        "# @required\nNEXT_PUBLIC_SUPABASE_ANON_KEY=\n"
        "# @required\nEXPO_PUBLIC_SUPABASE_ANON_KEY=\n"
        "# @required @type=url\nVITE_SUPABASE_URL=\n"
        "# @sensitive\nNEXT_PUBLIC_SUPABASE_SERVICE_ROLE_KEY=\n"
    )
    up = p.cli("up", "--no-seed")
    assert up.returncode == 0, up.stderr
    hint = [ln for ln in up.stderr.splitlines() if "devenv env init" in ln]
    assert len(hint) == 1 and ".env.schema is here but no .env" in hint[0], up.stderr
    assert p.cli("env", "init").returncode == 0
    written = dict(
        line.split("=", 1)
        for line in (p.root / ".env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    keys = json.loads((p.root / ".devenv" / "secrets.json").read_text())
    api = f"http://127.0.0.1:{p.cfg.ports['kong']}"
    assert written["NEXT_PUBLIC_SUPABASE_URL"] == api == written["VITE_SUPABASE_URL"]
    assert written["NEXT_PUBLIC_SUPABASE_ANON_KEY"] == keys["anon_key"]
    assert written["EXPO_PUBLIC_SUPABASE_ANON_KEY"] == keys["anon_key"]
    # A public prefix never gets a secret: a browser bundle would ship it.
    assert written.get("NEXT_PUBLIC_SUPABASE_SERVICE_ROLE_KEY", "") == ""
    again = p.cli("up", "--no-seed")
    assert "devenv env init" not in again.stderr

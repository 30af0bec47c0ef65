"""devenv doctor against a real stack: all well; a killed service; pending and edited
migrations; a container left by an ephemeral stack whose owner is gone; a stack not running."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devenv.stack.engine import Engine
from devenv.stack.project import LABEL_OWNER
from tests.conftest import run_cli
from tests.integration.conftest import Project, destroy, make_project, stack_services

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def stack(engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    p = make_project(tmp_path_factory.mktemp("doctor"), [*stack_services(), "fireworks"])
    (p.root / "migrations").mkdir()
    (p.root / "migrations" / "20240101000000_one.sql").write_text(
        "create table public.one (id int);\nalter table public.one enable row level security;\n"
    )
    try:
        proc = p.cli("up", timeout=300)
        assert proc.returncode == 0, proc.stderr
        yield p
    finally:
        destroy(p)


def doctor(p: Project, *args: str) -> tuple[int, dict[str, dict[str, Any]]]:
    proc = p.cli("doctor", "--json", *args, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    data = json.loads(proc.stdout)
    return proc.returncode, {f["id"]: f for f in data["findings"]}


def test_all_well(stack: Project) -> None:
    rc, f = doctor(stack)
    bad = {k: v for k, v in f.items() if v["status"] == "fail"}
    assert rc == 0 and not bad, bad
    for cid in (
        "engine.daemon",
        "engine.compose",
        "project.config",
        "project.state",
        "stack.ports",
        "stack.health",
        "stack.migrations",
        "stack.clock",
        "reach.api",
        "reach.postgres",
        "reach.redis",
        "reach.fireworks",
    ):
        assert f[cid]["status"] == "ok", f[cid]
    assert "held by this stack" in f["stack.ports"]["summary"]


def test_pending_and_edited_migrations(stack: Project) -> None:
    mig = stack.root / "migrations"
    new = mig / "20240102000000_two.sql"
    new.write_text("create table public.two (id int);\n")
    try:
        _rc, f = doctor(stack, "stack.migrations")
        m = f["stack.migrations"]
        assert m["status"] == "warn" and "20240102000000_two.sql" in m["summary"]
        assert m["fix"] == "devenv db migrate"
    finally:
        new.unlink()
    first = mig / "20240101000000_one.sql"
    original = first.read_text()
    first.write_text(
        original + "-- edited after it was applied\ncreate index on public.one (id);\n"
    )
    try:
        rc, f = doctor(stack, "stack.migrations")
        m = f["stack.migrations"]
        assert rc == 1 and m["status"] == "fail"
        assert "20240101000000_one.sql (changed)" in m["summary"]
        assert m["fix"].startswith("git checkout -- migrations/20240101000000_one.sql")
    finally:
        first.write_text(original)


def test_an_extension_the_running_image_lacks(stack: Project) -> None:
    # Not applied yet: the doctor says so before the migration runs into it. pg_net is in
    # Supabase's image only; pg_trgm is contrib (in every image); pg_cron is in devenv's.
    new = stack.root / "migrations" / "20240103000000_ext.sql"
    new.write_text(
        "-- create extension postgis;  (a comment: not counted)\n"
        "create extension if not exists pg_trgm;\n"
        'create extension if not exists "pg_cron";\n'
        "create extension pg_net with schema extensions;\n"
    )
    try:
        rc, f = doctor(stack, "stack.extensions")
        e = f["stack.extensions"]
        assert rc == 1 and e["status"] == "fail", e
        assert e["summary"] == (
            "migrations/20240103000000_ext.sql:4 creates extension 'pg_net', which the running"
            " Postgres image lacks"
        )
        assert e["fix"].startswith('set [images] postgres = "supabase/postgres:15.8.1.085"')
    finally:
        new.unlink()
    _rc, f = doctor(stack, "stack.extensions")
    assert f["stack.extensions"]["status"] == "skip"  # no migration creates one now


def test_container_of_a_gone_owner(stack: Project) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    image = stack.cfg.image("redis")
    name = f"it-orphan-{uuid.uuid4().hex[:8]}"
    c = Engine().client.containers.create(
        image,
        name=name,
        labels={
            LABEL_OWNER: f"{dead.pid}@{socket.gethostname()}",
            "com.docker.compose.project": name,
        },
    )
    try:
        _rc, f = doctor(stack, "stack.orphans")
        o = f["stack.orphans"]
        assert o["status"] == "warn" and name in o["summary"]
        # gc's own judgement, and its way out (containers, network and volumes alike).
        assert o["fix"] == "devenv gc" and name in o["detail"]
    finally:
        c.remove(force=True)


def test_the_engine_group_names_the_local_engine_and_the_host(engine: None, tmp_path: Path) -> None:
    """`devenv doctor engine -o json` says which engine answered and where the stack's ports
    are reached: the local engine and 127.0.0.1, or the host DEVENV_HOST names."""

    def engine_group(**env: str) -> dict[str, dict[str, Any]]:
        proc = run_cli("doctor", "engine", "-o", "json", cwd=tmp_path, env=env, timeout=60)
        assert "Traceback" not in proc.stderr, proc.stderr
        findings = {f["id"]: f for f in json.loads(proc.stdout)["findings"]}
        assert proc.returncode == 0, findings
        return findings

    f = engine_group(DEVENV_HOST="")
    kind, host = f["engine.kind"], f["engine.host"]
    assert kind["status"] == "ok" and kind["data"]["label"] == "local Docker", kind
    assert kind["data"]["shares_files"] is True
    assert kind["summary"].startswith("local Docker ")
    assert "shares this machine's files" in kind["summary"]
    assert host["status"] == "ok" and host["data"]["host"] == "127.0.0.1", host
    assert "published ports are reached at 127.0.0.1" in host["summary"]
    assert f["engine.daemon"]["data"]["address"].startswith("unix://")

    f = engine_group(DEVENV_HOST="127.0.0.2")
    host = f["engine.host"]
    assert host["data"] == {
        "host": "127.0.0.2",
        "source": "DEVENV_HOST",
        "bind": "127.0.0.2",
        "engine": f["engine.daemon"]["data"]["address"],
    }
    assert host["summary"].startswith("published ports are reached at 127.0.0.2 (DEVENV_HOST)")


def test_stack_not_running(engine: None, tmp_path: Path) -> None:
    p = make_project(tmp_path, ["redis"])
    rc, f = doctor(p, "stack", "reach")
    assert rc == 0
    assert f["stack.health"]["status"] == "skip"
    assert "is not running" in f["stack.health"]["summary"]
    assert f["stack.health"]["fix"] == "devenv up"
    assert f["reach.redis"]["status"] == "skip"


def test_a_killed_service(stack: Project) -> None:
    # Last in the module: it breaks the module's stack.
    (redis,) = [c for c in stack.containers() if c.service == "redis"]
    Engine().client.containers.get(redis.id).kill()
    rc, f = doctor(stack, "stack", "reach")
    assert rc == 1
    h = f["stack.health"]
    assert h["status"] == "fail"
    assert "redis: exited" in h["summary"]
    assert h["fix"] == "devenv up"
    assert (
        f["reach.redis"]["status"] == "skip" and "see stack.health" in f["reach.redis"]["summary"]
    )
    assert f["reach.postgres"]["status"] == "ok"


def test_seeds_as_up_loads_them_from_seed_paths(project_factory: Any) -> None:
    """The doctor judges the seed set `up` loads: with [db] seed_paths that is the listed files,
    not a seeds/<set>/ folder (the Supabase CLI layout: supabase/seed.sql)."""
    p: Project = project_factory(["postgres"], db='seed_paths = ["seed.sql"]')
    (p.root / "seed.sql").write_text("create table public.pets (name text);\n")
    assert p.cli("up").returncode == 0
    _rc, f = doctor(p, "stack.seeds")
    assert f["stack.seeds"]["status"] == "ok", f["stack.seeds"]
    assert f["stack.seeds"]["summary"] == "seed set 'default' loaded and current"
    (p.root / "seed.sql").write_text("create table public.pets (name text, age int);\n")
    _rc, f = doctor(p, "stack.seeds")
    assert f["stack.seeds"]["status"] == "warn"
    assert "changed since it was loaded" in f["stack.seeds"]["summary"]

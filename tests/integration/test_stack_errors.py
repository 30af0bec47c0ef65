"""Bad input on a real engine: one clear line, the right exit code, nothing lost."""

from __future__ import annotations

import json
import shutil
import socket
from typing import Any

import psycopg
import pytest

from tests.integration.conftest import Project

pytestmark = pytest.mark.engine


def one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("devenv: error: ")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_port_in_use_starts_nothing(project_factory: Any) -> None:
    p: Project = project_factory(["postgres", "redis"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", p.cfg.ports["redis"]))
        s.listen()
        proc = p.cli("up")
    assert proc.returncode == 1
    line = one_error_line(proc.stderr)
    assert f"port {p.cfg.ports['redis']} for redis is already in use" in line
    assert "by process python" in line and "[ports]" in line
    assert p.containers() == []


def test_missing_image_names_it_and_how_to_get_it(project_factory: Any) -> None:
    p: Project = project_factory(["redis"])
    proc = p.cli("up", env={"DEVENV_IMAGE_REDIS": "devenv-missing/redis:none"})
    assert proc.returncode == 1
    line = one_error_line(proc.stderr)
    assert "image devenv-missing/redis:none for redis is not present" in line
    assert "DEVENV_IMAGE_REDIS" in line and "docker pull" in line
    assert p.containers() == []


def test_never_healthy_service_times_out_with_its_logs(project_factory: Any) -> None:
    p: Project = project_factory(["postgres"])
    # A Redis server in the postgres slot runs fine but never passes pg_isready.
    redis_image = p.cfg.image("redis")
    proc = p.cli("up", "--timeout", "8", env={"DEVENV_IMAGE_POSTGRES": redis_image})
    assert proc.returncode == 1
    line = one_error_line(proc.stderr)
    assert "postgres did not become ready" in line
    assert "--- last log lines of postgres ---" in proc.stderr
    assert "Ready to accept connections" in proc.stderr  # redis's own log, shown as postgres's


def test_state_dir_deleted_while_running_recovers_keys_and_data(project_factory: Any) -> None:
    p: Project = project_factory(["postgres", "kong", "redis"])
    assert p.cli("up").returncode == 0
    old = json.loads((p.root / ".devenv" / "secrets.json").read_text())
    with psycopg.connect(p.database_url(), autocommit=True) as conn:
        conn.execute("create table precious (v int)")
        conn.execute("insert into precious values (42)")
    shutil.rmtree(p.root / ".devenv")

    # `status` recovers the keys from the containers (and says so): the URL has its password.
    st = p.cli("status", "-o", "json", "--show-secrets")
    assert st.returncode == 0 and "Traceback" not in st.stderr
    assert "keys recovered from the running stack" in st.stderr
    assert f":{old['postgres_password']}@" in json.loads(st.stdout)["services"][0]["url"]
    shutil.rmtree(p.root / ".devenv")
    proc = p.cli("up")
    assert proc.returncode == 0, proc.stderr
    assert "keys recovered from the running stack" in proc.stderr
    new = json.loads((p.root / ".devenv" / "secrets.json").read_text())
    assert new["jwt_secret"] == old["jwt_secret"]
    assert new["postgres_password"] == old["postgres_password"]
    with psycopg.connect(p.database_url()) as conn:
        assert conn.execute("select v from precious").fetchone() == (42,)
    # The re-rendered gateway accepts the re-issued anon key.
    import httpx

    r = httpx.get(
        f"http://127.0.0.1:{p.cfg.ports['kong']}/auth/v1/health",
        headers={"apikey": new["anon_key"]},
    )
    assert r.status_code in (200, 502), r.text  # past key-auth: 502 only if GoTrue is absent


def test_state_dir_deleted_after_down_keeps_data(project_factory: Any) -> None:
    p: Project = project_factory(["postgres"])
    assert p.cli("up").returncode == 0
    with psycopg.connect(p.database_url(), autocommit=True) as conn:
        conn.execute("create table precious (v int)")
        conn.execute("insert into precious values (7)")
    assert p.cli("down").returncode == 0
    shutil.rmtree(p.root / ".devenv")
    proc = p.cli("up")
    assert proc.returncode == 0, proc.stderr
    # New keys, old volume: the bootstrap re-asserted the password, the data is there.
    with psycopg.connect(p.database_url()) as conn:
        assert conn.execute("select v from precious").fetchone() == (7,)


def test_same_name_from_another_checkout_is_refused(project_factory: Any, tmp_path: Any) -> None:
    p: Project = project_factory(["redis"])
    assert p.cli("up").returncode == 0
    other = tmp_path / "other-checkout"
    other.mkdir()
    (other / "devenv.toml").write_text((p.root / "devenv.toml").read_text())
    from tests.conftest import run_cli

    proc = run_cli("up", cwd=other)
    assert proc.returncode == 1
    line = one_error_line(proc.stderr)
    assert f"a stack named '{p.name}' from {p.root} already exists" in line

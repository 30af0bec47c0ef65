"""The whole stack on a real engine, through the CLI as a user runs it."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import httpx
import psycopg
import pytest
import redis

from tests.integration.conftest import Project, stack_services

pytestmark = pytest.mark.engine


def keys_of(p: Project) -> dict[str, str]:
    keys: dict[str, str] = json.loads((p.root / ".devenv" / "secrets.json").read_text())
    return keys


def container_ids(p: Project) -> dict[str, str]:
    return {c.service: c.id for c in p.containers()}


def test_lifecycle_up_check_down_up_data_survives(project_factory: Any) -> None:
    p: Project = project_factory(stack_services())
    cfg = p.cfg

    proc = p.cli("up", "--no-seed")
    assert proc.returncode == 0, proc.stderr
    assert "ready in" in proc.stdout
    keys = keys_of(p)
    # Secrets never reach default output.
    for secret in (keys["jwt_secret"], keys["service_role_key"], keys["postgres_password"]):
        assert secret not in proc.stdout and secret not in proc.stderr
    assert keys["anon_key"] in proc.stdout  # the public key is printed for copying

    st = json.loads(p.cli("status", "-o", "json").stdout)
    assert {s["service"]: s["health"] for s in st["services"]} == {
        s: "healthy" for s in stack_services()
    }
    assert st["keys"]["service_role_key"] != keys["service_role_key"]  # masked

    # Postgres: a real query, as the app and the roles GoTrue needs.
    dsn = p.database_url()
    with psycopg.connect(dsn, autocommit=True) as conn:
        roles = {r[0] for r in conn.execute("select rolname from pg_roles").fetchall()}
        assert {
            "anon",
            "authenticated",
            "service_role",
            "authenticator",
            "supabase_auth_admin",
        } <= roles
        owner = conn.execute(
            "select nspowner::regrole::text from pg_namespace where nspname = 'auth'"
        ).fetchone()
        assert owner == ("supabase_auth_admin",)
        conn.execute("create table keepme (v text)")
        conn.execute("insert into keepme values ('survives')")

    # Redis: SET/GET.
    r = redis.Redis(port=cfg.ports["redis"])
    assert r.set("devenv:test", "kept") and r.get("devenv:test") == b"kept"
    r.save()  # make the value durable regardless of the save policy's timing

    # Gateway: Kong's two 401 bodies, CORS preflight, key-auth by header and query.
    base = f"http://127.0.0.1:{cfg.ports['kong']}"
    with httpx.Client(base_url=base, timeout=5) as http:
        no_key = http.get("/auth/v1/health")
        assert no_key.status_code == 401
        assert no_key.json() == {"message": "No API key found in request"}
        bad_key = http.get("/auth/v1/health", headers={"apikey": "wrong"})
        assert bad_key.status_code == 401
        assert bad_key.json() == {"message": "Invalid authentication credentials"}
        pre = http.options(
            "/auth/v1/token",
            headers={
                "Origin": "http://localhost:3000",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "apikey,content-type,authorization",
            },
        )
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "*"
        assert "POST" in pre.headers["access-control-allow-methods"]
        assert "apikey" in pre.headers["access-control-allow-headers"]
        good = http.get("/auth/v1/health", headers={"apikey": keys["anon_key"]})
        by_query = http.get("/auth/v1/health", params={"apikey": keys["anon_key"]})
        if "gotrue" in cfg.services:
            assert good.status_code == 200 and by_query.status_code == 200
        else:  # the key passed Kong; the upstream is simply not part of this stack
            assert good.status_code == 502 and by_query.status_code == 502

    # A second `up` on a running stack changes nothing.
    before = container_ids(p)
    again = p.cli("up", "--no-seed")
    assert again.returncode == 0, again.stderr
    assert container_ids(p) == before

    # `down` keeps data; the next `up` finds it.
    down = p.cli("down")
    assert down.returncode == 0 and "data kept" in down.stdout
    assert p.containers() == []
    assert p.cli("up", "--no-seed").returncode == 0
    with psycopg.connect(p.database_url()) as conn:
        assert conn.execute("select v from keepme").fetchone() == ("survives",)
    assert redis.Redis(port=cfg.ports["redis"]).get("devenv:test") == b"kept"

    # `down --volumes` removes the data too.
    assert p.cli("down", "--volumes").returncode == 0
    client = p.stack.engine.client
    left = client.volumes.list(filters={"label": f"com.docker.compose.project={p.name}"})
    assert left == []


def test_status_env_and_logs(project_factory: Any) -> None:
    p: Project = project_factory(["redis"])
    assert p.cli("up").returncode == 0
    env = p.cli("status", "-o", "env")
    assert env.returncode == 0
    values = dict(line.split("=", 1) for line in env.stdout.splitlines())
    assert values["REDIS_URL"] == f"redis://127.0.0.1:{p.cfg.ports['redis']}/0"
    # The readiness loop's list (no inspect) says what ps() says, start times aside.
    runner = p.stack.runner
    fields = ("service", "name", "id", "state", "ports", "labels")
    listed = [tuple(getattr(c, f) for f in fields) for c in runner.listed()]
    assert listed == [tuple(getattr(c, f) for f in fields) for c in runner.ps()]
    assert listed[0][4] == (p.cfg.ports["redis"],)
    logs = p.cli("logs", "redis", "--tail", "5")
    assert logs.returncode == 0 and "Ready to accept connections" in logs.stdout
    restarted = p.cli("restart", "redis")
    assert restarted.returncode == 0, restarted.stderr
    assert "healthy" in restarted.stdout


def test_services_on_and_off_through_config(project_factory: Any) -> None:
    p: Project = project_factory(["postgres", "redis"])
    assert p.cli("up").returncode == 0
    assert set(container_ids(p)) == {"postgres", "redis"}
    text = (p.root / "devenv.toml").read_text().replace('"postgres", "redis"', '"redis"')
    (p.root / "devenv.toml").write_text(text)
    assert p.cli("up").returncode == 0
    assert set(container_ids(p)) == {"redis"}


def test_signup_and_login_through_kong(gotrue: None, project_factory: Any) -> None:
    p: Project = project_factory(["postgres", "gotrue", "kong"])
    assert p.cli("up").returncode == 0
    anon = keys_of(p)["anon_key"]
    base = f"http://127.0.0.1:{p.cfg.ports['kong']}/auth/v1"
    h = {"apikey": anon}
    with httpx.Client(timeout=10) as http:
        r = http.post(
            f"{base}/signup",
            headers=h,
            json={"email": "ada@example.com", "password": "correct-horse-1"},
        )
        assert r.status_code == 200, r.text
        r = http.post(
            f"{base}/token?grant_type=password",
            headers=h,
            json={"email": "ada@example.com", "password": "correct-horse-1"},
        )
        assert r.status_code == 200 and r.json()["access_token"]
    assert p.cli("down").returncode == 0
    assert p.cli("up").returncode == 0
    with httpx.Client(timeout=10) as http:
        r = http.post(
            f"{base}/token?grant_type=password",
            headers=h,
            json={"email": "ada@example.com", "password": "correct-horse-1"},
        )
        assert r.status_code == 200, "the signed-up user survives down/up"


# Moments inside a first start, which takes 2-4 s now that readiness is devenv's own probe.
@pytest.mark.parametrize("moment", ["containers-exist", 0.5, 1.0, 2.0])
def test_ctrl_c_during_up_leaves_nothing_the_next_up_cannot_finish(
    project_factory: Any, moment: str | float
) -> None:
    """`up` is run as a terminal runs it (own process group, SIGINT not ignored) and interrupted
    at a fixed moment of a first start (initdb included, so `up` is still running then); the
    next `up` must finish the job, whatever compose was doing (creating containers, their port
    proxies still going away, ...)."""
    import os
    import signal
    import sys

    p: Project = project_factory(stack_services())
    proc = subprocess.Popen(
        [sys.executable, "-m", "devenv", "up", "--no-seed"],
        cwd=p.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # As a terminal would: a CI runner may start us with SIGINT ignored, which children
        # inherit across exec; restore the default so Python raises KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    if moment == "containers-exist":
        end = time.monotonic() + 60
        while time.monotonic() < end and not p.containers():
            time.sleep(0.05)
    else:
        time.sleep(float(moment))
    assert proc.poll() is None, "up finished before the interrupt: the moment is too late"
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert (
        "devenv: error: interrupted (every step is idempotent: run the same command again)" in err
    )
    assert "Traceback" not in err
    finish = p.cli("up", "--no-seed")
    assert finish.returncode == 0, finish.stderr
    st = json.loads(p.cli("status", "-o", "json").stdout)
    assert all(s["health"] in ("healthy", "") for s in st["services"]), st

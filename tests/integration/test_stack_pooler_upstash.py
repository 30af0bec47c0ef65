"""The `pooler` (PgBouncer, transaction mode) and `upstash` (REST endpoint) services in a real
stack, used at the URLs and token `devenv status -o env` gives an app."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

import psutil
import psycopg
import pytest
import redis
from upstash_redis import Redis

from tests.conftest import unavailable
from tests.integration.conftest import Project

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def images(engine: None) -> None:
    from devenv import config
    from devenv.stack import engine as eng

    cfg = config.load(Path(os.environ.get("TMPDIR", "/tmp")))
    for svc in ("pooler", "upstash"):
        try:
            eng.Engine().client.images.get(cfg.image(svc))
        except Exception:
            unavailable(
                f"image {cfg.image(svc)} for {svc} is missing; run the README's test command"
            )


@pytest.fixture(scope="module")
def stack(images: None, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.integration.conftest import destroy, make_project

    p = make_project(tmp_path_factory.mktemp("pooler"), ["postgres", "pooler", "redis", "upstash"])
    try:
        up = p.cli("up", "--no-seed", timeout=300)
        assert up.returncode == 0, up.stderr
        env = p.cli("status", "-o", "env")
        assert env.returncode == 0, env.stderr
        values = dict(line.split("=", 1) for line in env.stdout.splitlines() if "=" in line)
        yield p, values
    finally:
        destroy(p)


def test_status_env_gives_pooled_urls_and_the_rest_endpoint(stack: tuple[Project, Any]) -> None:
    p, env = stack
    cfg = p.cfg
    assert env["DATABASE_POOLED_URL"] == env["DATABASE_URL"].replace(
        f":{cfg.ports['postgres']}/", f":{cfg.ports['pooler']}/"
    )
    assert env["DATABASE_POOLED_PRISMA_URL"] == env["DATABASE_POOLED_URL"] + "?pgbouncer=true"
    assert env["UPSTASH_REDIS_REST_URL"] == f"http://127.0.0.1:{cfg.ports['upstash']}"
    assert len(env["UPSTASH_REDIS_REST_TOKEN"]) == 64


def _leaks(dsn: str, tries: int = 20) -> tuple[int, int]:
    """(times client B ran on client A's server session, times it saw A's SET there)."""
    landed = leaked = 0
    # No automatic server-side prepares (psycopg makes them after 5 runs of a query): named
    # prepared statements through a pooler are their own topic (PgBouncer >= 1.21 tracks them,
    # Debian's 1.18 in the hermetic image does not), and this test is about session state.
    kw: dict[str, Any] = {"autocommit": True, "prepare_threshold": None}
    with psycopg.connect(dsn, **kw) as a, psycopg.connect(dsn, **kw) as b:
        for i in range(tries):
            value = f"{1234 + i}ms"
            # One simple-query message: one transaction, so one server session, in any mode.
            cur = a.execute(f"SET statement_timeout = '{value}'; SELECT pg_backend_pid()")
            cur.nextset()  # the SELECT's result
            pid_a = cur.fetchone()
            row = b.execute("SELECT pg_backend_pid(), current_setting('statement_timeout')")
            got = row.fetchone()
            assert got is not None and pid_a is not None
            if got[0] == pid_a[0]:
                landed += 1
                leaked += got[1] == value
    return landed, leaked


def test_transaction_mode_shares_server_sessions_between_clients(
    stack: tuple[Project, Any],
) -> None:
    """Through the pooler, session state (here a SET) belongs to the server connection, not to
    the client that set it: another client's next transaction runs with it. A direct connection
    never sees another client's SET. The bug class that reaches production only through Supabase's
    pooler shows up locally."""
    _, env = stack
    landed, leaked = _leaks(env["DATABASE_POOLED_URL"])
    assert landed > 0, "client B never ran on client A's server connection"
    assert leaked == landed
    with (
        psycopg.connect(env["DATABASE_URL"], autocommit=True) as a,
        psycopg.connect(env["DATABASE_URL"], autocommit=True) as b,
    ):
        a.execute("SET statement_timeout = '1234ms'")
        assert b.execute("SHOW statement_timeout").fetchone() == ("0",)


def test_any_login_role_connects_through_the_pooler(stack: tuple[Project, Any]) -> None:
    """auth_user looks other roles' passwords up in Postgres: the API's login role works too."""
    _, env = stack
    dsn = env["DATABASE_POOLED_URL"].replace(
        "postgresql://postgres:", "postgresql://authenticator:"
    )
    with psycopg.connect(dsn) as c:
        assert c.execute("SELECT current_user").fetchone() == ("authenticator",)
    bad = env["DATABASE_POOLED_URL"].replace("postgresql://postgres:", "postgresql://postgres:x")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(bad, connect_timeout=5).close()


def test_no_secret_on_any_command_line_of_the_stack(stack: tuple[Project, Any]) -> None:
    """Container processes are host processes: the pooler and the REST endpoint carry the
    Postgres password and the REST token in their environment and files, never in argv."""
    _, env = stack
    pw = env["DATABASE_URL"].split(":")[2].split("@")[0]
    secrets = [pw, env["UPSTASH_REDIS_REST_TOKEN"]]
    seen = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(proc.info.get("cmdline") or [])
        seen.append(cmd)
        for s in secrets:
            assert s not in cmd, f"a secret is on the command line of pid {proc.info['pid']}"
    assert any("pgbouncer" in c for c in seen) and any("devenv.upstash_rest" in c for c in seen)


def test_upstash_client_with_the_status_env_values(stack: tuple[Project, Any]) -> None:
    _, env = stack
    client = Redis(
        url=env["UPSTASH_REDIS_REST_URL"],
        token=env["UPSTASH_REDIS_REST_TOKEN"],
        allow_telemetry=False,
        rest_retries=0,
    )
    # set()'s stubs say str | None (the old value, with get=True); without get it answers True.
    assert cast(object, client.set("cache:org:1", "hit", ex=60)) is True
    direct = redis.Redis.from_url(env["REDIS_URL"])
    assert direct.get("cache:org:1") == b"hit"  # the stack's Redis, over RESP
    direct.set("from-resp", "v")
    assert client.get("from-resp") == "v"

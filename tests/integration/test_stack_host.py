"""The stack's host in use: with DEVENV_HOST naming another loopback address, the engine publishes
the ports there (and only there), and every URL devenv prints, writes and probes names it, so an
app (and devenv's own data step) reaches the stack at that address."""

from __future__ import annotations

import socket
from typing import Any

import psycopg
import pytest
import redis

from tests.integration.conftest import Project

pytestmark = pytest.mark.engine

HOST = "127.0.0.9"  # not 127.0.0.2-4: the remote-engine tests publish 54300-54399 there


def test_every_url_and_port_is_on_the_host_devenv_is_told(project_factory: Any) -> None:
    p: Project = project_factory(["postgres", "redis"])
    (p.root / "migrations").mkdir()
    (p.root / "migrations" / "20250101000000_t.sql").write_text("create table t (id int);\n")
    env = {"DEVENV_HOST": HOST}
    up = p.cli("up", env=env)
    assert up.returncode == 0, up.stderr
    assert "migrations: applied 1" in up.stdout

    out = p.cli("status", "-o", "env", env=env).stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert f"@{HOST}:" in values["DATABASE_URL"] and values["REDIS_URL"].startswith(
        f"redis://{HOST}:"
    )
    with psycopg.connect(values["DATABASE_URL"]) as conn:
        assert conn.execute("select count(*) from t").fetchone() == (0,)
    assert redis.Redis.from_url(values["REDIS_URL"]).ping()
    # Published on that address only: nothing answers on 127.0.0.1.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", p.cfg.ports["postgres"]), timeout=1).close()

    doc = p.cli("doctor", "reach", env=env)
    assert doc.returncode == 0, doc.stdout

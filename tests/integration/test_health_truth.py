"""Health a user can trust: a service is healthy when what apps do with it works. GoTrue's own
/health answers 200 with its database gone, while every sign-in fails with 500; `status` and the
doctor ask what an app asks (a sign-in), so they tell."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.integration.conftest import Project

pytestmark = pytest.mark.engine


def gotrue_health(p: Project) -> dict[str, Any]:
    proc = p.cli("status", "-o", "json")
    data = json.loads(proc.stdout)
    return next(s for s in data["services"] if s["service"] == "gotrue")


def test_gotrue_is_unhealthy_while_its_database_is_down_and_healthy_again_after(
    gotrue: None, project_factory: Any
) -> None:
    p: Project = project_factory(["postgres", "gotrue", "kong"])
    assert p.cli("up").returncode == 0
    assert gotrue_health(p)["health"] == "healthy"

    p.stack.runner.run(["stop", "--timeout", "5", "postgres"])
    g = gotrue_health(p)
    assert g["state"] == "running" and g["health"] == "unhealthy", g
    assert "sign-in answers HTTP 500" in g["why"], g
    table = p.cli("status")
    assert table.returncode == 1
    assert "gotrue is unhealthy: a sign-in answers HTTP 500" in table.stderr
    doc = p.cli("doctor", "--json", "stack.health")
    finding = {f["id"]: f for f in json.loads(doc.stdout)["findings"]}["stack.health"]
    assert finding["status"] == "fail"
    assert "gotrue: a sign-in answers HTTP 500" in finding["summary"], finding

    p.stack.runner.run(["start", "postgres"])
    deadline = time.monotonic() + 60
    while gotrue_health(p)["health"] != "healthy":
        assert time.monotonic() < deadline, "GoTrue did not recover after Postgres came back"
        time.sleep(0.5)
    doc = p.cli("doctor", "--json", "stack.health")
    finding = {f["id"]: f for f in json.loads(doc.stdout)["findings"]}["stack.health"]
    # Postgres' own healthcheck may not have ticked yet ("still starting"): GoTrue is fine.
    assert finding["status"] in ("ok", "warn") and "gotrue" not in finding["summary"], finding

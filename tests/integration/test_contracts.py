"""The contract suites against a real stack (Postgres, GoTrue, Kong, Redis, the Fireworks mock,
and the mail catcher where the stack has one): all pass; run through pytest one item per check;
and with a service killed, its checks fail by name while the rest still pass."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from devenv import services as svcs
from devenv.contracts import pytest_support
from devenv.contracts.target import Target
from tests.integration.conftest import Project, destroy, make_project

pytestmark = pytest.mark.engine

SERVICES = [s for s in svcs.names()]  # the whole stack (mail too, once devenv has it)


@pytest.fixture(scope="module")
def stack(
    engine: None, gotrue: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Project]:
    base = tmp_path_factory.mktemp("contracts")
    p = make_project(base, SERVICES)
    repo = Path(__file__).resolve().parents[2]
    # The reference app's migrations and seeds: RLS tables with rows owned by seeded users.
    for folder in ("migrations", "seeds"):
        (p.root / folder).symlink_to(repo / folder)
    try:
        proc = p.cli("up", timeout=300)
        assert proc.returncode == 0, proc.stderr
        yield p
    finally:
        destroy(p)


def test_a_stack_not_running_is_one_line(engine: None, tmp_path: Path) -> None:
    p = make_project(tmp_path, ["redis"])
    proc = p.cli("test", "contracts")
    assert proc.returncode == 1
    assert "is not running" in proc.stderr and "devenv up" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def run_contracts(p: Project, *args: str) -> tuple[int, dict[str, Any]]:
    proc = p.cli("test", "contracts", "--json", *args, timeout=180)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def mail_is_consistent(checks: list[dict[str, Any]]) -> None:
    """Before devenv has a mail service the mail suite skips, saying so; after, it passes."""
    mail = [c for c in checks if c["service"] == "mail"]
    assert mail
    if "mail" in svcs.names():
        assert {c["status"] for c in mail} == {"pass"}, mail
    else:
        assert {c["status"] for c in mail} == {"skip"}
        assert all("no mail service" in c["message"] for c in mail)


def test_every_contract_holds(stack: Project, tmp_path: Path) -> None:
    junit = tmp_path / "contracts.xml"
    rc, data = run_contracts(stack, "--junit", str(junit))
    failed = [c for c in data["checks"] if c["status"] == "fail"]
    assert rc == 0 and not failed, failed
    skipped = [c for c in data["checks"] if c["status"] == "skip" and c["service"] != "mail"]
    assert not skipped, skipped
    mail_is_consistent(data["checks"])
    assert {c["service"] for c in data["checks"]} == {
        "postgres",
        "gotrue",
        "kong",
        "redis",
        "mail",
        "fireworks",
    }
    root = ET.parse(junit).getroot()
    assert sum(int(s.get("tests") or 0) for s in root.iter("testsuite")) == len(data["checks"])


contracts = pytest_support.Contracts()


@pytest.fixture(scope="module")
def target(stack: Project) -> Target:
    return Target.from_stack(stack.stack)


@pytest_support.parametrize(["postgres", "gotrue", "kong", "redis", "fireworks"])
def test_contract(contract: str, target: Target) -> None:
    contracts.check(target, contract)


def test_a_killed_service_fails_its_checks_and_the_rest_still_run(stack: Project) -> None:
    # Last in the module: it breaks the module's stack.
    from devenv.stack.engine import Engine

    (redis,) = [c for c in stack.containers() if c.service == "redis"]
    Engine().client.containers.get(redis.id).kill()
    rc, data = run_contracts(stack, "postgres", "kong", "redis", "fireworks")
    assert rc == 1
    by_service: dict[str, set[str]] = {}
    for c in data["checks"]:
        by_service.setdefault(c["service"], set()).add(c["status"])
    assert by_service["redis"] == {"fail"}
    for service in ("postgres", "kong", "fireworks"):
        assert by_service[service] == {"pass"}, service
    ping = next(c for c in data["checks"] if c["check"] == "ping")
    assert "Connection" in ping["message"] or "connect" in ping["message"]

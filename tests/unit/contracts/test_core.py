"""The suite runner, reports and targets: outcomes, ordering, dependencies, redaction, JUnit."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from devenv.contracts import catalog, core, report
from devenv.contracts.core import FAIL, PASS, SKIP, Skip, Suite, check, expect
from devenv.contracts.target import Target
from devenv.errors import UsageError

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2lnbmF0dXJlLWJ5dGVz"


class Demo(Suite):
    service = "demo"

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.closed = False

    def close(self) -> None:
        self.closed = True

    @check("first")
    def first(self) -> None:
        self.state["made"] = True

    @check("broken")
    def broken(self) -> None:
        expect(False, "HTTP 200", f"HTTP 500 with token {JWT}")

    @check("builds_on_broken")
    def builds_on_broken(self) -> None:
        self.needs("broken")

    @check("crashes")
    def crashes(self) -> None:
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    @check("still_runs")
    def still_runs(self) -> None:
        expect(self.state.get("made"), "state from the first check", self.state)

    @check("skips")
    def skips(self) -> None:
        raise Skip("not here")


def test_every_check_runs_and_failures_are_named() -> None:
    suite = Demo(Target())
    out = suite.run()
    assert [o.check for o in out] == Demo.check_names()
    by = {o.check: o for o in out}
    assert by["first"].status == PASS
    assert by["broken"].status == FAIL
    assert by["broken"].message.startswith("expected HTTP 200, got HTTP 500")
    assert by["builds_on_broken"].status == SKIP
    assert "demo.broken" in by["builds_on_broken"].message
    assert by["crashes"].status == FAIL
    assert "ConnectionRefusedError" in by["crashes"].message
    assert by["still_runs"].status == PASS  # a failure does not stop the suite
    assert by["skips"].status == SKIP and by["skips"].message == "not here"
    assert suite.closed


def test_messages_never_carry_tokens_or_keys() -> None:
    target = Target(service_role_key="service-role-secret-value")
    suite = Demo(target)

    def leak() -> None:
        raise RuntimeError("boom with service-role-secret-value inside")

    assert "<jwt>" in suite._one("x", suite.broken).message
    msg = suite._one("y", leak).message
    assert "service-role-secret-value" not in msg and "<secret>" in msg


def test_unavailable_suite_skips_every_check_with_the_reason() -> None:
    class NoTarget(Demo):
        def unavailable(self) -> str | None:
            return "no URL for this target"

    suite = NoTarget(Target())
    out = suite.run()
    assert {o.status for o in out} == {SKIP}
    assert all(o.message == "no URL for this target" for o in out)
    assert not suite.closed


def test_select_knows_every_service_and_refuses_unknown_ones() -> None:
    names = [c.service for c in catalog.select([])]
    assert names == ["postgres", "gotrue", "kong", "redis", "mail", "fireworks"]
    assert [c.service for c in catalog.select(["redis", "kong"])] == ["redis", "kong"]
    with pytest.raises(UsageError, match="no contract suite for 'kafka'"):
        catalog.select(["kafka"])


def test_check_names_are_stable() -> None:
    # Renaming a check breaks CI dashboards and pytest ids: this list changes only on purpose.
    suites = catalog.all_suites()
    assert suites["redis"].check_names() == ["ping", "set_with_ttl", "get", "expiry", "pubsub"]
    assert suites["gotrue"].check_names()[:4] == ["health", "settings", "signup", "password_login"]
    assert "access_token_claims" in suites["gotrue"].check_names()
    assert suites["fireworks"].check_names() == [
        "chat_completion",
        "streaming",
        "vision",
        "json_mode",
        "unknown_model_404",
        "bad_key_401",
    ]


def _outcomes() -> list[core.Outcome]:
    return [
        core.Outcome("redis", "ping", PASS, 0.002),
        core.Outcome("redis", "pubsub", FAIL, 0.01, "expected the published message, got None"),
        core.Outcome("mail", "catcher_api", SKIP, 0.0, "this stack has no mail service"),
    ]


def test_table_shows_service_check_result_time_and_reasons() -> None:
    text = report.table(_outcomes(), 0.5, "stack 'x'")
    lines = text.splitlines()
    assert lines[0].split() == ["SERVICE", "CHECK", "RESULT", "TIME"]
    assert "redis" in lines[1] and "ping" in lines[1] and "ok" in lines[1] and "ms" in lines[1]
    assert "FAIL" in lines[2]
    assert lines[3].strip() == "expected the published message, got None"
    assert lines[-1] == "1 passed, 1 failed, 1 skipped in 0.50 s against stack 'x'"


def test_json_report() -> None:
    data = json.loads(report.as_json(_outcomes(), 0.5, "t"))
    assert data["summary"] == {
        "passed": 1,
        "failed": 1,
        "skipped": 1,
        "seconds": 0.5,
        "ok": False,
    }
    assert data["checks"][1] == {
        "service": "redis",
        "check": "pubsub",
        "status": "fail",
        "seconds": 0.01,
        "message": "expected the published message, got None",
    }


def test_junit_xml(tmp_path: Path) -> None:
    path = tmp_path / "out" / "contracts.xml"
    report.write_junit(path, _outcomes(), 0.5)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert suites["redis"].get("tests") == "2" and suites["redis"].get("failures") == "1"
    assert suites["mail"].get("skipped") == "1"
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert cases["pubsub"].get("classname") == "devenv.contracts.redis"
    failure = cases["pubsub"].find("failure")
    assert failure is not None and "published message" in (failure.get("message") or "")
    assert cases["ping"].find("failure") is None
    assert cases["catcher_api"].find("skipped") is not None


def test_target_from_env_file_and_secrets(tmp_path: Path) -> None:
    env = tmp_path / ".env.staging"
    env.write_text(
        "SUPABASE_URL=https://abc.example.com\nSUPABASE_ANON_KEY=anon-key-value\n"
        "DATABASE_URL=postgresql://postgres:pg-secret-pw@db.example.com:5432/postgres\n"
    )
    t = Target.from_env_file(env)
    assert t.api_url == "https://abc.example.com"
    assert t.auth_url == "https://abc.example.com/auth/v1"
    assert "pg-secret-pw" in t.secret_values() and "anon-key-value" in t.secret_values()
    assert "anon-key-value" not in repr(t) and "pg-secret-pw" not in repr(t)
    assert t.with_values({"gotrue_url": "http://127.0.0.1:9999/"}).auth_url == (
        "http://127.0.0.1:9999"
    )
    with pytest.raises(UsageError, match="not found"):
        Target.from_env_file(tmp_path / "missing.env")

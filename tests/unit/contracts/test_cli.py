"""`devenv test contracts` as a user runs it: against given URLs, with --json and --junit, and
bad input as one line with exit code 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from devenv.mocks.fireworks.app import MockConfig
from devenv.mocks.fireworks.server import MockServer
from devenv.stack.ports import free_port
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(MockConfig()) as server:
        yield server


def test_runs_against_given_urls_and_skips_what_is_not_given(
    mock: MockServer, tmp_path: Path
) -> None:
    env = tmp_path / ".env.ci"
    env.write_text(f"FIREWORKS_BASE_URL={mock.url}/inference/v1\nFIREWORKS_API_KEY=k-123\n")
    junit = tmp_path / "reports" / "contracts.xml"
    proc = run_cli(
        "test",
        "contracts",
        "--env-file",
        str(env),
        "--json",
        "--junit",
        str(junit),
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    by = {(c["service"], c["check"]): c for c in data["checks"]}
    assert by[("fireworks", "streaming")]["status"] == "pass"
    assert by[("redis", "ping")]["status"] == "skip"
    assert "no Redis URL" in by[("redis", "ping")]["message"]
    assert data["summary"]["failed"] == 0
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    assert len(cases) == len(data["checks"])


def test_a_dead_service_fails_by_name_and_exits_1(tmp_path: Path) -> None:
    port = free_port()
    proc = run_cli(
        "test",
        "contracts",
        "redis",
        "--redis-url",
        f"redis://127.0.0.1:{port}/0",
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["SERVICE", "CHECK", "RESULT", "TIME"]
    assert any(line.split()[:3] == ["redis", "ping", "FAIL"] for line in lines)
    assert "Connection refused" in proc.stdout or "ConnectionError" in proc.stdout
    assert lines[-1].startswith("0 passed, 5 failed")


def test_unknown_suite_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_cli("test", "contracts", "kafka", cwd=tmp_path)
    assert proc.returncode == 2
    assert "no contract suite for 'kafka'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_missing_env_file_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_cli("test", "contracts", "--env-file", str(tmp_path / "nope.env"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "nope.env not found" in proc.stderr
    assert "Traceback" not in proc.stderr

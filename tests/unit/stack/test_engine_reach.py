"""How a process finds its engine and a throw-away stack its ports, on any engine: the docker
context (when DOCKER_HOST is unset) becomes DOCKER_HOST for everything devenv runs, and
DEVENV_PORT_RANGE bounds the ports a test stack takes (a CI runner's published range)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from devenv import environ
from devenv.errors import ConfigError, PortInUse
from devenv.stack import ports
from devenv.stack.handle import process_environ
from devenv.stack.project import stack_host


def _context(home: Path, name: str, host: str) -> None:
    docker = home / ".docker"
    meta = docker / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(
        json.dumps({"Name": name, "Endpoints": {"docker": {"Host": host}}})
    )
    (docker / "config.json").write_text(json.dumps({"currentContext": name}))


def test_a_docker_context_becomes_the_engine_and_its_host_the_stacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _context(tmp_path, "build-box", "ssh://me@10.1.2.3")
    monkeypatch.setenv("HOME", str(tmp_path))
    # Recorded first, so the DOCKER_HOST process_environ exports is undone after the test.
    monkeypatch.setenv("DOCKER_HOST", "")
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.delenv("DEVENV_HOST", raising=False)
    env = process_environ()
    assert env.docker_host == "ssh://me@10.1.2.3"
    # Exported, so the Docker SDK, devenv's socket client and compose use the same engine.
    assert os.environ["DOCKER_HOST"] == "ssh://me@10.1.2.3"
    from devenv import config

    assert stack_host(config.in_memory(tmp_path, name="x", services=()), env) == "10.1.2.3"


def test_docker_host_wins_over_the_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _context(tmp_path, "build-box", "ssh://me@10.1.2.3")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.2:2375")
    assert process_environ().docker_host == "tcp://127.0.0.2:2375"


def test_port_range_bounds_a_test_stacks_ports() -> None:
    env = environ.read({"DEVENV_PORT_RANGE": "54300-54309"})
    assert env.port_range == (54300, 54309)
    got = ports.free_for(["a", "b", "c"], within=env.port_range, local=False)
    assert len(set(got.values())) == 3 and all(54300 <= p <= 54309 for p in got.values())
    with pytest.raises(PortInUse) as err:
        ports.free_for([str(i) for i in range(11)], within=env.port_range, local=False)
    assert "fewer than 11 free ports" in err.value.message


@pytest.mark.parametrize("bad", ["54300", "a-b", "60000-50000", "80-90", "1-70000"])
def test_a_malformed_port_range_is_one_line(bad: str) -> None:
    with pytest.raises(ConfigError) as err:
        environ.read({"DEVENV_PORT_RANGE": bad})
    assert "DEVENV_PORT_RANGE" in err.value.message and "LOW-HIGH" in (err.value.hint or "")

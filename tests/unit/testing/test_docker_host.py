"""Ephemeral stacks take the Docker host from testcontainers' detection (its properties file,
DOCKER_HOST, the docker context) and honour TESTCONTAINERS_RYUK_DISABLED. Run in a subprocess:
testcontainers reads its configuration once, at import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

CODE = """
import os
from devenv.testing import ephemeral
print(ephemeral.use_docker_host())
print(os.environ.get("DOCKER_HOST"))
from testcontainers.core.config import testcontainers_config as tc
print(tc.ryuk_disabled)
"""


def run(home: Path, **extra: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "TESTCONTAINERS_"))}
    env.update(HOME=str(home), PYTHONPATH=str(REPO), **extra)
    out = subprocess.run(
        [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_tc_host_from_the_properties_file_is_exported(tmp_path: Path) -> None:
    (tmp_path / ".testcontainers.properties").write_text(
        "tc.host=unix:///tmp/devenv-test-docker.sock\nryuk.disabled=true\n"
    )
    host, exported, disabled = run(tmp_path)
    assert host == exported == "unix:///tmp/devenv-test-docker.sock"
    assert disabled == "True"


def test_docker_host_wins_when_set_and_ryuk_env_switch(tmp_path: Path) -> None:
    host, exported, disabled = run(
        tmp_path, DOCKER_HOST="unix:///var/run/docker.sock", TESTCONTAINERS_RYUK_DISABLED="true"
    )
    assert host == exported == "unix:///var/run/docker.sock"
    assert disabled == "True"


def test_default_socket_is_left_to_the_docker_sdk(tmp_path: Path) -> None:
    host, exported, disabled = run(tmp_path)
    assert host == exported == "None"
    assert disabled == "False"

"""Which engine devenv talks to (devenv.stack.engine_info), without an engine: the kind from
/version and /info answers, and the docker context from real docker CLI config folders.

The Docker, Docker-in-Docker and Podman answers below are trimmed from what those engines
answered on this kind of machine (Docker 20.10 from Debian; the same in a container, reached
over tcp; Podman 4.3.1's compatible API service). Docker Desktop's is its documented shape
(it names itself in OperatingSystem, Platform.Name and a com.docker.desktop label).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devenv.errors import EngineError
from devenv.stack import engine_info
from devenv.stack.engine_info import (
    DEFAULT_HOST,
    DESKTOP,
    DIND,
    LOCAL,
    NO_SHARED_FILES,
    PODMAN,
    REMOTE,
    context_docker_host,
    engine_address,
    engine_kind,
)
from tests.conftest import unavailable

DOCKER_VERSION: dict[str, Any] = {
    "Platform": {"Name": ""},
    "Components": [
        {"Name": "Engine", "Version": "20.10.24+dfsg1", "Details": {"ApiVersion": "1.41"}},
        {"Name": "containerd", "Version": "1.6.20~ds1", "Details": {}},
    ],
    "Version": "20.10.24+dfsg1",
    "ApiVersion": "1.41",
    "MinAPIVersion": "1.12",
    "Os": "linux",
    "Arch": "amd64",
}
DOCKER_INFO: dict[str, Any] = {
    "OperatingSystem": "Debian GNU/Linux 12 (bookworm)",
    "Name": "vm",
    "ServerVersion": "20.10.24+dfsg1",
    "SecurityOptions": ["name=seccomp,profile=default"],
    "Labels": [],
    "DockerRootDir": "/var/lib/docker",
}
DIND_INFO: dict[str, Any] = {
    **DOCKER_INFO,
    "OperatingSystem": "Debian GNU/Linux 12 (bookworm) (containerized)",
    "Name": "8ab0d3f3761d",
}
PODMAN_VERSION: dict[str, Any] = {
    "Platform": {"Name": "linux/amd64/debian-12"},
    "Components": [
        {
            "Name": "Podman Engine",
            "Version": "4.3.1",
            "Details": {"APIVersion": "4.3.1", "MinAPIVersion": "4.0.0", "Os": "linux"},
        },
        {"Name": "Conmon", "Version": "conmon version 2.1.6, commit: unknown", "Details": {}},
        {"Name": "OCI Runtime (runc)", "Version": "runc version 1.1.5+ds1", "Details": {}},
    ],
    "Version": "4.3.1",
    "ApiVersion": "1.41",
    "MinAPIVersion": "1.24",
    "Os": "linux",
    "Arch": "amd64",
}
PODMAN_INFO: dict[str, Any] = {
    "OperatingSystem": "debian",
    "Name": "b5beaf28fca0",
    "ServerVersion": "4.3.1",
    "SecurityOptions": ["name=seccomp,profile=default"],
    "Labels": None,  # Podman sends null where Docker sends []
    "DockerRootDir": "/var/lib/containers/storage",
}
DESKTOP_VERSION: dict[str, Any] = {
    **DOCKER_VERSION,
    "Platform": {"Name": "Docker Desktop 4.25.0 (126437)"},
    "Version": "24.0.6",
}
DESKTOP_INFO: dict[str, Any] = {
    **DOCKER_INFO,
    "OperatingSystem": "Docker Desktop",
    "Name": "docker-desktop",
    "Labels": [
        "com.docker.desktop.address=unix:///Users/dev/Library/Containers/com.docker.docker"
        "/Data/docker-cli.sock"
    ],
}


# -- kind ------------------------------------------------------------------------------------


def test_local_docker_on_the_default_socket_shares_files() -> None:
    k = engine_kind(DOCKER_VERSION, DOCKER_INFO, "")
    assert (k.kind, k.label, k.shares_files, k.transport) == (LOCAL, "local Docker", True, "unix")
    assert k.version == "20.10.24+dfsg1" and not k.remote
    assert k.description == (
        f"local Docker 20.10.24+dfsg1 at {DEFAULT_HOST}: shares this machine's files"
    )


def test_local_docker_on_another_socket_is_still_local() -> None:
    k = engine_kind(DOCKER_VERSION, DOCKER_INFO, "unix:///run/user/1000/docker.sock")
    assert k.kind == LOCAL and k.shares_files
    assert "at unix:///run/user/1000/docker.sock" in k.description


def test_rootless_docker_says_so() -> None:
    info = {**DOCKER_INFO, "SecurityOptions": ["name=seccomp,profile=builtin", "name=rootless"]}
    k = engine_kind(DOCKER_VERSION, info, "unix:///run/user/1000/docker.sock")
    assert (k.kind, k.label, k.shares_files) == (LOCAL, "local Docker (rootless)", True)


@pytest.mark.parametrize(
    ("host", "via"), [("tcp://docker:2375", "tcp"), ("ssh://deploy@build.example", "ssh")]
)
def test_remote_docker_shares_no_files_and_devenv_needs_none(host: str, via: str) -> None:
    k = engine_kind(DOCKER_VERSION, DOCKER_INFO, host)
    assert (k.kind, k.label, k.shares_files, k.transport) == (
        REMOTE,
        f"remote Docker over {via}",
        False,
        via,
    )
    assert k.remote
    assert k.description == f"remote Docker 20.10.24+dfsg1 at {host}: {NO_SHARED_FILES}"
    assert "mounts no host path" in k.description


def test_docker_in_docker_is_a_remote_engine_that_says_containerized() -> None:
    k = engine_kind(DOCKER_VERSION, DIND_INFO, "tcp://127.0.0.2:2375")
    assert (k.kind, k.label, k.shares_files) == (DIND, "Docker-in-Docker over tcp", False)
    assert k.description.startswith("Docker-in-Docker 20.10.24+dfsg1 (an engine in a container)")
    assert NO_SHARED_FILES in k.description


def test_a_containerized_engine_on_a_local_socket_is_local() -> None:
    # The engine runs in the container devenv runs in (its socket is here): it sees our files.
    k = engine_kind(DOCKER_VERSION, DIND_INFO, "unix:///var/run/docker.sock")
    assert k.kind == LOCAL and k.shares_files


@pytest.mark.parametrize(
    ("host", "label", "shares"),
    [
        ("unix:///run/podman/podman.sock", "Podman", True),
        ("tcp://127.0.0.2:8888", "Podman over tcp", False),
    ],
)
def test_podman_by_its_engine_component(host: str, label: str, shares: bool) -> None:
    k = engine_kind(PODMAN_VERSION, PODMAN_INFO, host)
    assert (k.kind, k.label, k.shares_files, k.version) == (PODMAN, label, shares, "4.3.1")
    assert k.description.startswith(f"Podman 4.3.1 at {host}: ")
    assert engine_info.podman_version(PODMAN_VERSION) == "4.3.1"
    assert engine_info.podman_version(DOCKER_VERSION) is None


def test_podman_wins_over_the_containerized_mark() -> None:
    info = {**PODMAN_INFO, "OperatingSystem": "debian (containerized)"}
    assert engine_kind(PODMAN_VERSION, info, "tcp://h:8888").kind == PODMAN


def test_docker_desktop_by_its_platform_name_or_its_info() -> None:
    k = engine_kind(DESKTOP_VERSION, DESKTOP_INFO, "unix:///Users/dev/.docker/run/docker.sock")
    assert (k.kind, k.label, k.version) == (DESKTOP, "Docker Desktop", "4.25.0")
    assert k.shares_files
    assert k.description.startswith("Docker Desktop 4.25.0 (engine 24.0.6) at unix://")
    assert "file-sharing settings" in k.description
    # An older one without Platform.Name: its /info still says so.
    k = engine_kind(DOCKER_VERSION, DESKTOP_INFO, "")
    assert k.kind == DESKTOP and k.version == "20.10.24+dfsg1"
    k = engine_kind(DOCKER_VERSION, {**DOCKER_INFO, "Labels": DESKTOP_INFO["Labels"]}, "")
    assert k.kind == DESKTOP


def test_docker_desktop_on_a_loopback_tcp_port_shares_files_elsewhere_not() -> None:
    assert engine_kind(DESKTOP_VERSION, DESKTOP_INFO, "tcp://localhost:2375").shares_files
    assert engine_kind(DESKTOP_VERSION, DESKTOP_INFO, "tcp://127.0.0.1:2375").shares_files
    assert not engine_kind(DESKTOP_VERSION, DESKTOP_INFO, "tcp://10.0.0.5:2375").shares_files


def test_answers_missing_fields_still_give_a_kind() -> None:
    k = engine_kind({}, {}, "tcp://h:2375")
    assert k.kind == REMOTE and k.version == "?"


def test_transport() -> None:
    assert engine_info.transport("") == "unix"
    assert engine_info.transport("unix:///var/run/docker.sock") == "unix"
    assert engine_info.transport("npipe:////./pipe/docker_engine") == "npipe"
    assert engine_info.transport("TCP://h:2375") == "tcp"
    assert engine_info.transport("ssh://u@h") == "ssh"


# -- the docker context ----------------------------------------------------------------------


def make_context(config_dir: Path, name: str, host: str | None) -> Path:
    """A context as `docker context create` writes it: meta.json in a folder named by the
    SHA-256 of the context's name."""
    folder = config_dir / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    folder.mkdir(parents=True)
    endpoints = {"docker": {"Host": host, "SkipTLSVerify": False}} if host is not None else {}
    (folder / "meta.json").write_text(
        json.dumps({"Name": name, "Metadata": {}, "Endpoints": endpoints})
    )
    return folder / "meta.json"


def use_context(config_dir: Path, name: str) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.json").write_text(json.dumps({"auths": {}, "currentContext": name}))


def test_no_context_no_docker_host_is_the_default_socket(tmp_path: Path) -> None:
    assert context_docker_host({}, tmp_path) is None
    addr = engine_address({}, tmp_path)
    assert (addr.host, addr.context, addr.from_context) == (DEFAULT_HOST, "default", False)
    assert addr.source == "the default socket"
    # A config.json without currentContext (most of them: only auths) changes nothing.
    (tmp_path / ".docker").mkdir()
    (tmp_path / ".docker" / "config.json").write_text('{"auths": {}}')
    assert context_docker_host({}, tmp_path) is None


def test_docker_context_env_names_the_engine(tmp_path: Path) -> None:
    make_context(tmp_path / ".docker", "ci", "tcp://docker:2375")
    env = {"DOCKER_CONTEXT": "ci"}
    assert context_docker_host(env, tmp_path) == "tcp://docker:2375"
    addr = engine_address(env, tmp_path)
    assert (addr.host, addr.context, addr.from_context) == ("tcp://docker:2375", "ci", True)
    assert addr.source == "docker context 'ci', from DOCKER_CONTEXT"


def test_current_context_in_config_json(tmp_path: Path) -> None:
    docker = tmp_path / ".docker"
    make_context(docker, "desktop-linux", "unix:///home/dev/.docker/desktop/docker.sock")
    use_context(docker, "desktop-linux")
    assert context_docker_host({}, tmp_path) == "unix:///home/dev/.docker/desktop/docker.sock"
    addr = engine_address({}, tmp_path)
    assert addr.source == (
        f"docker context 'desktop-linux', from currentContext in {docker / 'config.json'}"
    )


def test_docker_host_wins_over_every_context(tmp_path: Path) -> None:
    make_context(tmp_path / ".docker", "ci", "tcp://docker:2375")
    use_context(tmp_path / ".docker", "ci")
    env = {"DOCKER_HOST": "unix:///tmp/other.sock", "DOCKER_CONTEXT": "ci"}
    assert context_docker_host(env, tmp_path) is None
    addr = engine_address(env, tmp_path)
    assert (addr.host, addr.source, addr.from_context) == (
        "unix:///tmp/other.sock",
        "DOCKER_HOST",
        False,
    )


def test_docker_context_env_wins_over_current_context(tmp_path: Path) -> None:
    make_context(tmp_path / ".docker", "a", "tcp://a:2375")
    make_context(tmp_path / ".docker", "b", "ssh://me@b")
    use_context(tmp_path / ".docker", "a")
    assert context_docker_host({"DOCKER_CONTEXT": "b"}, tmp_path) == "ssh://me@b"
    # "default" is the DOCKER_HOST-or-socket context, even over config.json's choice.
    assert context_docker_host({"DOCKER_CONTEXT": "default"}, tmp_path) is None


def test_docker_config_moves_the_folder(tmp_path: Path) -> None:
    elsewhere = tmp_path / "cfg"
    make_context(elsewhere, "ci", "tcp://docker:2375")
    use_context(elsewhere, "ci")
    make_context(tmp_path / ".docker", "ci", "tcp://not-this-one:2375")
    env = {"DOCKER_CONFIG": str(elsewhere)}
    assert context_docker_host(env, tmp_path) == "tcp://docker:2375"


def test_a_context_without_a_docker_host_is_the_default_socket(tmp_path: Path) -> None:
    make_context(tmp_path / ".docker", "empty", None)
    assert context_docker_host({"DOCKER_CONTEXT": "empty"}, tmp_path) == DEFAULT_HOST


def test_a_missing_context_is_an_error_as_in_the_docker_cli(tmp_path: Path) -> None:
    with pytest.raises(EngineError) as exc:
        context_docker_host({"DOCKER_CONTEXT": "gone"}, tmp_path)
    assert "docker context 'gone' (named by DOCKER_CONTEXT) does not exist" in exc.value.message
    assert exc.value.hint and exc.value.hint.startswith("unset DOCKER_CONTEXT")
    use_context(tmp_path / ".docker", "gone")
    with pytest.raises(EngineError) as exc:
        engine_address({}, tmp_path)
    assert "(named by currentContext in" in exc.value.message
    assert exc.value.hint and exc.value.hint.startswith("`docker context use default`")


def test_unreadable_context_files_are_errors(tmp_path: Path) -> None:
    meta = make_context(tmp_path / ".docker", "ci", "tcp://docker:2375")
    meta.write_text("{not json")
    with pytest.raises(EngineError, match="cannot read"):
        context_docker_host({"DOCKER_CONTEXT": "ci"}, tmp_path)
    (tmp_path / ".docker" / "config.json").write_text("{also not json")
    with pytest.raises(EngineError, match="is not valid JSON"):
        context_docker_host({}, tmp_path)


def test_the_docker_clis_own_context_files_are_read(tmp_path: Path) -> None:
    """The layout and the name's digest, against the docker CLI itself writing them."""
    if shutil.which("docker") is None:
        unavailable("the docker CLI is not on PATH")
    config = tmp_path / "cli"
    config.mkdir()

    def docker(*args: str) -> None:
        subprocess.run(
            ["docker", "--config", str(config), "context", *args],
            check=True,
            capture_output=True,
            timeout=30,
        )

    docker("create", "remote.ci", "--docker", "host=tcp://docker:2375")
    docker("create", "over-ssh", "--docker", "host=ssh://deploy@build")
    env = {"DOCKER_CONFIG": str(config)}
    assert context_docker_host({**env, "DOCKER_CONTEXT": "remote.ci"}, tmp_path) == (
        "tcp://docker:2375"
    )
    docker("use", "over-ssh")
    assert context_docker_host(env, tmp_path) == "ssh://deploy@build"
    docker("use", "default")
    assert context_docker_host(env, tmp_path) is None

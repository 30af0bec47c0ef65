"""The second engines remote-engine tests run devenv against, proven with plain `docker` and
`docker compose` (not devenv): each kind answers at its own loopback address, has the stack's
images, publishes fixed and automatically chosen ports where the host reaches them, cannot see
the host's files, and (Podman) never runs healthchecks."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.support.engines import SecondEngine, stack_images

pytestmark = pytest.mark.engine


def redis_ping(host: str, port: int, timeout: float = 20) -> bytes:
    """Redis' answer to PING at host:port. Retried: the local engine's proxy accepts a connection
    on a published port before anything listens behind it, and then resets it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=3) as s:
                s.sendall(b"PING\r\n")
                answer = s.recv(64)
            if answer:
                return answer
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no Redis answer at {host}:{port} within {timeout:.0f} s")
        time.sleep(0.3)


@pytest.fixture
def compose_project(second_engine: SecondEngine, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A project name and folder for a compose file; the project is taken down afterwards."""
    name = f"eng-{uuid.uuid4().hex[:8]}"
    folder = tmp_path / name
    folder.mkdir()
    yield name, folder
    second_engine.docker(
        "compose", "-p", name, "down", "--volumes", "--timeout", "2", check=False, cwd=folder
    )


def write_compose(folder: Path, services: dict[str, object]) -> None:
    # JSON is YAML: no YAML writer needed.
    (folder / "compose.yaml").write_text(json.dumps({"services": services}, indent=2))


def redis_service(**extra: object) -> dict[str, object]:
    # pull_policy never: no registry here, and the image must be found under the name the
    # harness gave it (on Podman the loaded image is localhost/NAME).
    return {"image": stack_images()["DEVENV_IMAGE_REDIS"], "pull_policy": "never", **extra}


def test_engine_answers_at_its_own_address_with_the_stacks_images(
    second_engine: SecondEngine,
) -> None:
    e = second_engine
    assert urlparse(e.docker_host).hostname == e.host != "127.0.0.1"
    assert e.env["DOCKER_HOST"] == e.docker_host
    server = json.loads(e.docker("version", "--format", "{{json .Server}}").stdout)
    components = {c["Name"] for c in server.get("Components") or []}
    if e.kind == "podman":
        assert "Podman Engine" in components, server
    else:
        assert "Engine" in components and server["Version"].startswith("20.10"), server
    # Every image the harness names, under that name (no localhost/ on Podman either).
    for variable, image in stack_images().items():
        assert e.env[variable] == image
        e.docker("image", "inspect", "--format", "{{.Id}}", image)


def test_fixed_and_automatic_host_ports_are_reached_at_the_engines_host(
    second_engine: SecondEngine, compose_project: tuple[str, Path]
) -> None:
    e = second_engine
    name, folder = compose_project
    with e.reserved_ports(1) as [port]:
        write_compose(
            folder,
            {
                "fixed": redis_service(ports=[f"{port}:6379"]),
                # An empty host port: the engine chooses it, from the engine container's
                # ip_local_port_range, which the harness keeps inside the published range.
                "auto": redis_service(ports=["6379"]),
            },
        )
        e.docker("compose", "-p", name, "up", "--detach", cwd=folder)
        # Docker says 0.0.0.0:PORT, Podman :PORT (no host address given).
        chosen = e.docker("compose", "-p", name, "port", "auto", "6379", cwd=folder).stdout
        auto = int(chosen.strip().rsplit(":", 1)[1])
        assert e.auto_port_range[0] <= auto <= e.auto_port_range[1], chosen
        assert e.port_range[0] <= auto <= e.port_range[1]
        assert redis_ping(e.host, port) == b"+PONG\r\n"
        assert redis_ping(e.host, auto) == b"+PONG\r\n"


def test_a_port_published_on_0000_is_unreachable_on_podman(
    second_engine: SecondEngine, compose_project: tuple[str, Path]
) -> None:
    """Podman 4.3.1 (netavark 1.4) takes a host address of 0.0.0.0 literally: its DNAT rule
    matches packets sent to 0.0.0.0 only, and the port, though published and held open, never
    answers. On Podman a port for every address must leave the host address empty
    ("PORT:6379"); Docker treats both alike."""
    e = second_engine
    name, folder = compose_project
    with e.reserved_ports(2) as [plain, any_address]:
        write_compose(
            folder,
            {"redis": redis_service(ports=[f"{plain}:6379", f"0.0.0.0:{any_address}:6379"])},
        )
        e.docker("compose", "-p", name, "up", "--detach", cwd=folder)
        assert redis_ping(e.host, plain) == b"+PONG\r\n"  # the server is up
        if e.kind == "podman":
            with pytest.raises(AssertionError, match="no Redis answer"):
                redis_ping(e.host, any_address, timeout=3)
        else:
            assert redis_ping(e.host, any_address) == b"+PONG\r\n"


def test_a_host_folder_is_not_visible_to_the_engine(
    second_engine: SecondEngine, compose_project: tuple[str, Path]
) -> None:
    """A CI runner's situation: the engine runs elsewhere, a bind mount names a path on the
    engine's machine (here: inside the engine container), never the client's files."""
    name, folder = compose_project
    shared = folder / "shared"
    shared.mkdir()
    (shared / "marker").write_text("on the host only\n")
    write_compose(
        folder,
        {"probe": redis_service(volumes=[f"{shared}:/probe"], command=["ls", "-A", "/probe"])},
    )
    listing = second_engine.docker("compose", "-p", name, "run", "--rm", "probe", cwd=folder)
    # The engine (Docker, and Podman's compatible API alike) makes the missing source folder,
    # empty, on its own machine: the run succeeds and sees nothing of the host's.
    assert listing.stdout.strip() == "", listing.stdout


def test_healthchecks_run_on_docker_and_never_on_podman(
    second_engine: SecondEngine, compose_project: tuple[str, Path]
) -> None:
    """Podman 4.3.1 runs healthchecks from systemd timers; in a container without systemd they
    never run, and a service stays "starting": readiness is devenv's to decide there (and
    `compose up --wait` would wait forever)."""
    e = second_engine
    name, folder = compose_project
    check = {"test": ["CMD", "redis-cli", "ping"], "interval": "1s", "timeout": "3s", "retries": 3}
    write_compose(folder, {"redis": redis_service(healthcheck=check)})
    e.docker("compose", "-p", name, "up", "--detach", cwd=folder)
    cid = e.docker("compose", "-p", name, "ps", "-q", "redis", cwd=folder).stdout.strip()
    deadline = time.monotonic() + (6 if e.kind == "podman" else 30)
    status = ""
    while time.monotonic() < deadline:
        status = e.docker("inspect", "--format", "{{.State.Health.Status}}", cid).stdout.strip()
        if status == "healthy":
            break
        time.sleep(0.5)
    assert status == ("starting" if e.kind == "podman" else "healthy")
    if e.kind == "podman":
        health = json.loads(e.docker("inspect", "--format", "{{json .State.Health}}", cid).stdout)
        assert not health.get("Log"), health  # never ran, not failing


@pytest.mark.parametrize("second_engine", ["ssh"], indirect=True)
def test_ssh_uses_the_harness_key_and_config_only(second_engine: SecondEngine) -> None:
    e = second_engine
    folder = Path(e.env["PATH"].split(":", 1)[0])
    assert (folder / "ssh").is_file() and (folder / "config").is_file()
    assert e.docker_host == "ssh://root@127.0.0.4:2222"
    assert Path.home() / ".ssh" not in folder.parents
    # The docker CLI reaches the engine through the wrapper; the remote end is the engine
    # container.
    assert e.docker("info", "--format", "{{.Name}}").stdout.strip() == e.container


@pytest.mark.parametrize("second_engine", ["dind", "podman"], indirect=True)
def test_the_standard_library_client_reads_a_tcp_engine(
    second_engine: SecondEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """devenv's plain HTTP reads (devenv.stack.engine_api) over tcp give what the engine says."""
    from devenv.stack import engine_api

    monkeypatch.setenv("DOCKER_HOST", second_engine.docker_host)
    assert engine_api.get("/_ping") == "OK"
    version = engine_api.get("/version")
    assert isinstance(version, dict) and version.get("ApiVersion")
    assert isinstance(engine_api.get("/containers/json?all=1"), list)

"""Where devenv talks to the engine with the standard library (devenv.stack.engine_api): its Unix
socket and plain tcp (a dind service in CI); TLS and ssh are the SDK's."""

from __future__ import annotations

import socket

import pytest

from devenv.errors import EngineError
from devenv.stack import engine_api


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, (socket.AF_UNIX, engine_api.DEFAULT_SOCKET)),
        (
            {"DOCKER_HOST": "unix:///run/user/1000/docker.sock"},
            (socket.AF_UNIX, "/run/user/1000/docker.sock"),
        ),
        ({"DOCKER_HOST": "tcp://127.0.0.2:2375"}, (socket.AF_INET, ("127.0.0.2", 2375))),
        ({"DOCKER_HOST": "tcp://docker"}, (socket.AF_INET, ("docker", 2375))),
        ({"DOCKER_HOST": "tcp://127.0.0.2:2376", "DOCKER_TLS_VERIFY": "1"}, None),
        ({"DOCKER_HOST": "tcp://127.0.0.2:2376", "DOCKER_CERT_PATH": "/certs"}, None),
        ({"DOCKER_HOST": "ssh://me@127.0.0.4"}, None),
        ({"DOCKER_HOST": "tcp://127.0.0.2:notaport"}, None),
    ],
)
def test_plain_endpoint(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: object
) -> None:
    for key in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert engine_api.plain_endpoint() == expected


def test_a_tcp_engine_that_does_not_answer_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{port}")
    with pytest.raises(EngineError) as err:
        engine_api.get("/_ping")
    assert f"tcp://127.0.0.1:{port}" in err.value.one_line()

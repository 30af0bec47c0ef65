"""Port checks against real sockets: a conflict names port, service and holder."""

from __future__ import annotations

import socket

import pytest

from devenv.errors import PortInUse
from devenv.stack import ports


def test_free_port_is_free() -> None:
    p = ports.free_port()
    assert ports.is_free(p)


def test_conflict_names_port_service_and_process() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert not ports.is_free(port)
        with pytest.raises(PortInUse) as err:
            ports.check({"redis": port})
        line = err.value.one_line()
        assert f"port {port} for redis is already in use" in line
        assert "process python" in line  # this very test process holds it
        assert "[ports]" in line and "nothing was started" in line
        assert err.value.exit_code == 1


def test_our_own_ports_are_not_conflicts() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        ports.check({"redis": port}, ours={port})


def test_suggestion_is_free() -> None:
    p = ports.free_port()
    alt = ports.suggest(p)
    assert alt != p and ports.is_free(alt)

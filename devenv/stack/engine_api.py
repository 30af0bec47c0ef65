"""Read-only engine API calls over the engine's Unix socket with the standard library, when
that is where the engine is: the doctor's /_ping, /version and /info, and the container list
and inspect that every `devenv` command's `ps` makes.

Why not the Docker SDK here: importing it (and requests, urllib3) costs more CPU than `devenv
doctor engine` may take (under 0.3 s) and most of a second `devenv up` on a running stack. Where
the engine is elsewhere (tcp with TLS, ssh), the SDK is used, so the answers are the same JSON
the SDK would return. Errors are the Engine's own EngineErrors.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from typing import Any

from devenv.errors import EngineError
from devenv.stack.engine import docker_host_label, engine_error

DEFAULT_SOCKET = "/var/run/docker.sock"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def unix_socket() -> str | None:
    """The engine's socket path if DOCKER_HOST names a local socket (or is unset), else None
    (then the SDK, which knows TLS and ssh, does the talking)."""
    if os.environ.get("DOCKER_TLS_VERIFY"):
        return None
    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        return DEFAULT_SOCKET
    if host.startswith("unix://"):
        return host[len("unix://") :]
    return None


class NotFound(EngineError):
    """The engine answered 404 (a container removed between list and inspect)."""


def get(path: str, timeout: float = 2.0) -> Any:
    """GET ``path`` from the engine's API over its Unix socket: the decoded JSON (or text)."""
    sock = unix_socket()
    if sock is None:
        raise ValueError("the engine is not on a local Unix socket")
    conn = _UnixConnection(sock, timeout)
    try:
        conn.request("GET", path, headers={"Host": "docker"})
        r = conn.getresponse()
        body = r.read()
    except OSError as exc:
        raise engine_error(docker_host_label(), exc) from None
    finally:
        conn.close()
    if r.status == 404:
        raise NotFound(f"the Docker engine has no {path}", None)
    if r.status != 200:
        raise EngineError(
            f"the Docker engine at {docker_host_label()} answered {path} with HTTP {r.status}",
            "restart Docker",
        )
    text = body.decode("utf-8", "replace")
    return (
        json.loads(text) if r.getheader("Content-Type", "").startswith("application/json") else text
    )

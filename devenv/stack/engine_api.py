"""Read-only engine API calls with the standard library where the engine speaks plain HTTP
(its Unix socket, or tcp:// without TLS, as a dind service in CI): the doctor's /_ping,
/version and /info, and the container list and inspect that every `devenv` command's `ps`
makes.

Why not the Docker SDK here: importing it (and requests, urllib3) costs more CPU than `devenv
doctor engine` may take (under 0.3 s) and most of a second `devenv up` on a running stack. Where
the engine needs more (TLS, ssh), the SDK is used, so the answers are the same JSON the SDK would
return. Errors are the Engine's own EngineErrors.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

from devenv.errors import EngineError

DEFAULT_SOCKET = "/var/run/docker.sock"


def remote_host(docker_host: str) -> str | None:
    """The host of a remote engine (``tcp://H:P``, ``ssh://user@H``, ``http(s)://H:P``): where it
    publishes ports. None for a local one (a Unix socket, a named pipe, or nothing set)."""
    from urllib.parse import urlsplit

    u = urlsplit(docker_host)
    if u.scheme in ("tcp", "ssh", "http", "https") and u.hostname:
        return u.hostname
    return None


def docker_host_label() -> str:
    """Where the engine is, for messages: DOCKER_HOST or the default socket."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def engine_error(where: str, exc: BaseException) -> EngineError:
    text = str(exc)
    cause: BaseException | None = exc
    while cause is not None:  # the socket error that matters is usually a few causes down
        if isinstance(cause, PermissionError):
            return EngineError(
                f"cannot read the Docker socket {where}: permission denied",
                "add your user to the `docker` group (then log in again) or run with sudo",
            )
        if isinstance(cause, FileNotFoundError | ConnectionRefusedError):
            break
        cause = cause.__cause__ or cause.__context__
    if "Permission denied" in text:
        return EngineError(
            f"cannot read the Docker socket {where}: permission denied",
            "add your user to the `docker` group (then log in again) or run with sudo",
        )
    return EngineError(
        f"the Docker engine is not running or not reachable at {where}",
        "start Docker (Docker Desktop, or `sudo systemctl start docker`), or fix DOCKER_HOST;"
        " `devenv doctor engine` says more",
    )


def plain_endpoint() -> tuple[int, Any] | None:
    """Where the engine answers plain HTTP, as a socket family and address: its Unix socket
    (DOCKER_HOST unix://..., or unset) or a tcp:// host and port without TLS; None when the SDK
    has to talk (TLS, ssh, anything else)."""
    from urllib.parse import urlsplit

    if os.environ.get("DOCKER_TLS_VERIFY") or os.environ.get("DOCKER_CERT_PATH"):
        return None
    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        return socket.AF_UNIX, DEFAULT_SOCKET
    if host.startswith("unix://"):
        return socket.AF_UNIX, host[len("unix://") :]
    u = urlsplit(host)
    if u.scheme in ("tcp", "http") and u.hostname:
        try:
            port = u.port or 2375
        except ValueError:
            return None
        return socket.AF_INET, (u.hostname, port)
    return None


class NotFound(EngineError):
    """The engine answered 404 (a container removed between list and inspect)."""


def get(path: str, timeout: float = 2.0) -> Any:
    """GET ``path`` from the engine's API (see :func:`plain_endpoint`): the decoded JSON (or
    text).

    A plain HTTP/1.0 exchange on the socket rather than http.client, which imports ssl (and with
    it OpenSSL) on a path that never needs it: the engine answers an HTTP/1.0 request with the
    whole body and closes the connection, so there is no chunked encoding to undo.
    """
    endpoint = plain_endpoint()
    if endpoint is None:
        raise ValueError("the engine does not speak plain HTTP here (TLS or ssh)")
    family, address = endpoint
    try:
        if family == socket.AF_UNIX:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.settimeout(timeout)
                s.connect(address)
            except OSError:
                s.close()
                raise
        else:
            s = socket.create_connection(address, timeout=timeout)
        with s:
            s.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
    except OSError as exc:
        raise engine_error(docker_host_label(), exc) from None
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        raise EngineError(
            f"the Docker engine at {docker_host_label()} gave no HTTP answer to {path}",
            "restart Docker",
        ) from None
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    if status == 404:
        raise NotFound(f"the Docker engine has no {path}", None)
    if status != 200:
        raise EngineError(
            f"the Docker engine at {docker_host_label()} answered {path} with HTTP {status}",
            "restart Docker",
        )
    text = body.decode("utf-8", "replace")
    json_body = headers.get("content-type", "").startswith("application/json")
    return json.loads(text) if json_body else text

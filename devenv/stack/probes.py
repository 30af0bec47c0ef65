"""devenv's own readiness probes: each service asked, from devenv's side, at the address where
the engine publishes it, what an app would ask first.

Why not the engine's healthchecks: they tick once a second (``start_interval``, which would
shorten the first ticks, needs engine API 1.44), so a Postgres that answers 0.3 s after its start
is reported healthy a second later; and Podman without systemd runs none at all. The healthchecks
stay in compose.yaml for ``docker ps`` and compose users, off devenv's critical path.

- Postgres (and the pooler): the protocol's startup message, as ``pg_isready`` does: an
  authentication request back means the server accepts connections; "the database system is
  starting up" means it answered but is not ready. No password, no query, no client library
  (psycopg's import alone costs more than a warm ``up`` may).
- Redis: ``PING`` answered ``+PONG`` (``-LOADING`` is an answer, not ready).
- HTTP services: a GET of the table's health path answered 200 (Kong: any HTTP answer, since its
  routes lead to GoTrue, which ``up`` checks through it afterwards).

A probe never raises: it returns a :class:`Check` saying ready, whether anything answered (the
startup waterfall's "first answer"), and what it saw.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from devenv import services as svcs

#: One probe's budget: a published port with nothing behind it is refused (or closed by the
#: engine's proxy) at once; only a hung service costs this much.
PROBE_TIMEOUT_S = 1.0


@dataclass
class Check:
    ready: bool
    detail: str = ""
    #: Something answered in the service's own protocol (ready or not yet).
    answered: bool = False


class Probe(Protocol):
    def check(self) -> Check: ...


#: (service, host, port, the keys' values) -> its probe: :func:`for_service`, or a test's fake.
ProbeFactory = Callable[[str, str, int, Mapping[str, str]], Probe]


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionResetError("closed")
        data += chunk
    return data


class PostgresAccepts:
    """The server at host:port accepts connections (``pg_isready``'s question)."""

    def __init__(self, host: str, port: int, user: str = "postgres") -> None:
        self.host, self.port, self.user = host, port, user

    def check(self) -> Check:
        params = b"user\0" + self.user.encode() + b"\0database\0postgres\0\0"
        packet = struct.pack("!ii", 8 + len(params), 196608) + params  # protocol 3.0
        try:
            with socket.create_connection((self.host, self.port), PROBE_TIMEOUT_S) as sock:
                sock.settimeout(PROBE_TIMEOUT_S)
                sock.sendall(packet)
                kind = _recv_exact(sock, 1)
                (length,) = struct.unpack("!i", _recv_exact(sock, 4))
                body = _recv_exact(sock, min(max(length - 4, 0), 4096))
        except OSError as exc:
            return Check(False, type(exc).__name__)
        if kind == b"R":
            return Check(True, "accepts connections", answered=True)
        if kind == b"E":
            fields = {f[:1]: f[1:].decode("utf-8", "replace") for f in body.split(b"\0") if f}
            return Check(False, fields.get(b"M", "an error"), answered=True)
        return Check(False, f"unexpected message {kind!r}", answered=True)


class RedisPing:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def check(self) -> Check:
        try:
            with socket.create_connection((self.host, self.port), PROBE_TIMEOUT_S) as sock:
                sock.settimeout(PROBE_TIMEOUT_S)
                sock.sendall(b"PING\r\n")
                data = sock.recv(128)
        except OSError as exc:
            return Check(False, type(exc).__name__)
        if data.startswith(b"+PONG"):
            return Check(True, "PONG", answered=True)
        if not data:
            return Check(False, "closed", answered=False)
        return Check(False, data.decode("utf-8", "replace").strip()[:120], answered=True)


class HttpGet:
    """GET ``path`` answers 200 (or, with ``any_status``, answers at all)."""

    def __init__(
        self,
        host: str,
        port: int,
        path: str,
        headers: Mapping[str, str] | None = None,
        *,
        any_status: bool = False,
    ) -> None:
        self.url = f"http://{host}:{port}{path}"
        self.headers = dict(headers or {})
        self.any_status = any_status

    def check(self) -> Check:
        try:
            status, _headers, _body = http_get(self.url, self.headers, timeout=PROBE_TIMEOUT_S)
        except OSError as exc:
            return Check(False, type(exc).__name__)
        except Exception as exc:  # http.client's BadStatusLine & co.: a proxy with nothing behind
            return Check(False, type(exc).__name__)
        ok = self.any_status or status == 200
        return Check(ok, f"HTTP {status}", answered=True)


def http_request(
    method: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 2.0,
    limit: int | None = 4096,
) -> tuple[int, dict[str, str], str]:
    """One request with the standard library: (status, lower-cased headers, the body's first
    ``limit`` bytes as text; None: all of it). The probes of `up`, `status` and the doctor are
    single requests, and importing httpx would cost more than they do. Raises OSError when
    nothing answers."""
    import http.client
    from urllib.parse import urlsplit

    u = urlsplit(url)
    path = (u.path or "/") + (f"?{u.query}" if u.query else "")
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        r = conn.getresponse()
        text = (r.read() if limit is None else r.read(limit)).decode("utf-8", "replace")
        return r.status, {k.lower(): v for k, v in r.getheaders()}, text
    finally:
        conn.close()


def http_get(
    url: str, headers: Mapping[str, str] | None = None, timeout: float = 2.0
) -> tuple[int, dict[str, str], str]:
    return http_request("GET", url, headers, timeout=timeout)


def for_service(name: str, host: str, port: int, values: Mapping[str, str]) -> Probe:
    """The probe of service ``name`` published at host:port; ``values`` fill the table's probe
    headers (the keys' templates, as in ``Service.env``)."""
    s = svcs.get(name)
    if s.probe == "postgres":
        return PostgresAccepts(host, port)
    if s.probe == "redis":
        return RedisPing(host, port)
    headers = {k: v.format(**values) for k, v in s.probe_headers.items()}
    return HttpGet(host, port, s.health_path, headers, any_status=s.probe == "http-any")

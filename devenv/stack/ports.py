"""Host port checks: every port is tried before anything starts, and a conflict names the port,
the service and, where it can be found, who holds it (a process, or another Docker container)."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable, Mapping

from devenv.errors import PortInUse

HOST = "127.0.0.1"


def is_free(port: int, host: str = HOST) -> bool:
    """True if we could bind ``host:port`` now (what the engine's port proxy will need to do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As docker-proxy does: connections lingering in TIME_WAIT from a stopped stack do not
        # block the port; only a live listener does.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def free_port(host: str = HOST) -> int:
    """A port the kernel says is free right now (for ephemeral stacks and tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def suggest(start: int, taken: Iterable[int] = ()) -> int:
    avoid = set(taken)
    for port in range(start + 1, min(start + 200, 65535)):
        if port not in avoid and is_free(port):
            return port
    return free_port()


def holder(port: int) -> str | None:
    """Who listens on ``port``: 'process NAME (pid N)', a Docker container, or None if unknown."""
    try:
        import psutil

        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                if conn.pid is None:
                    return None
                name = psutil.Process(conn.pid).name()
                if name == "docker-proxy":
                    return (
                        _container_on(port) or f"a Docker container (docker-proxy pid {conn.pid})"
                    )
                return f"process {name} (pid {conn.pid})"
    except Exception:  # best effort: no permission to see other users' sockets, psutil missing
        return _container_on(port)
    return _container_on(port)


def _container_on(port: int) -> str | None:
    try:
        from devenv.stack.engine import client

        for c in client().containers.list():
            for bindings in (c.attrs.get("HostConfig", {}).get("PortBindings") or {}).values():
                for b in bindings or []:
                    if str(b.get("HostPort")) == str(port):
                        project = c.labels.get("com.docker.compose.project")
                        where = f" (compose project {project})" if project else ""
                        return f"Docker container {c.name}{where}"
    except Exception:
        return None
    return None


def check(wanted: Mapping[str, int], *, ours: Iterable[int] = ()) -> None:
    """Raise PortInUse for the first service whose port is taken by anything but our own stack.

    ``ours`` are ports our running containers already publish: those are not conflicts.
    """
    mine = set(ours)
    for service, port in wanted.items():
        if port in mine or is_free(port):
            continue
        who = holder(port)
        by = f" by {who}" if who else ""
        alt = suggest(port, wanted.values())
        raise PortInUse(
            f"port {port} for {service} is already in use{by}; nothing was started",
            f"stop it, or set `{service} = {alt}` under [ports] in devenv.toml",
            port=port,
            service=service,
        )

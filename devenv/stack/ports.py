"""Host port checks: every port is tried before anything starts, and a conflict names the port,
the service and, where it can be found, who holds it (a process, or another Docker container)."""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Holder:
    text: str  # "process NAME (pid N)", "Docker container X (compose project P)", ...
    project: str | None = None  # the compose project of the container holding it, if any
    orphan_proxy: bool = False  # a docker-proxy with no container: one being torn down


def holder(port: int) -> Holder | None:
    """Who listens on ``port``, or None if it cannot be seen."""
    try:
        import psutil

        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                if conn.pid is None:
                    break
                name = psutil.Process(conn.pid).name()
                if name == "docker-proxy":
                    return _container_on(port) or Holder(
                        f"a Docker port proxy (pid {conn.pid}) with no container",
                        orphan_proxy=True,
                    )
                return Holder(f"process {name} (pid {conn.pid})")
    except Exception:  # best effort: no permission to see other users' sockets, psutil missing
        pass
    return _container_on(port)


def _container_on(port: int) -> Holder | None:
    try:
        from devenv.stack.engine import client

        for c in client().containers.list(all=True, sparse=True):
            for binding in c.attrs.get("Ports") or []:
                if binding.get("PublicPort") == port:
                    project = (c.attrs.get("Labels") or {}).get("com.docker.compose.project")
                    name = (c.attrs.get("Names") or ["?"])[0].lstrip("/")
                    where = f" (compose project {project})" if project else ""
                    return Holder(f"Docker container {name}{where}", project=project)
    except Exception:
        return None
    return None


def check(wanted: Mapping[str, int], *, ours: Iterable[int] = (), project: str = "") -> None:
    """Raise PortInUse for the first service whose port is taken by anything but our own stack.

    ``ours`` are ports our running containers already publish, and a container of ``project``
    holding a port is ours too (compose reconciles it): neither is a conflict.
    """
    mine = set(ours)
    for service, port in wanted.items():
        if port in mine or is_free(port):
            continue
        who = holder(port)
        if who is not None and project and who.project == project:
            continue
        if who is not None and who.orphan_proxy:
            # Docker tears a port proxy down a moment after its container: give it that moment.
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not is_free(port):
                time.sleep(0.1)
            if is_free(port):
                continue
        by = f" by {who.text}" if who else ""
        alt = suggest(port, wanted.values())
        raise PortInUse(
            f"port {port} for {service} is already in use{by}; nothing was started",
            f"stop it, or set `{service} = {alt}` under [ports] in devenv.toml",
            port=port,
            service=service,
        )

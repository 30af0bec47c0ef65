"""Host port checks: every port is tried before anything starts, and a conflict names the port,
the service and, where it can be found, who holds it (a process, or another Docker container)."""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from devenv.errors import PortInUse
from devenv.stack.compose import COMPOSE_PROJECT

if TYPE_CHECKING:
    from devenv.stack.engine import EngineLike

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
    return free_ports(1, host)[0]


def free_ports(n: int, host: str = HOST) -> list[int]:
    """``n`` distinct ports the kernel says are free right now: all sockets are held open
    together while asking, so the kernel cannot hand out the same port twice."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind((host, 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def free_for(
    services: Iterable[str],
    host: str = HOST,
    *,
    within: tuple[int, int] | None = None,
    local: bool = True,
) -> dict[str, int]:
    """A free port for each of ``services``, distinct from each other (throw-away stacks). The
    kernel picks them, unless ``within`` (DEVENV_PORT_RANGE) names the range to draw from: then
    at random there, each one checked free here when the engine is ``local`` (a remote engine's
    ports are on its host: compose's own error says when one is taken, and the caller draws
    again)."""
    names = list(services)
    if within is None:
        return dict(zip(names, free_ports(len(names), host), strict=True))
    import random

    candidates = list(range(within[0], within[1] + 1))
    random.shuffle(candidates)
    chosen: list[int] = []
    for port in candidates:
        if len(chosen) == len(names):
            break
        if not local or is_free(port, host):
            chosen.append(port)
    if len(chosen) < len(names):
        raise PortInUse(
            f"DEVENV_PORT_RANGE {within[0]}-{within[1]} has fewer than {len(names)} free ports",
            "widen the range, or stop what holds its ports",
        )
    return dict(zip(names, chosen, strict=True))


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


def holder(port: int, engine: EngineLike | None = None) -> Holder | None:
    """Who listens on ``port``, or None if it cannot be seen."""
    try:
        import psutil

        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                if conn.pid is None:
                    break
                name = psutil.Process(conn.pid).name()
                if name == "docker-proxy":
                    return _container_on(port, engine) or Holder(
                        f"a Docker port proxy (pid {conn.pid}) with no container",
                        orphan_proxy=True,
                    )
                return Holder(f"process {name} (pid {conn.pid})")
    except Exception:  # best effort: no permission to see other users' sockets, psutil missing
        pass
    return _container_on(port, engine)


def _container_on(port: int, engine: EngineLike | None) -> Holder | None:
    if engine is None:
        return None
    try:
        for c in engine.summaries():
            for binding in c.get("Ports") or []:
                if binding.get("PublicPort") == port:
                    project = (c.get("Labels") or {}).get(COMPOSE_PROJECT)
                    name = (c.get("Names") or ["?"])[0].lstrip("/")
                    where = f" (compose project {project})" if project else ""
                    return Holder(f"Docker container {name}{where}", project=project)
    except Exception:
        return None
    return None


#: How long a Docker port proxy with no container may take to go away before it is a conflict.
ORPHAN_PROXY_WAIT_S = 15.0


def check(
    wanted: Mapping[str, int],
    *,
    ours: Iterable[int] = (),
    project: str = "",
    project_has_containers: bool = False,
    orphan_wait_s: float = ORPHAN_PROXY_WAIT_S,
    engine: EngineLike | None = None,
    host: str = HOST,
) -> None:
    """Raise PortInUse for the first service whose port is taken by anything but our own stack,
    tried on ``host``, the address the engine will publish on.

    ``ours`` are ports our running containers already publish, and a container of ``project``
    holding a port is ours too (compose reconciles it): neither is a conflict.

    A Docker port proxy whose container cannot be found is either being torn down (an
    interrupted `up`, a `down` a moment ago) or belongs to a container the engine is still
    creating. If ``project`` has containers at all, it is ours: compose reconciles it. Otherwise
    it is waited for, looking again every 0.1 s, up to ``orphan_wait_s``.
    """
    mine = set(ours)
    for service, port in wanted.items():
        if port in mine or is_free(port, host):
            continue
        who = holder(port, engine)
        if who is not None and project and who.project == project:
            continue
        if who is not None and who.orphan_proxy:
            if project_has_containers:
                continue
            deadline = time.monotonic() + orphan_wait_s
            while who is not None and who.orphan_proxy and time.monotonic() < deadline:
                time.sleep(0.1)
                who = None if is_free(port) else holder(port, engine)
            if who is None and is_free(port):
                continue
            if who is not None and project and who.project == project:
                continue
        by = f" by {who.text}" if who else ""
        alt = suggest(port, wanted.values())
        raise PortInUse(
            f"port {port} for {service} is already in use{by}; nothing was started",
            f"stop it, or set `{service} = {alt}` under [ports] in devenv.toml"
            " (`devenv doctor ports` lists every port)",
            port=port,
            service=service,
        )

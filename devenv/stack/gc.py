"""`devenv gc`: remove ephemeral stacks whose owner process is gone.

Ephemeral stacks (``Stack.ephemeral``, the pytest plugin, ``devenv.testing.ephemeral_stack``)
label every container, network and volume with ``dev.devenv.owner = "pid@host"``. A test run
killed with SIGKILL, or a test that calls ``os._exit``, never runs its teardown; where
testcontainers' reaper (Ryuk) runs, it removes such leftovers, and where it cannot (an offline
CI with no registry to get its image from) this does, at the start of the next session.

An owner is gone when its host is this host and either no process has that pid, or the process
that has it started after the stack was created (the pid was reused). Stacks owned by another
host are never touched: from here we cannot tell whether their owner lives. Stacks without an
owner (made by ``devenv up``) are never touched either.

Removal goes through the Stack handle (``down --volumes``: compose removes the containers, the
network and the volumes), so gc removes exactly what ``devenv down --volumes`` would.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from devenv.stack import project
from devenv.stack.compose import COMPOSE_PROJECT
from devenv.stack.engine import Engine, EngineLike

#: The owner label of kept test stacks (devenv.testing.kept.OWNER_PREFIX + host): removed by
#: `devenv gc --kept` only.
KEPT_OWNER_PREFIX = "kept@"

#: Written into the state root of an ephemeral stack that devenv made itself (a temporary
#: folder holding its keys and Kong config): gc deletes such a folder with the stack.
EPHEMERAL_MARKER = ".devenv-ephemeral"


@dataclass
class Orphan:
    """One ephemeral stack's resources, grouped by project name."""

    project: str
    owner: str
    root: str = ""
    created: float | None = None  # earliest creation time seen (unix seconds)
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "owner": self.owner,
            "root": self.root,
            "containers": sorted(self.containers),
            "networks": sorted(self.networks),
            "volumes": sorted(self.volumes),
        }


@dataclass
class GcResult:
    removed: list[Orphan] = field(default_factory=list)
    kept: list[Orphan] = field(default_factory=list)  # owner alive, or on another host
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "removed": [o.as_dict() for o in self.removed],
            "kept": [{**o.as_dict(), "reason": owner_state(o.owner, o.created)} for o in self.kept],
        }


def parse_owner(owner: str) -> tuple[int, str] | None:
    """``"pid@host"`` -> (pid, host); None if it is not of that form."""
    pid, sep, host = owner.partition("@")
    if not sep or not host or not pid.isdigit():
        return None
    return int(pid), host


def owner_state(owner: str, created: float | None = None) -> str:
    """'alive', 'gone', 'other-host', 'kept' (a kept test stack of this host: no process owns
    it, see devenv.testing.kept) or 'unknown' (a label devenv did not write)."""
    if owner.startswith(KEPT_OWNER_PREFIX):
        here = owner[len(KEPT_OWNER_PREFIX) :] == socket.gethostname()
        return "kept" if here else "other-host"
    parsed = parse_owner(owner)
    if parsed is None:
        return "unknown"
    pid, host = parsed
    if host != socket.gethostname():
        return "other-host"
    import psutil

    try:
        started = psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return "gone"
    except psutil.AccessDenied:
        return "alive"
    if created is not None and started > created + 1.0:
        return "gone"  # the pid was reused by a process younger than the stack
    return "alive"


def _ts(value: Any) -> float | None:
    """Docker's creation times: an int (container summaries) or an RFC 3339 string."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value:
        text = value.strip()
        # Nanoseconds and a trailing Z: Python's parser takes microseconds and an offset.
        if "." in text:
            head, _, frac = text.partition(".")
            digits = "".join(ch for ch in frac if ch.isdigit())
            tz = frac[len(digits) :]
            text = f"{head}.{digits[:6]}{tz}"
        text = text.replace("Z", "+00:00")
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(text).timestamp()
    return None


def _group(
    found: dict[str, Orphan], labels: dict[str, str] | None, created: Any, kind: str, name: str
) -> None:
    labels = labels or {}
    owner = labels.get(project.LABEL_OWNER, "")
    if not owner:
        return
    proj = labels.get(COMPOSE_PROJECT) or labels.get(project.LABEL_PROJECT) or ""
    if not proj:
        return
    o = found.setdefault(proj, Orphan(proj, owner, labels.get(project.LABEL_ROOT, "")))
    t = _ts(created)
    if t is not None and (o.created is None or t < o.created):
        o.created = t
    getattr(o, kind).append(name)


def find(engine: EngineLike) -> list[Orphan]:
    """Every ephemeral stack on the engine (owner label set), alive or not."""
    client = engine.client
    flt = {"label": [project.LABEL_OWNER]}
    found: dict[str, Orphan] = {}
    for c in client.containers.list(all=True, sparse=True, filters=flt):
        a = c.attrs
        name = (a.get("Names") or [c.id])[0].lstrip("/")
        _group(found, a.get("Labels"), a.get("Created"), "containers", name)
    for n in client.networks.list(filters=flt):
        _group(found, n.attrs.get("Labels"), n.attrs.get("Created"), "networks", n.name)
    for v in client.volumes.list(filters=flt):
        _group(found, v.attrs.get("Labels"), v.attrs.get("CreatedAt"), "volumes", v.name)
    return sorted(found.values(), key=lambda o: o.project)


def collect(
    engine: EngineLike | None = None,
    *,
    dry_run: bool = False,
    only: Iterable[str] | None = None,
    prefix: str = "",
    on_remove: Callable[[Orphan], None] | None = None,
) -> GcResult:
    """Remove the ephemeral stacks whose owner is gone (``only``: just these project names;
    ``prefix``: just projects whose name starts with it)."""
    engine = engine or Engine()
    wanted = set(only) if only is not None else None
    result = GcResult(dry_run=dry_run)
    for o in find(engine):
        if wanted is not None and o.project not in wanted:
            continue
        if not o.project.startswith(prefix):
            continue
        if owner_state(o.owner, o.created) != "gone":
            result.kept.append(o)
            continue
        if not dry_run:
            if on_remove is not None:
                on_remove(o)
            remove(o, engine)
        result.removed.append(o)
    return result


def remove(o: Orphan, engine: EngineLike | None = None) -> None:
    """Remove one stack found by :func:`find` as ``devenv down --volumes`` would, and the state
    folder devenv made for it."""
    from devenv import config as config_mod
    from devenv.stack.handle import Stack

    engine = engine or Engine()
    root = Path(o.root) if o.root else Path("/")
    cfg = config_mod.in_memory(root, name=o.project, services=())
    Stack(cfg, engine=engine, owner=o.owner).down(volumes=True)
    for v in o.volumes:  # volumes compose no longer knows (a renamed compose file)
        with contextlib.suppress(Exception):
            engine.client.volumes.get(v).remove(force=True)
    if o.root and (Path(o.root) / EPHEMERAL_MARKER).is_file():
        shutil.rmtree(o.root, ignore_errors=True)


def remove_caches(engine: EngineLike | None = None, *, dry_run: bool = False) -> str:
    """Remove the engine-wide cluster cache (devenv.stack.cluster_cache) unless a running
    stack has it mounted; what happened, in words. The next first start makes it again."""
    from docker.errors import APIError, NotFound

    from devenv.stack import cluster_cache

    engine = engine or Engine()
    if not engine.volume_exists(cluster_cache.VOLUME):
        return f"no cluster cache ({cluster_cache.VOLUME})"
    # Sparse: the list alone. A full list inspects each container, and one that another
    # process removes in between would fail the whole call.
    users = engine.client.containers.list(
        all=True, sparse=True, filters={"volume": cluster_cache.VOLUME}
    )
    if users:
        names = ", ".join(
            sorted(str((c.attrs.get("Names") or [c.id])[0]).lstrip("/") for c in users)[:3]
        )
        return f"kept the cluster cache {cluster_cache.VOLUME}: in use by {names}"
    if dry_run:
        return f"would remove the cluster cache {cluster_cache.VOLUME}"
    try:
        engine.client.volumes.get(cluster_cache.VOLUME).remove()
    except NotFound:
        pass
    except APIError as exc:  # a stack started meanwhile
        return f"kept the cluster cache {cluster_cache.VOLUME}: {exc.explanation or exc}"
    return f"removed the cluster cache {cluster_cache.VOLUME}"

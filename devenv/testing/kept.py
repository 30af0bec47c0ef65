"""Kept test stacks (``--devenv-keep``, ``start(keep=True)``): a developer's test runs share one
stack that outlives each run, as testcontainers' reusable containers do, so a run's first test
starts once the stack is checked and cleaned instead of after six containers start.

- One kept stack per project, services and seed sets, named ``devenv-kept-<hash>``. Its state
  (keys, ports, what its data step read) lives in ``$XDG_CACHE_HOME/devenv/test-stacks/<name>``
  (mode 0700), never in the project's ``.devenv/``.
- A run claims it with an exclusive ``flock`` on that folder's lock file, held until the run
  ends (the kernel lets go if the process dies). A second run while it is held gets a
  throw-away stack of its own, as without the option.
- It is used again only when its fingerprint matches: the migrations, seeds and sets (the data
  step's digest), Postgres' and GoTrue's images, compose.yaml and the bootstrap (the cluster
  key), the services and the test settings. Anything else changed: it is removed and made anew.
- Each run starts from the state a new stack would have: the app's database is swapped for a
  copy of the kept template (devenv.db.snapshots, about 40 ms: no guessing whether a test wrote
  to it), the previous run's test databases and the roles made since it was kept are dropped,
  Redis is flushed, the mail catcher emptied and the Fireworks mock reset before the project's
  stubs are pushed again. Anything that does not take it: the stack is made anew.
- Its containers are labelled with the owner ``kept@<host>``: `devenv gc` leaves them alone,
  and `devenv gc --kept` removes the kept stacks no run is using.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from devenv.errors import DevenvError
from devenv.stack.gc import KEPT_OWNER_PREFIX

if TYPE_CHECKING:
    from devenv.stack.handle import Stack

NAME_PREFIX = "devenv-kept-"
#: The owner label of a kept stack's containers: not a process, so gc never takes it for gone.
OWNER_PREFIX = KEPT_OWNER_PREFIX
LOCK_FILE = "kept.lock"
SPEC_FILE = "kept.json"


def home() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "devenv" / "test-stacks"


def owner() -> str:
    return f"{OWNER_PREFIX}{socket.gethostname()}"


def name_for(root: Path, services: Sequence[str], seed_sets: Sequence[str]) -> str:
    """The kept stack of this project with these services and seed sets."""
    what = "\0".join([str(root), ",".join(sorted(services)), ",".join(seed_sets)])
    return NAME_PREFIX + hashlib.sha256(what.encode()).hexdigest()[:10]


@dataclass
class Claim:
    """This process' hold on a kept stack's folder (an exclusive flock on its lock file)."""

    name: str
    state: Path
    fd: int | None = field(default=None, repr=False)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # and with it the lock
            self.fd = None

    def saved(self) -> dict[str, object] | None:
        """What the last run that kept it wrote: {"fingerprint", "ports"}; None if nothing
        (or nothing readable) is there."""
        try:
            data = json.loads((self.state / SPEC_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def saved_ports(self, fingerprint: str) -> dict[str, int] | None:
        """The kept stack's ports when it was made from the same inputs, else None."""
        data = self.saved()
        if not data or data.get("fingerprint") != fingerprint:
            return None
        ports = data.get("ports")
        if not isinstance(ports, dict):
            return None
        return {str(k): int(v) for k, v in ports.items()}

    def saved_roles(self) -> list[str] | None:
        """The cluster's roles when the stack was kept (None: not known)."""
        roles = (self.saved() or {}).get("roles")
        return [str(r) for r in roles] if isinstance(roles, list) else None

    def save(self, fingerprint: str, ports: Mapping[str, int], roles: Sequence[str]) -> None:
        tmp = self.state / (SPEC_FILE + ".tmp")
        data = {"fingerprint": fingerprint, "ports": dict(ports), "roles": sorted(roles)}
        tmp.write_text(json.dumps(data), "utf-8")
        tmp.replace(self.state / SPEC_FILE)

    def forget(self) -> None:
        """The stack is gone or unusable: the next run makes it anew."""
        (self.state / SPEC_FILE).unlink(missing_ok=True)


def claim(name: str) -> Claim | None:
    """Hold kept stack ``name`` for this process; None when another run holds it."""
    state = home() / name
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(state / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return Claim(name, state, fd)


def in_use(state: Path) -> bool:
    """Whether a run holds the kept stack whose folder is ``state``."""
    try:
        fd = os.open(state / LOCK_FILE, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def fingerprint(stack: Stack, digest: str, settings: Mapping[str, str]) -> str:
    """What a kept stack must have been made from to be used again (see the module docs)."""
    from devenv.stack import project

    parts = [
        digest,
        project.cluster_key(stack.cfg),
        ",".join(stack.cfg.services),
        ",".join(f"{k}={v}" for k, v in settings.items()),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def roles(stack: Stack) -> list[str]:
    """The names of the roles in the stack's cluster."""
    from devenv.db import conn as dbconn

    with dbconn.connect(stack.database_url()) as conn:
        return [str(r[0]) for r in conn.execute("SELECT rolname FROM pg_roles").fetchall()]


def refresh(stack: Stack, template: str, kept_roles: Sequence[str] | None) -> None:
    """Bring a kept stack that ran a previous session back to a new stack's state (see the
    module docs). Raises a DevenvError when a service does not take it; the caller then makes
    the stack anew."""
    import psycopg
    from psycopg import sql

    from devenv.db import conn as dbconn
    from devenv.db import snapshots
    from devenv.testing.handles import TEST_DB_PREFIX

    services = stack.cfg.services
    if "postgres" in services:
        dsn = stack.database_url()
        # The app's database as the data step left it, whatever the last run wrote to it.
        snapshots.restore(dsn, template)
        with dbconn.connect(snapshots.maintenance_dsn(dsn)) as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s)",
                (TEST_DB_PREFIX,),
            ).fetchall()
            drop = [
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(n)))
                for (n,) in rows  # the last run's test databases (failed tests kept theirs)
            ]
            if kept_roles is not None:
                # Roles are the cluster's, not a database's: those a test made go too.
                now = [str(r[0]) for r in conn.execute("SELECT rolname FROM pg_roles")]
                drop += [
                    sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(r))
                    for r in now
                    if r not in set(kept_roles)
                ]
            try:
                for stmt in drop:
                    conn.execute(stmt)
            except psycopg.Error as exc:
                what = f"the kept test stack's Postgres could not be cleaned: {exc}"
                raise DevenvError(what) from None
    host, ports = stack.host, stack.cfg.ports
    if "redis" in services:
        _redis_flushall(host, ports["redis"])
    if "mail" in services:
        _call(stack, "mail", "DELETE", "/api/v1/messages")
    if "fireworks" in services:
        _call(stack, "fireworks", "POST", "/__devenv/reset")


def _call(stack: Stack, service: str, method: str, path: str) -> None:
    from devenv.stack.probes import http_request

    url = f"http://{stack.host}:{stack.cfg.ports[service]}{path}"
    try:
        status, _headers, _text = http_request(method, url, timeout=5.0)
    except OSError as exc:
        what = f"{service} of the kept test stack did not answer {path}: {exc}"
        raise DevenvError(what) from None
    if status >= 300:
        raise DevenvError(f"{service} of the kept test stack answered {path} with HTTP {status}")


def _redis_flushall(host: str, port: int) -> None:
    try:
        with socket.create_connection((host, port), 5.0) as sock:
            sock.settimeout(5.0)
            sock.sendall(b"FLUSHALL\r\n")
            answer = sock.recv(128)
    except OSError as exc:
        raise DevenvError(f"redis of the kept test stack did not answer FLUSHALL: {exc}") from None
    if not answer.startswith(b"+OK"):
        text = answer.decode("utf-8", "replace").strip()[:120]
        raise DevenvError(f"redis of the kept test stack answered FLUSHALL with {text!r}")


def remove_unused(*, dry_run: bool = False) -> list[str]:
    """`devenv gc --kept`: the kept stacks of this host that no run holds, removed (their
    containers, network, volumes and folder); their names."""
    from devenv.stack import gc
    from devenv.stack.engine import Engine

    engine = Engine()
    removed = []
    for o in gc.find(engine):
        if gc.owner_state(o.owner) != "kept" or (o.root and in_use(Path(o.root))):
            continue
        removed.append(o.project)
        if not dry_run:
            gc.remove(o, engine)  # its folder too: it holds the marker gc looks for
    return removed

"""The handles a test holds on a started test stack (devenv.testing.ephemeral starts and stops
it): ``TestStack`` (URLs, keys, clients, a database per test), ``TestDatabase``,
``FireworksScope`` (the Fireworks mock as one test sees it), and ``StackSpec``, what another
process (an xdist worker) needs to :func:`attach` to the stack.

Imported by the pytest plugin at start-up, so nothing heavy at module level: psycopg, httpx and
redis are imported when a handle uses them.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devenv import services as svcs
from devenv.errors import DatabaseError, StackError

if TYPE_CHECKING:
    import httpx
    import psycopg
    import redis

    from devenv.stack.handle import Stack
    from devenv.testing.kept import Claim

#: Per-test databases: devenv_t_<session>_<worker>_<n>.
TEST_DB_PREFIX = "devenv_t_"


@dataclass(frozen=True)
class StackSpec:
    """What another process (an xdist worker, the xdist controller) needs to attach to a
    started stack. No secrets: the keys stay in the state root's ``.devenv/`` (mode 0600)."""

    name: str
    root: str  # the private state root (ephemeral), or the project root (reused)
    project_root: str
    services: tuple[str, ...]
    ports: dict[str, int]
    owner: str
    session: str
    template: str  # snapshot name, "" without postgres
    reused: bool = False
    overrides: tuple[str, ...] = ()  # compose files merged over compose.yaml
    kept: bool = False  # a kept test stack (devenv.testing.kept): stop() leaves it running

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> StackSpec:
        raw = json.loads(text)
        raw["services"] = tuple(raw["services"])
        raw["overrides"] = tuple(raw.get("overrides", ()))
        return cls(**raw)


def attach(spec: StackSpec) -> Stack:
    """A Stack handle on a stack another process started."""
    from devenv import config as config_mod
    from devenv.stack.handle import Stack

    if spec.reused:
        return Stack.load(Path(spec.project_root))
    cfg = config_mod.in_memory(
        Path(spec.root), name=spec.name, services=spec.services, ports=spec.ports
    )
    return Stack(cfg, owner=spec.owner, overrides=[Path(p) for p in spec.overrides])


class TestDatabase:
    """One test's database: its name, a DSN (superuser; secret), and a connection factory."""

    __test__ = False  # not a test class, whatever pytest's name pattern says

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url

    def connect(self, **kwargs: Any) -> psycopg.Connection[tuple[Any, ...]]:
        import psycopg

        return psycopg.connect(self.url, **kwargs)

    def __repr__(self) -> str:
        return f"TestDatabase(name={self.name!r})"


class TestStack:
    """A started stack for tests: URLs, keys and clients from one object.

    Secrets (keys, the database password) are available as attributes for clients, but never
    in ``repr``, so a failing assertion on the object prints none of them.
    """

    __test__ = False

    def __init__(self, stack: Stack, spec: StackSpec) -> None:
        self.stack = stack
        self.spec = spec
        self._values: dict[str, str] | None = None
        self._admin: psycopg.Connection[tuple[Any, ...]] | None = None
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        #: A kept stack (devenv.testing.kept): this process' hold on it, released by stop();
        #: and whether it came from an earlier session (else it was made for this one).
        self.kept_claim: Claim | None = None
        self.kept_again = False

    def __repr__(self) -> str:
        return f"TestStack(name={self.name!r}, services={list(self.services)!r})"

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def services(self) -> tuple[str, ...]:
        return self.spec.services

    @property
    def values(self) -> dict[str, str]:
        """The values an app's .env needs (DATABASE_URL, SUPABASE_URL, keys, ...): secrets."""
        if self._values is None:
            self._values = self.stack.env_values()
        return self._values

    def _value(self, key: str) -> str:
        value = self.values.get(key)
        if value is None:
            service = svcs.giver(key)
            raise StackError(
                f"the test stack {self.name!r} has no {service}",
                f"add it: --devenv-services or @pytest.mark.devenv(services=[{service!r}])",
            )
        return value

    @property
    def database_url(self) -> str:
        """Superuser DSN of the stack's main database (``postgres``)."""
        return self._value("DATABASE_URL")

    @property
    def supabase_url(self) -> str:
        return self._value("SUPABASE_URL")

    @property
    def anon_key(self) -> str:
        return self._value("SUPABASE_ANON_KEY")

    @property
    def service_role_key(self) -> str:
        return self._value("SUPABASE_SERVICE_ROLE_KEY")

    @property
    def jwt_secret(self) -> str:
        return self._value("SUPABASE_JWT_SECRET")

    @property
    def gotrue_url(self) -> str:
        return self._value("GOTRUE_URL")

    @property
    def redis_url(self) -> str:
        return self._value("REDIS_URL")

    @property
    def fireworks_base_url(self) -> str:
        """The OpenAI-compatible base URL (…/inference/v1) of the Fireworks mock."""
        return self._value("FIREWORKS_BASE_URL")

    @property
    def fireworks_api_key(self) -> str:
        return self._value("FIREWORKS_API_KEY")

    # -- clients ---------------------------------------------------------------------------

    def connect(self, dbname: str | None = None, **kwargs: Any) -> psycopg.Connection[Any]:
        """A psycopg connection to the stack's Postgres (``dbname`` or ``postgres``)."""
        import psycopg

        from devenv.db import conn as dbconn

        dsn = self.database_url if dbname is None else dbconn.with_dbname(self.database_url, dbname)
        return psycopg.connect(dsn, **kwargs)

    def http(self, *, service_role: bool = False, **kwargs: Any) -> httpx.Client:
        """An httpx client through Kong, with the anon (or service_role) key as ``apikey`` and
        bearer token, as supabase clients send them."""
        import httpx

        key = self.service_role_key if service_role else self.anon_key
        headers = {"apikey": key, "Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
        return httpx.Client(base_url=self.supabase_url, headers=headers, **kwargs)

    def redis(self, **kwargs: Any) -> redis.Redis:
        """A redis-py client (the app's own dependency; not one of devenv's)."""
        try:
            import redis as redis_mod
        except ImportError:
            raise StackError(
                "the redis client needs the redis package", "pip install redis"
            ) from None
        return redis_mod.Redis.from_url(self.redis_url, **kwargs)

    # -- databases -------------------------------------------------------------------------

    def _admin_conn(self) -> psycopg.Connection[tuple[Any, ...]]:
        from devenv.db import conn as dbconn

        if self._admin is None or self._admin.closed or self._admin.broken:
            self._admin = dbconn.connect(self.database_url, app="devenv-testing")
        return self._admin

    def create_database(self, worker: str = "") -> TestDatabase:
        """A new database cloned from the session's template (migrations and seeds done)."""
        from devenv.db import conn as dbconn
        from devenv.db import snapshots

        if not self.spec.template:
            raise StackError(
                f"the test stack {self.name!r} has no template database (no postgres)",
                "add postgres to the stack's services",
            )
        who = _slug(worker or os.environ.get("PYTEST_XDIST_WORKER") or f"p{os.getpid()}")
        with self._lock:
            name = f"{TEST_DB_PREFIX}{self.spec.session}_{who}_{next(self._numbers)}"
            conn = self._admin_conn()
            template = snapshots.PREFIX + self.spec.template
            try:
                snapshots.clone(conn, name, template, snapshots.DEFAULT_STRATEGY)
            except DatabaseError:
                raise
            except Exception as exc:
                raise DatabaseError(
                    f"cannot create test database {name} from {template}: {exc}",
                    "is the stack still running? (`devenv gc` may have removed a stack whose"
                    " owner it thought gone)",
                ) from None
        return TestDatabase(name, dbconn.with_dbname(self.database_url, name))

    def drop_database(self, name: str) -> None:
        """Drop a test database, terminating any connection a test left open (PG13+)."""
        from psycopg import sql

        with self._lock:
            self._admin_conn().execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def close(self) -> None:
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
            self._admin = None

    # -- the Fireworks mock ----------------------------------------------------------------

    def fireworks(self, test_id: str) -> FireworksScope:
        return FireworksScope(self.fireworks_base_url, self.fireworks_api_key, test_id)


def _slug(text: str) -> str:
    out = "".join(ch if ch.isalnum() else "_" for ch in text.lower())
    return out[:12] or "w"


class FireworksScope:
    """The Fireworks mock as one test sees it: requests tagged with its test id (the
    ``X-Devenv-Test-Id`` header), its journal entries, and faults that fire for it only.
    Stub files can match the test id too (``match: {test_id: ...}``). ``close()`` removes the
    test's fault rules and journal entries."""

    HEADER = "X-Devenv-Test-Id"

    def __init__(self, base_url: str, api_key: str, test_id: str) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.test_id = test_id
        root = base_url.split("/inference/", 1)[0]
        self.control_url = f"{root}/__devenv"
        self._rules: list[int] = []
        self._control: httpx.Client | None = None

    @property
    def headers(self) -> dict[str, str]:
        """Default headers for the app's client (OpenAI(default_headers=...))."""
        return {self.HEADER: self.test_id}

    def openai_kwargs(self) -> dict[str, Any]:
        """``openai.OpenAI(**mock.openai_kwargs())``."""
        return {"base_url": self.base_url, "api_key": self.api_key, "default_headers": self.headers}

    def client(self, **kwargs: Any) -> httpx.Client:
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}", **self.headers}
        return httpx.Client(base_url=self.base_url, headers=headers, **kwargs)

    def _ctl(self) -> httpx.Client:
        import httpx

        if self._control is None:
            self._control = httpx.Client(base_url=self.control_url, timeout=10)
        return self._control

    def journal(
        self, *, path: str | None = None, unmatched: bool | None = None
    ) -> list[dict[str, Any]]:
        """This test's requests, oldest first."""
        params: dict[str, str] = {"test_id": self.test_id}
        if path is not None:
            params["path"] = path
        if unmatched is not None:
            params["unmatched"] = "true" if unmatched else "false"
        r = self._ctl().get("/journal", params=params)
        r.raise_for_status()
        entries: list[dict[str, Any]] = r.json()["entries"]
        return entries

    def fault(
        self, plan: str, *, repeat: bool = False, path: str | None = None, model: str | None = None
    ) -> dict[str, Any]:
        """A fault rule (e.g. ``"429,ok"``) that fires only on this test's requests."""
        body: dict[str, Any] = {"plan": plan, "repeat": repeat, "test_id": self.test_id}
        if path is not None:
            body["path"] = path
        if model is not None:
            body["model"] = model
        r = self._ctl().post("/faults", json=body)
        if r.status_code >= 400:
            raise StackError(f"the Fireworks mock refused fault {plan!r}: {r.text.strip()}")
        rule: dict[str, Any] = r.json()
        self._rules.append(int(rule["id"]))
        return rule

    def close(self) -> None:
        with contextlib.suppress(Exception):
            ctl = self._ctl()
            for rule_id in self._rules:
                ctl.delete(f"/faults/{rule_id}")
            ctl.delete("/journal", params={"test_id": self.test_id})
        self._rules.clear()
        if self._control is not None:
            self._control.close()
            self._control = None


__all__ = ["FireworksScope", "StackSpec", "TestDatabase", "TestStack", "attach"]

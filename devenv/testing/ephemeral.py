"""Ephemeral stacks for test suites and CI, started only through the Stack handle.

``ephemeral_stack()`` (and the pytest plugin on top of it) gives a throw-away stack: a unique
project name, free host ports, its keys in a private temporary folder (never the project's own
``.devenv/``, so a developer's `devenv up` stack and its keys are untouched), the project's
migrations applied and seed sets loaded, then a template database made once from the result.
Each test then gets its own database with ``CREATE DATABASE ... TEMPLATE`` (devenv.db.snapshots,
FILE_COPY strategy), dropped with ``DROP DATABASE ... WITH (FORCE)`` so connections a test left
open cannot block it.

Cleaning up after a killed run is testcontainers' job where its reaper (Ryuk) can run: the
stack's compose project label is registered with Ryuk, which removes containers, network and
volumes once this process's connection to it is gone. Ryuk is an image from a registry; where it
is not present (an offline CI) or disabled (``TESTCONTAINERS_RYUK_DISABLED``), every start runs
``devenv gc`` first, which removes stacks whose owner process is gone. The Docker host comes from
testcontainers' detection too (``tc.host`` in ~/.testcontainers.properties, DOCKER_HOST, the
current docker context), so compose and the Docker SDK talk to the engine testcontainers would.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devenv import interrupt
from devenv import services as svcs
from devenv.errors import DatabaseError, DevenvError, Interrupted, PortInUse, StackError

if TYPE_CHECKING:
    import httpx
    import psycopg
    import redis

    from devenv.db.plan import DataPlan
    from devenv.stack.handle import Stack
    from devenv.stack.model import ProgressFn

#: Snapshot name of a session's template database (devenv_snap__pytest-<session>).
TEMPLATE_PREFIX = "pytest-"
#: Per-test databases: devenv_t_<session>_<worker>_<n>.
TEST_DB_PREFIX = "devenv_t_"


class StackStartError(StackError):
    """The ephemeral stack could not be started or prepared; what it had started is removed."""


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


# ----------------------------------------------------------------------------------------------
# Starting and stopping.


def _testcontainers() -> None:
    """Fail with one line when the optional dependency is missing."""
    try:
        import testcontainers.core.config  # noqa: F401
    except ImportError:
        raise StackError(
            "ephemeral stacks need testcontainers",
            "pip install 'devenv-stack[testing]'",
        ) from None


def use_docker_host() -> str | None:
    """testcontainers' Docker host detection (tc.host, DOCKER_HOST, the docker context); the
    result is exported as DOCKER_HOST for compose and the Docker SDK, as testcontainers' own
    client does. Where ports are reached follows testcontainers too: its host override
    (TESTCONTAINERS_HOST_OVERRIDE, tc.host.override) becomes DEVENV_HOST unless that is set."""
    from testcontainers.core.config import testcontainers_config as tc
    from testcontainers.core.docker_client import get_docker_host

    host = get_docker_host()
    if host and not os.environ.get("DOCKER_HOST"):
        os.environ["DOCKER_HOST"] = host
    override = getattr(tc, "tc_host_override", None)
    if override and not os.environ.get("DEVENV_HOST"):
        os.environ["DEVENV_HOST"] = str(override)
    return host


def reaper_available() -> bool:
    """Whether testcontainers' reaper can run here: not disabled, and its image present (there
    may be no registry to pull it from)."""
    from testcontainers.core.config import testcontainers_config as tc

    from devenv.stack.engine import Engine

    if tc.ryuk_disabled:
        return False
    try:
        return Engine().has_image(tc.ryuk_image)
    except DevenvError:
        return False


def register_with_reaper(project_name: str) -> bool:
    """Ask Ryuk to remove everything of this compose project once our session ends. False if
    the reaper could not be started."""
    try:
        from testcontainers.core.container import Reaper

        from devenv.stack.compose import COMPOSE_PROJECT

        Reaper.get_instance()
        sock = Reaper._socket
        if sock is None:
            return False
        sock.send(f"label={COMPOSE_PROJECT}={project_name}\r\n".encode())
        return True
    except Exception:  # any failure to reach Ryuk means: fall back to gc
        return False


def start(
    project_root: Path | str = ".",
    *,
    services: Iterable[str] | None = None,
    extra_services: Iterable[str] = (),
    seed_sets: Sequence[str] = ("default",),
    migrations: str | None = None,
    seeds: str | None = None,
    reuse: bool = False,
    owner: str | None = None,
    timeout: float = 300.0,
    gc: bool = True,
    prefix: str = "devenv-eph",
    tmpfs: bool = True,
    on_progress: ProgressFn | None = None,
    on_gc: Callable[[str], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> TestStack:
    """Start (or, with ``reuse``, attach to `devenv up`'s) stack, migrate, seed, make the
    template. The stack runs ``services`` (default: the project's own, as `devenv up` runs it:
    [project] services, or what a Supabase CLI project enables) plus ``extra_services``, and what
    they need. On any failure, Ctrl-C included, what was started is removed and the error is
    raised (a DevenvError as StackStartError, one line)."""
    root = Path(project_root).resolve()
    session = uuid.uuid4().hex[:8]
    if reuse:
        return _start_reused(root, session)
    _testcontainers()
    from devenv.stack.gc import EPHEMERAL_MARKER
    from devenv.stack.gc import collect as gc_collect

    use_docker_host()
    reaper = reaper_available()
    if gc and not reaper:
        # Only stacks named like ours: another tool's (or team's) prefix is theirs to collect.
        for o in gc_collect(prefix=f"{prefix}-").removed:
            if on_gc is not None:
                on_gc(o.project)

    state = Path(tempfile.mkdtemp(prefix=f"devenv-eph-{session}-"))
    (state / EPHEMERAL_MARKER).write_text(f"{os.getpid()}\n", encoding="utf-8")

    stack: Stack | None = None
    try:
        # The project's config, read once: its services and Postgres for the stack, its data
        # step for the template (a broken devenv.toml stops here, before anything starts).
        tables, plan, own = project_setup(root, migrations, seeds)
        base = list(own) if services is None else list(services)
        wanted = svcs.with_needs(list(dict.fromkeys([*base, *extra_services])))
        overrides = [_tmpfs_override(state)] if tmpfs and "postgres" in wanted else []
        # A Ctrl-C that Python swallows is raised again at the next poll (see interrupt).
        with interrupt.watching():
            for attempt in range(3):
                stack = _make(state, f"{prefix}-{session}", wanted, tables, owner, overrides)
                data_key = _data_key(stack, plan, seed_sets)
                if data_key:
                    # The migrated and seeded cluster of an earlier session with the same
                    # inputs, if the cache has it (tried before the bare cluster's entry).
                    stack.cluster_keys = (data_key,)
                if reaper:
                    register_with_reaper(stack.cfg.name)
                try:
                    stack.up(timeout=timeout, on_progress=on_progress, on_note=on_note)
                    break
                except PortInUse:
                    # Another process took one of the free ports between our pick and compose's
                    # bind: nothing of ours holds it, so pick again.
                    stack.down(volumes=True)
                    if attempt == 2:
                        raise
            assert stack is not None
            if "fireworks" in wanted:
                # The project's stubs, through the mock's control API (nothing is mounted).
                from devenv import fireworks_stubs
                from devenv.stack.project import FIREWORKS_STUBS

                stubs = root / FIREWORKS_STUBS
                fireworks_stubs.push_to(stack, stubs if stubs.is_dir() else None)
            template = ""
            if "postgres" in wanted:
                template = _prepare(stack, plan, seed_sets, session, data_key)
            spec = StackSpec(
                name=stack.cfg.name,
                root=str(state),
                project_root=str(root),
                services=wanted,
                ports={s: stack.cfg.ports[s] for s in wanted},
                owner=stack.owner,
                session=session,
                template=template,
                overrides=tuple(str(p) for p in overrides),
            )
            return TestStack(stack, spec)
    except BaseException as exc:
        if stack is not None:
            with contextlib.suppress(Exception):
                stack.down(volumes=True)
        shutil.rmtree(state, ignore_errors=True)
        if isinstance(exc, Interrupted):
            # The Python API's Ctrl-C is Python's own, wherever the wait noticed it.
            raise KeyboardInterrupt from exc
        if isinstance(exc, DevenvError) and not isinstance(exc, StackStartError):
            name = stack.cfg.name if stack is not None else f"{prefix}-{session}"
            raise StackStartError(
                f"the test stack {name} could not start (it was removed): {exc.message}",
                exc.hint,
            ) from exc
        raise


def _make(
    state: Path,
    name: str,
    services: tuple[str, ...],
    tables: dict[str, dict[str, Any]],
    owner: str | None,
    overrides: list[Path],
) -> Stack:
    from devenv.stack.handle import Stack

    return Stack.ephemeral(
        state,
        name=name,
        services=services,
        owner=owner,
        overrides=overrides,
        db=tables["db"],
        images=tables["images"],
    )


def project_setup(
    root: Path, migrations: str | None = None, seeds: str | None = None
) -> tuple[dict[str, dict[str, Any]], DataPlan, tuple[str, ...]]:
    """What the throw-away stacks of the project at ``root`` take over from its devenv.toml (or
    Supabase CLI settings), read once: the tables of its Postgres (an image devenv.toml names,
    [images] registry, [db] extensions and major_version), so tests run on the Postgres `devenv
    up` runs; its data step (devenv.db.plan: the migrations folder or its ``[db] migrate``
    tool, its seed sets or ``[db] seed_paths``), with ``migrations`` / ``seeds`` (relative to
    ``root``) in place of its folders when given; and its services. Paths are absolute: the
    stack's own config lives in a private folder. DEVENV_* settings apply to the stack as to
    `devenv up`, not here."""
    from devenv import config as config_mod
    from devenv import environ as environ_mod
    from devenv.db.plan import DataPlan

    cfg = config_mod.load(root, env=environ_mod.read({}))
    plan = DataPlan.from_config(cfg)
    if migrations:
        plan = replace(plan, migrations_dir=cfg.path(migrations))
    if seeds:
        plan = replace(plan, seeds_dir=cfg.path(seeds))
    images: dict[str, str] = {k: cfg.images[k] for k in cfg.images_set}
    if cfg.registry:
        images["registry"] = cfg.registry
    tables: dict[str, dict[str, Any]] = {
        "db": {
            "migrations": str(plan.migrations_dir),
            "seeds": str(plan.seeds_dir),
            "extensions": list(cfg.db.extensions),
            "major_version": cfg.db.major_version,
        },
        "images": images,
    }
    return tables, plan, cfg.services


def project_tables(
    root: Path, migrations: str | None = None, seeds: str | None = None
) -> dict[str, dict[str, Any]]:
    """The devenv.toml tables a throw-away stack of ``root`` takes (see :func:`project_setup`)."""
    return project_setup(root, migrations, seeds)[0]


def _tmpfs_override(state: Path) -> Path:
    """A compose override putting Postgres' data directory on a tmpfs: a throw-away stack
    needs no disk, and initdb, migrations, the template and every clone stay in memory (as
    pgtestdb recommends for its test servers). The bootstrap arrives as compose.yaml's config,
    as on every stack: nothing of the host is mounted."""
    path = state / "compose.tmpfs.yaml"
    path.write_text(
        "services:\n"
        "  postgres:\n"
        "    volumes: !reset []\n"
        "    tmpfs:\n"
        "      - /var/lib/postgresql/data\n",
        encoding="utf-8",
    )
    return path


def _data_key(stack: Stack, plan: DataPlan, seed_sets: Sequence[str]) -> str:
    """The cluster cache entry of this stack's cluster after its data step (and the test
    settings), or "" when its inputs cannot be known (the app's own migration tool)."""
    from devenv.stack import cluster_cache, project

    digest = plan.digest(list(seed_sets))
    if digest is None or not stack.env.cluster_cache:
        return ""
    settings = ",".join(f"{k}={v}" for k, v in TEST_SETTINGS.items())
    return cluster_cache.data_key(project.cluster_key(stack.cfg), f"{digest}\0{settings}")


def _prepare(
    stack: Stack, plan: DataPlan, seed_sets: Sequence[str], session: str, data_key: str = ""
) -> str:
    """The project's data step once, as `devenv up` runs it (devenv.db.plan), then the template
    every test database is cloned from. A cluster from the cache's entry ``data_key`` (an
    earlier session's, same migrations, seeds, images) has it done: the step finds nothing
    pending. Otherwise the cluster is kept under ``data_key`` once the step is done, before
    this session's own template is made."""
    from devenv.db import auth as authmod
    from devenv.db import plan as plan_mod
    from devenv.db import snapshots

    dsn = stack.database_url()
    cached = bool(data_key) and stack.cluster_from == data_key
    if not cached:
        _tune_for_tests(dsn)
    needs_auth = "gotrue" in stack.cfg.services and plan.needs_auth(seed_sets)
    try:
        plan_mod.run(plan, dsn, seed_sets, auth=authmod.target_for(stack) if needs_auth else None)
    except DatabaseError as exc:
        plan_mod.name_missing_service(
            exc,
            stack.cfg.services,
            'add "{service}" to the test stack: [project] services in devenv.toml (the'
            ' default), --devenv-services, or @pytest.mark.devenv(services=["{service}"])',
        )
        raise
    if data_key and not cached:
        stack.keep_cluster(data_key)
    name = TEMPLATE_PREFIX + session
    snapshots.save(dsn, name)
    return name


#: A throw-away server needs no durability. As pgtestdb recommends for its test servers: without
#: fsync, a FILE_COPY clone's two checkpoints and its file copy stay in the page cache, and a
#: database per test takes milliseconds instead of hundreds of them (bench/bench_testing.py).
#: All three are reloadable settings, so the stack's compose file stays the one `devenv up`
#: runs; ALTER SYSTEM writes them into the stack's own (throw-away) data volume. Never applied
#: to a reused `devenv up` stack.
TEST_SETTINGS = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}


def _tune_for_tests(dsn: str) -> None:
    from psycopg import sql

    from devenv.db import conn as dbconn

    with dbconn.connect(dsn) as conn:
        for key, value in TEST_SETTINGS.items():
            conn.execute(
                sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(key), sql.Literal(value))
            )
        conn.execute("SELECT pg_reload_conf()")


def _start_reused(root: Path, session: str) -> TestStack:
    """`--devenv-reuse`: the project's running `devenv up` stack, as it is (migrated and seeded
    by `up`); only the template is made, and removed again by :func:`stop`."""
    from devenv.db import snapshots
    from devenv.stack.handle import Stack

    stack = Stack.load(root)
    running = stack.status().running_services
    if "postgres" not in running:
        raise StackStartError(
            f"--devenv-reuse: the stack {stack.cfg.name!r} of {root} is not running",
            "start it with `devenv up`, or drop --devenv-reuse",
        )
    name = TEMPLATE_PREFIX + session
    snapshots.save(stack.database_url(), name)
    spec = StackSpec(
        name=stack.cfg.name,
        root=str(root),
        project_root=str(root),
        services=tuple(running),
        ports={s: stack.cfg.ports[s] for s in running},
        owner="",
        session=session,
        template=name,
        reused=True,
    )
    return TestStack(stack, spec)


def stop(ts: TestStack | StackSpec) -> None:
    """Remove an ephemeral stack (containers, network, volumes, its private folder); for a
    reused one, only the session's template."""
    spec = ts.spec if isinstance(ts, TestStack) else ts
    stack = ts.stack if isinstance(ts, TestStack) else attach(spec)
    if isinstance(ts, TestStack):
        ts.close()
    if spec.reused:
        from devenv.db import snapshots

        with contextlib.suppress(DevenvError):
            snapshots.delete(stack.database_url(), spec.template)
        return
    try:
        stack.down(volumes=True)
    finally:
        shutil.rmtree(spec.root, ignore_errors=True)


@contextlib.contextmanager
def ephemeral_stack(
    project_root: Path | str = ".",
    *,
    services: Iterable[str] | None = None,
    seed_sets: Sequence[str] = ("default",),
    migrations: str | None = None,
    seeds: str | None = None,
    reuse: bool = False,
    timeout: float = 300.0,
    gc: bool = True,
    prefix: str = "devenv-eph",
    on_progress: ProgressFn | None = None,
) -> Iterator[TestStack]:
    """``with ephemeral_stack("path/to/app") as st:`` — a started, migrated and seeded
    throw-away stack of the project's own services (``services=[...]`` names others), removed on
    exit (Ctrl-C included)."""
    ts = start(
        project_root,
        services=services,
        seed_sets=seed_sets,
        migrations=migrations,
        seeds=seeds,
        reuse=reuse,
        timeout=timeout,
        gc=gc,
        prefix=prefix,
        on_progress=on_progress,
    )
    try:
        yield ts
    finally:
        stop(ts)

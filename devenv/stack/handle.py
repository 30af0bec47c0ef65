"""The Stack handle: one project's config, its keys and its compose runner, made once per
invocation. It is the one way the CLI, the doctor, the contract suites, the pytest plugin and the
benchmarks reach a stack (hatch's Application is the model: the CLI's root callback makes it and
puts it on the Typer context).

``up`` in order: keys -> rendered Kong config -> port check -> images present -> ``compose up
--detach`` while devenv waits for health itself (compose orders postgres healthy before gotrue,
which runs its own migrations) -> the gateway answering through Kong. The data step (env check,
migrations, default seeds) is not the stack's: devenv.up runs it above this room. Every step is
idempotent, so an interrupted ``up`` is finished by the next one. Commands that change the stack
(``up``, ``restart``) hold a per-project lock that a killed holder releases; ``down`` never waits
for it (it is how one stops a stuck ``up``), and an ``up`` whose containers disappear under it stops
within a poll and says so.

As a context manager a handle removes what it started (containers, network, volumes) on exit:
what ephemeral stacks and the pytest plugin use.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from devenv import config as config_mod
from devenv import environ as environ_mod
from devenv import services as svcs
from devenv import trace as trace_mod
from devenv.assets import compose_file
from devenv.config import Config
from devenv.environ import Environ
from devenv.errors import DevenvError, SecretsError, StackError
from devenv.stack import cluster_cache, health, images, ports, project, secrets
from devenv.stack import probes as probes_mod
from devenv.stack.compose import ComposeRunner, ContainerState, Runner
from devenv.stack.engine import Engine, EngineLike
from devenv.stack.engine_api import remote_host
from devenv.stack.model import ProgressFn, ServiceInfo, Status, UpResult
from devenv.stack.probes import Check, Probe, ProbeFactory
from devenv.stack.secrets import Keys
from devenv.trace import Trace

LOCK_FILE = "lock"
#: Touched by `down` as it begins: a starting `up` sees it and stops (see health.wait_ready).
DOWN_MARK = "down"
#: Per-container startup times measured during `up` (see Stack._remember_startup).
STARTUP_FILE = "startup.json"


class Stack:
    """A handle on one project's stack. Cheap to make: nothing touches the engine, the disk or
    the keys until a method needs them."""

    def __init__(
        self,
        cfg: Config,
        *,
        env: Environ | None = None,
        engine: EngineLike | None = None,
        runner: Runner | None = None,
        owner: str = "",
        overrides: Iterable[Path] = (),
        probe_for: ProbeFactory | None = None,
    ) -> None:
        self.cfg = cfg
        self.env = process_environ() if env is None else env
        self.engine: EngineLike = engine or Engine()
        # ``overrides``: compose files merged over compose.yaml (ephemeral stacks put Postgres'
        # data on a tmpfs this way); the stack's definition stays the one file.
        self.runner: Runner = runner or ComposeRunner(
            cfg.name, [compose_file(), *overrides, Path(cluster_cache.override_file())], self.engine
        )
        self.owner = owner
        #: Makes each service's readiness probe (a test's fake engine brings its own).
        self.probe_for: ProbeFactory = probe_for or probes_mod.for_service
        self._keys: Keys | None = None
        self._keys_how = ""
        self._started = False
        self._up_began = 0.0
        #: The last `up` found everything running from this configuration (no compose run).
        self.unchanged = False
        #: Startup times the health wait saw during this handle's `up`/`restart` (by container).
        self._measured: dict[str, float] = {}
        #: The startup waterfall of this handle's last `up` (devenv.trace).
        self.trace: Trace | None = None
        #: The containers as this handle's last `up` left them (its callers need not ask again).
        self.last_containers: list[ContainerState] | None = None
        #: Cluster cache entries a first start of Postgres tries before DEVENV_CLUSTER_KEY's
        #: (a test stack's migrated and seeded state: devenv.testing.ephemeral).
        self.cluster_keys: tuple[str, ...] = ()
        #: Where the last `up`'s Postgres got its cluster on a first start: the key of the cache
        #: entry it copied, "" when it ran initdb, None when it was no first start.
        self.cluster_from: str | None = None
        self.runner.env = project.compose_env(cfg, None, self.env, owner=owner)
        #: Where the published ports are reached: every URL below uses it (project.stack_host).
        self.host = project.stack_host(cfg, self.env)
        #: Called with a line when a command waits (for the project lock); the CLI prints it.
        self.on_wait: Callable[[str], None] | None = None

    # ------------------------------------------------------------------------------------------
    # Making one.

    @classmethod
    def load(cls, root: Path | None = None, *, env: Environ | None = None) -> Stack:
        """The project at (or above) ``root``: its devenv.toml, or the defaults."""
        env = process_environ() if env is None else env
        return cls(config_mod.load(root, env), env=env)

    @classmethod
    def ephemeral(
        cls,
        root: Path,
        *,
        name: str | None = None,
        services: Iterable[str] | None = None,
        env: Environ | None = None,
        owner: str | None = None,
        overrides: Iterable[Path] = (),
        ports: Mapping[str, int] | None = None,
        **sections: Any,
    ) -> Stack:
        """A throw-away stack: a unique project name, free host ports, owned by this process
        (its pid and host in the labels, so `devenv gc` can tell when the owner is gone).
        ``owner`` ("pid@host") names another owner: pytest-xdist's controller, which outlives
        the worker that happens to start the shared stack. ``ports``: the ones a kept test
        stack was made with, instead of free ones."""
        import uuid

        from devenv.stack import ports as ports_mod  # the argument shadows the module

        env = process_environ() if env is None else env
        cfg = config_mod.in_memory(
            root,
            name=name or f"devenv-eph-{uuid.uuid4().hex[:10]}",
            services=services,
            ports=dict(ports)
            if ports is not None
            else ports_mod.free_for(
                svcs.names(),
                within=env.port_range,
                local=remote_host(env.docker_host) is None,
            ),
            env=env,
            **sections,
        )
        owner = owner or f"{os.getpid()}@{socket.gethostname()}"
        return cls(cfg, env=env, owner=owner, overrides=overrides)

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._started:
            self.down(volumes=True)

    # ------------------------------------------------------------------------------------------
    # Keys: loaded once, passed along.

    def keys(self) -> Keys | None:
        """The project's keys: from .devenv/, else recovered from the stack's containers (and
        written back), else None. Never makes new ones."""
        if self._keys is None:
            keys = secrets.load(self.cfg.state_dir)
            how = "loaded"
            if keys is None:
                keys = self._recover(self.runner.ps())
                how = "recovered"
                if keys is not None:
                    secrets.save(self.cfg.state_dir, keys)
            if keys is not None:
                self._set_keys(keys, how)
        return self._keys

    @property
    def keys_how(self) -> str:
        """How this handle got its keys: 'loaded', 'recovered', 'created', or '' (none yet)."""
        return self._keys_how

    def require_keys(self) -> Keys:
        keys = self.keys()
        if keys is None:
            raise StackError(
                f"the stack {self.cfg.name!r} has no keys in {self.cfg.state_dir} and no"
                " containers to recover them from",
                "start it with `devenv up`",
            )
        return keys

    def ensure_keys(self, containers: list[ContainerState] | None = None) -> tuple[Keys, str]:
        """Load, recover or make the keys; returns them and 'loaded', 'recovered' or 'created'."""
        if self._keys is not None:
            return self._keys, self._keys_how
        keys = secrets.load(self.cfg.state_dir)
        how = "loaded"
        if keys is None:
            keys = self._recover(self.runner.ps() if containers is None else containers)
            how = "recovered"
            if keys is None:
                keys, how = secrets.generate(), "created"
            secrets.save(self.cfg.state_dir, keys)
        self._set_keys(keys, how)
        return keys, how

    def _set_keys(self, keys: Keys, how: str) -> None:
        self._keys, self._keys_how = keys, how
        self.runner.env = project.compose_env(self.cfg, keys, self.env, owner=self.owner)
        if self.cluster_keys:
            self.runner.env["DEVENV_CLUSTER_KEYS"] = " ".join(self.cluster_keys)

    @staticmethod
    def _recover(containers: list[ContainerState]) -> Keys | None:
        found: dict[str, str] = {}
        for c in containers:
            found.update(c.env)
        pg_pw = found.get("POSTGRES_PASSWORD")
        if not pg_pw:
            return None
        jwt_secret = found.get("GOTRUE_JWT_SECRET") or found.get("JWT_SECRET")
        return secrets.derive(jwt_secret or secrets.generate().jwt_secret, pg_pw)

    # ------------------------------------------------------------------------------------------
    # Where things are.

    def urls(self, *, show_secrets: bool = False) -> dict[str, str]:
        return project.urls(self.cfg, self.keys(), show_secrets=show_secrets, host=self.host)

    def database_url(self) -> str:
        """The superuser DSN `db`/`seed` use: DEVENV_DATABASE_URL, else the stack's Postgres."""
        if self.env.database_url:
            return self.env.database_url
        self.require_keys()
        return self.urls(show_secrets=True)["postgres"]

    # ------------------------------------------------------------------------------------------
    # Commands.

    def up(
        self,
        services: Iterable[str] = (),
        *,
        timeout: float = 180.0,
        on_progress: ProgressFn | None = None,
        on_note: Callable[[str], None] | None = None,
    ) -> UpResult:
        """Start the enabled services (or ``services`` and what they need) and wait until really
        healthy: the containers' part of ``devenv up`` (devenv.up adds the data step). Raises a
        DevenvError subclass on every failure. ``on_note`` hears of slow one-time work (building
        an image) before it starts; the time that takes does not count against ``timeout``."""
        t0 = time.monotonic()
        self.trace = Trace()
        deadline = t0 + timeout
        chosen = self.cfg.check_services(list(services)) if services else self.cfg.services
        wanted = svcs.with_needs(chosen)
        with self._lock("start"):
            self._up_began = time.time()
            result = self._up(wanted, deadline, on_progress, on_note)
        self._started = True
        result.elapsed_s = time.monotonic() - t0
        return result

    def _up(
        self,
        wanted: tuple[str, ...],
        deadline: float,
        on_progress: ProgressFn | None,
        on_note: Callable[[str], None] | None = None,
    ) -> UpResult:
        t0 = time.monotonic()
        phases: dict[str, float] = {}
        existing = self.runner.ps()  # also proves the engine answers
        self._check_owner(existing)
        keys, how = self.ensure_keys(existing)
        # Older versions kept the gateway config (with the service_role key) in a file.
        (self.cfg.state_dir / "kong.yml").unlink(missing_ok=True)
        phases["prepare"] = time.monotonic() - t0
        self._span("prepare", t0)
        # Everything wanted runs healthy, made from this very configuration: compose would
        # change nothing, and asking it costs more than the rest of `up` together.
        self.unchanged = self._already_up(existing, wanted)
        if not self.unchanged:
            deadline += self._converge(
                existing, wanted, how, deadline, on_progress, phases, on_note
            )
        self._wait_gateway(wanted, keys, deadline, phases)
        # Nothing was started when everything was already up: the first list still holds.
        after = existing if self.unchanged else self.runner.ps()
        self.last_containers = after
        self.cluster_from = None
        if not self.unchanged and "postgres" in wanted:
            self._keep_cluster(wanted, after)
        # Every service was just probed (and GoTrue and Kong asked what an app asks); asking
        # again costs a second `up` as much as the rest of it.
        status = self.status(containers=after, probe="gotrue" not in wanted and not self.unchanged)
        self._remember_startup(status, after)
        return UpResult(
            status=status,
            elapsed_s=time.monotonic() - t0,
            phases=phases,
            keys_how=how,
        )

    def _converge(
        self,
        existing: list[ContainerState],
        wanted: tuple[str, ...],
        how: str,
        deadline: float,
        on_progress: ProgressFn | None,
        phases: dict[str, float],
        on_note: Callable[[str], None] | None = None,
    ) -> float:
        """Checks, then compose: make the running stack what the configuration says. Returns
        the seconds spent building or pulling images, which the caller adds to its deadline."""
        t = time.monotonic()
        remote = remote_host(self.env.docker_host) is not None
        bind = self.runner.env.get("DEVENV_BIND", svcs.LOCAL_HOST)
        if not remote:
            # Binding each port here first tells who holds it; a remote engine's ports are on
            # its own host, where compose itself says which one is taken.
            published = {p for c in existing if c.state == "running" for p in c.ports}
            ports.check(
                {s: self.cfg.ports[s] for s in wanted},
                ours=published,
                project=self.cfg.name,
                project_has_containers=bool(existing),
                engine=self.engine,
                host=bind,
            )
        if bind == project.ALL_ADDRESSES and on_note is not None:
            where = "the remote engine's host" if remote else "this machine"
            on_note(
                f"ports are published on every address of {where} and reached at {self.host}:"
                " the stack is open to that host's network"
            )
        t_images = time.monotonic()
        self._span("checks", t)
        images.ensure(self.cfg, self.engine, self.runner, self.env, wanted, on_note=on_note)
        spent = time.monotonic() - t_images
        self._span("images", t_images)
        deadline += spent
        self._repair_networks()
        phases["checks"] = time.monotonic() - t

        if "postgres" in wanted and not self.engine.volume_exists(cluster_cache.VOLUME):
            # The engine-wide cache of initialised clusters (compose/cluster-cache.yaml names
            # it external, so no project's `down --volumes` takes it).
            self.engine.create_volume(cluster_cache.VOLUME, cluster_cache.LABELS)
        t = time.monotonic()
        if how != "loaded" and "postgres" in wanted and self._volume_exists("pgdata"):
            # New keys, old data: bring postgres up alone and re-assert the role passwords
            # before GoTrue tries to log in with them.
            self._compose_up(["postgres"], deadline, on_progress)
            self.bootstrap()
        # New keys change Kong's config string, so compose recreates Kong itself.
        self._compose_up(list(wanted), deadline, on_progress)
        had = {c.service for c in existing}
        phases["compose"] = time.monotonic() - t

        disabled = sorted(s for s in had if s and s not in self.cfg.services)
        if disabled:
            self.runner.run(["rm", "--stop", "--force", *disabled])
        return spent

    def _keep_cluster(self, wanted: tuple[str, ...], containers: list[ContainerState]) -> None:
        """After a first start of Postgres that ran initdb (its entrypoint said so during this
        `up`), keep the new cluster in the cache (devenv.stack.cluster_cache), once GoTrue has
        migrated it when the stack runs GoTrue. Best effort: `up` has succeeded either way."""
        pg = next((c for c in containers if c.service == "postgres" and c.id), None)
        key = self.runner.env.get("DEVENV_CLUSTER_KEY", "")
        if pg is None or not key:
            return
        said = self.engine.logs_since(pg.id, self._up_began - 1)
        if cluster_cache.HIT in said:
            used = said.split(cluster_cache.HIT, 1)[1].split("(", 1)[-1][:12]
            self.cluster_from = next(
                (k for k in (*self.cluster_keys, key) if k.startswith(used)), used
            )
            return
        if cluster_cache.MISSED not in said:
            return  # not a first start, or not devenv's Postgres image
        self.cluster_from = ""
        if "gotrue" in self.cfg.services and "gotrue" not in wanted:
            return  # GoTrue's migrations belong in this key's cluster, and have not run
        self.keep_cluster(key)

    def keep_cluster(self, key: str) -> bool:
        """Copy the running Postgres' cluster into cache entry ``key`` (nothing if it is there);
        whether that worked."""
        t = time.monotonic()
        try:
            self.runner.run(["exec", "-T", "postgres", "devenv-cluster", "save", key])
        except DevenvError:
            return False
        finally:
            self._span("cluster cache", t)
        return True

    def _already_up(self, existing: list[ContainerState], wanted: tuple[str, ...]) -> bool:
        digest = self.runner.env.get("DEVENV_CONFIG_HASH")
        by_service = {c.service: c for c in existing}
        if any(c.service not in self.cfg.services for c in existing):
            return False  # a service was disabled in devenv.toml: compose must remove it
        made_so = bool(digest) and all(
            (c := by_service.get(s)) is not None
            and c.state == "running"
            and c.labels.get(project.LABEL_CONFIG) == digest
            for s in wanted
        )
        # Running is not answering: each is asked, all at once (the engine's health is not
        # consulted: Podman runs no healthchecks, and a healthy mark can be a second old).
        return made_so and self._all_answer(wanted)

    def _all_answer(self, services: Iterable[str]) -> bool:
        return all(r.ready for r in self.check_all(services).values())

    def check_all(self, services: Iterable[str]) -> dict[str, Check]:
        """Each service's readiness probe, all at once (one slow answer delays no other)."""
        from concurrent.futures import ThreadPoolExecutor

        checks = self.probes(services)
        if not checks:
            return {}
        with ThreadPoolExecutor(max_workers=len(checks)) as pool:
            return dict(zip(checks, pool.map(lambda p: p.check(), checks.values()), strict=True))

    def _wait_gateway(
        self, wanted: tuple[str, ...], keys: Keys, deadline: float, phases: dict[str, float]
    ) -> None:
        """What apps do works: GoTrue answers a sign-in from its database, and Kong answers
        /auth/v1/health through to GoTrue with the anon key."""
        t = time.monotonic()
        if "gotrue" in wanted:
            signin = health.GoTrueSignIn(f"http://{self.host}:{self.cfg.ports['gotrue']}")
            health.wait_http(
                signin, deadline, logs_of=["gotrue", "postgres"], runner=self.runner, what="GoTrue"
            )
        if "kong" in wanted and "gotrue" in wanted:
            gateway = health.HttpOk(
                self.host, self.cfg.ports["kong"], "/auth/v1/health", {"apikey": keys.anon_key}
            )
            health.wait_http(gateway, deadline, logs_of=["kong", "gotrue"], runner=self.runner)
        if "gotrue" in wanted:
            phases["gateway"] = time.monotonic() - t
            self._span("gateway", t)

    def _span(self, phase: str, since: float) -> None:
        """A span of devenv's own work (lane ``devenv``) from monotonic ``since`` to now."""
        if self.trace is not None:
            origin = time.monotonic() - self.trace.now()
            self.trace.add("devenv", phase, since - origin)

    def _compose_up(
        self, services: list[str], deadline: float, on_progress: ProgressFn | None
    ) -> None:
        """Start ``services`` and wait until each answers devenv's own probe (health.wait_ready):
        `compose up --detach --no-deps` of those whose needs already answer, then of the next,
        so GoTrue starts the moment Postgres accepts connections, not at a healthcheck tick."""
        health.wait_ready(
            self.runner,
            services,
            self.probes(services),
            deadline,
            launch=lambda wave: self.runner.start(
                ["up", "--detach", "--no-deps", "--pull", "never", "--quiet-pull", *wave]
            ),
            on_progress=on_progress,
            taken_down=self.down_since_up_began,
            startup=self._measured,
            trace=self.trace,
        )

    def probes(self, services: Iterable[str]) -> dict[str, Probe]:
        """devenv's readiness probe of each service, at the address where it is published."""
        values = _key_values(self._keys)
        return {s: self.probe_for(s, self.host, self.cfg.ports[s], values) for s in services}

    def down_since_up_began(self) -> bool:
        """A `devenv down` began after this handle's `up` did (its mark in the state folder)."""
        try:
            return (self.cfg.state_dir / DOWN_MARK).stat().st_mtime >= self._up_began
        except OSError:
            return False

    def bootstrap(self) -> None:
        """Re-run the role/schema bootstrap inside postgres (over loopback, which the image
        trusts, so it needs no password): it re-asserts the role passwords when the keys were
        made anew for an existing volume."""
        self.runner.run(["exec", "-T", "postgres", "sh", project.BOOTSTRAP_TARGET])

    def down(self, *, volumes: bool = False) -> list[str]:
        """Stop and remove the stack's containers and network; volumes (data) only with
        ``volumes``. Needs no keys. Returns the names of the containers removed."""
        containers = self.runner.ps()
        if containers:
            secrets.ensure_state_dir(self.cfg.state_dir)
            (self.cfg.state_dir / DOWN_MARK).write_text(f"down by pid {os.getpid()}\n")
            self._let_postgres_finish_initialising(containers)
        args = ["down", "--remove-orphans", "--timeout", "10"]
        if volumes:
            args.append("--volumes")
        self.runner.run(args)
        if volumes:
            # compose only removes volumes it would create; remove labelled leftovers too.
            from devenv.stack.compose import COMPOSE_PROJECT

            for v in self.engine.volumes({COMPOSE_PROJECT: self.cfg.name}):
                v.remove(force=True)
        self._started = False
        return [c.name for c in containers]

    def _let_postgres_finish_initialising(
        self, containers: list[ContainerState], limit_s: float = 30.0
    ) -> None:
        """A Postgres stopped during its first start (initdb, then the bootstrap) leaves a data
        volume that looks initialised but lacks the roles and settings the stack needs, and the
        next `up` cannot repair it. So `down` lets a starting Postgres get healthy first
        (bounded); a running `up` has already seen the down mark and stopped waiting."""
        pg = next((c for c in containers if c.service == "postgres"), None)
        if pg is None or pg.state != "running":
            return
        # devenv's own probe, not the engine's health (Podman never runs the healthcheck), at
        # the port the container publishes: a handle made from labels alone (`devenv gc`, a
        # kept test stack made anew) does not know the stack's ports.
        port = pg.ports[0] if pg.ports else self.cfg.ports["postgres"]
        probe = self.probe_for("postgres", self.host, port, {})
        if probe.check().ready:
            return
        commands = self.engine.commands(pg.id)
        # Any word of any command line: the entrypoint runs as `sh docker-entrypoint.sh postgres
        # ...` before initdb starts. Seen processes and none of them Postgres': an image that
        # runs no Postgres never gets ready, and there is nothing to wait for.
        words = {w.rsplit("/", 1)[-1].rstrip(":") for c in commands for w in c.split()}
        if commands and not words & {"postgres", "initdb", "pg_ctl", "postmaster"}:
            return
        end = time.monotonic() + limit_s
        while time.monotonic() < end:
            pg = next((c for c in self.runner.ps() if c.service == "postgres"), None)
            if pg is None or pg.state != "running" or probe.check().ready:
                return
            time.sleep(health.POLL_S)

    def status(
        self,
        *,
        show_secrets: bool = False,
        containers: list[ContainerState] | None = None,
        probe: bool = True,
    ) -> Status:
        """Services with state, health, port, URL and startup time; keys (recovered from the
        containers if .devenv/ is gone while the stack runs). With ``probe``, health is devenv's
        own answer, not the engine's: each running service is asked its readiness probe (all at
        once), then what an app asks of it (health.app_probes: GoTrue reaching its database,
        Kong reaching GoTrue); a service failing either is unhealthy (``starting`` while its
        container is young), with why. Without, the engine's healthcheck status is shown."""
        containers = self.runner.ps() if containers is None else containers
        by_service = {c.service: c for c in containers}
        keys = self._keys
        if keys is None:
            try:
                keys = self.keys()
            except SecretsError:
                keys = None
        u = project.urls(self.cfg, keys, show_secrets=show_secrets, host=self.host)
        infos: list[ServiceInfo] = []
        remembered = {**self._startup_times(), **self._measured}
        for svc in svcs.names():
            c = by_service.get(svc)
            if svc not in self.cfg.services and c is None:
                continue
            if c is None:
                infos.append(ServiceInfo(svc, "missing", "", self.cfg.ports[svc], u[svc], "", None))
                continue
            startup = (
                c.healthy_at - c.started_at
                if c.started_at is not None and c.healthy_at is not None
                else remembered.get(f"{c.id}@{c.started_at}")
            )
            infos.append(
                ServiceInfo(svc, c.state, c.health, self.cfg.ports[svc], u[svc], c.name, startup)
            )
        if probe:
            self._probe_health(infos, keys, containers)
        running = bool(infos) and all(
            i.state == "running" for i in infos if i.name in self.cfg.services
        )
        last = self.trace if self.trace is not None else trace_mod.load(self.cfg.state_dir)
        return Status(self.cfg.name, self.cfg.root, infos, keys, u["kong"], running, last)

    def _probe_health(
        self, infos: list[ServiceInfo], keys: Keys | None, containers: list[ContainerState]
    ) -> None:
        started = {c.service: c for c in containers}
        running = [i for i in infos if i.state == "running"]
        if not running:
            return
        own = self.check_all(i.name for i in running)
        answering = [n for n, r in own.items() if r.ready]
        found = health.app_probes(
            self.cfg.services, answering, self.cfg.ports, keys.anon_key if keys else None, self.host
        )
        now = time.time()
        for info in running:
            mine = own[info.name]
            res = mine if not mine.ready else found.get(info.name)
            if res is None or res.ready:
                info.health, info.why = "healthy", ""
                continue
            # Nothing answers yet from a container started moments ago: it is starting. An
            # answer that is wrong (GoTrue's 500), or silence from an old one, is unhealthy.
            c = started.get(info.name)
            young = c is not None and c.started_at is not None and now - c.started_at < 30
            info.health = "starting" if res is mine and not mine.answered and young else "unhealthy"
            info.why = res.detail

    def restart(self, services: Iterable[str] = (), *, timeout: float = 120.0) -> Status:
        chosen = self.cfg.check_services(list(services)) if services else self.cfg.services
        with self._lock("restart"):
            self.require_keys()
            self.runner.run(["restart", "--timeout", "10", *chosen])
            after = health.wait_ready(
                self.runner,
                list(chosen),
                self.probes(chosen),
                time.monotonic() + timeout,
                startup=self._measured,
            )
            status = self.status(containers=after)
            self._remember_startup(status, after)
        return status

    def logs(
        self, service: str | None = None, *, follow: bool = False, tail: int | None = None
    ) -> int:
        """Stream compose logs to the terminal; returns compose's exit code. Needs no keys."""
        from devenv.errors import Interrupted

        if service:
            self.cfg.check_services([service])
        args = ["logs", "--no-color"]
        if follow:
            args.append("--follow")
        if tail is not None:
            args += ["--tail", str(tail)]
        if service:
            args.append(service)
        try:
            return self.runner.run(args, check=False, capture=False).returncode
        except (KeyboardInterrupt, Interrupted):
            return 0  # Ctrl-C is how one stops `logs -f`: not an error

    def psql(self, dbname: str = "postgres", *, tty: bool) -> int:
        """psql inside the postgres container, attached to this terminal."""
        self.require_keys()
        return self.runner.exec("postgres", ["psql", "-U", "postgres", "-d", dbname], tty=tty)

    def env_for(self, services: Iterable[str], keys: Keys | None) -> dict[str, str]:
        """The .env names ``services`` give (devenv.services), with this stack's URLs and
        ``keys`` (their values empty, and no database URL, without keys)."""
        if keys is None:  # a URL with the database password in it means nothing without it
            services = [s for s in services if "{password}" not in svcs.get(s).url]
        return svcs.env_values(
            services,
            project.urls(self.cfg, keys, show_secrets=True, host=self.host),
            _key_values(keys),
        )

    def env_values(self, *, public_aliases: bool = False) -> dict[str, str]:
        """The running stack's values an app's .env needs (URLs, ports, keys). Secrets
        included: this is what `status -o env` and `env init` write, never what default output
        shows. With ``public_aliases``, also the framework-prefixed names of the public ones
        (see project.with_public_aliases)."""
        st = self.status(show_secrets=True, probe=False)
        running = set(st.running_services)
        if not running:
            raise StackError(
                f"the stack {self.cfg.name!r} is not running", "start it with `devenv up`"
            )
        if st.keys is None:
            raise StackError(
                f"the stack {self.cfg.name!r} runs, but its keys are neither in"
                f" {self.cfg.state_dir} nor recoverable from its containers",
                "run `devenv down` then `devenv up` (data is kept)",
            )
        out = self.env_for(running, st.keys)
        return project.with_public_aliases(out) if public_aliases else out

    # ------------------------------------------------------------------------------------------
    # Helpers.

    def _startup_times(self) -> dict[str, float]:
        """Startup times `up` measured, by ``<container id>@<started_at>`` (a restarted or
        recreated container is a new key, so a stale time is never shown)."""
        import json

        try:
            data = json.loads((self.cfg.state_dir / STARTUP_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)}

    def _remember_startup(self, status: Status, ps: list[ContainerState]) -> None:
        """Docker keeps only the last 5 health checks, so the first healthy transition (what
        startup time is measured from) is gone from `status` a few minutes after `up`; `up` sees
        it fresh, so it keeps it in .devenv/ for `status` to fall back to."""
        import json

        containers = {c.service: c for c in ps}
        live = {c.id for c in ps}
        # Only live containers are kept, so the file never grows.
        known = {k: v for k, v in self._startup_times().items() if k.split("@")[0] in live}
        known.update({k: round(v, 3) for k, v in self._measured.items() if k.split("@")[0] in live})
        for info in status.services:
            c = containers.get(info.name)
            if c is not None and info.startup_s is not None and c.started_at is not None:
                known[f"{c.id}@{c.started_at}"] = round(info.startup_s, 3)
        with contextlib.suppress(OSError):
            secrets.ensure_state_dir(self.cfg.state_dir)
            secrets.write_private(
                self.cfg.state_dir / STARTUP_FILE, json.dumps(known, indent=2) + "\n"
            )

    def _check_owner(self, containers: Iterable[ContainerState]) -> None:
        """Two checkouts with the same project name must not share (and wreck) one stack."""
        for c in containers:
            root = c.labels.get(project.LABEL_ROOT)
            if root and root != str(self.cfg.root):
                raise StackError(
                    f"a stack named {self.cfg.name!r} from {root} already exists",
                    f"run `devenv down` there, or give this checkout another [project] name in "
                    f"{self.cfg.root / config_mod.CONFIG_FILE}",
                )

    def _volume_exists(self, name: str) -> bool:
        return self.engine.volume_exists(f"{self.cfg.name}_{name}")

    def _repair_networks(self) -> None:
        """Duplicate project networks (left by concurrent `up`s before the lock existed, or by
        plain `docker compose`) make compose fail with "network ... is ambiguous": keep one."""
        nets = self.engine.networks(f"{self.cfg.name}_default")
        if len(nets) < 2:
            return
        nets.sort(key=lambda n: len(n.get("Containers") or {}), reverse=True)
        for extra in nets[1:]:
            if not (extra.get("Containers") or {}):
                with contextlib.suppress(Exception):
                    self.engine.remove_network(extra["Id"])

    @contextlib.contextmanager
    def _lock(self, what: str) -> Iterator[None]:
        """Serialise commands that change this project's stack. An flock on .devenv/lock: the
        kernel releases it when the holder dies, so a killed `up` never blocks the next."""
        import fcntl

        secrets.ensure_state_dir(self.cfg.state_dir)
        path = self.cfg.state_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                if self.on_wait is not None:
                    self.on_wait(
                        f"waiting for another devenv command on {self.cfg.name!r}"
                        f" ({holder or 'unknown'}) to finish"
                    )
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{what} by pid {os.getpid()}".encode(), 0)
            yield
        finally:
            os.close(fd)


def process_environ() -> Environ:
    """This process's settings, with the engine a docker context names when DOCKER_HOST is unset
    (``docker context use``, DOCKER_CONTEXT): exported as DOCKER_HOST, so the Docker SDK (which
    knows no contexts), devenv's socket client and compose all talk to the same engine, and the
    stack's host is that engine's (project.stack_host)."""
    env = environ_mod.read()
    if env.docker_host:
        return env
    from devenv.stack.engine_info import context_docker_host

    host = context_docker_host(os.environ, Path.home())
    if host is None:
        return env
    os.environ["DOCKER_HOST"] = host
    return dataclasses.replace(env, docker_host=host)


def _key_values(keys: Keys | None) -> dict[str, str]:
    """The keys' values the table's templates take (``Service.env``, ``probe_headers``)."""
    k = keys or Keys("", "", "", "")
    return {
        "anon_key": k.anon_key,
        "service_role_key": k.service_role_key,
        "jwt_secret": k.jwt_secret,
        "upstash_token": k.upstash_token if keys else "",
        "fireworks_key": svcs.FIREWORKS_LOCAL_KEY,
    }

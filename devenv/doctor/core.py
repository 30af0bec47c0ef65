"""Doctor checks, their findings, and the runner.

A check is a function of a :class:`Context` returning a :class:`Finding` (id, status, one-line
summary, detail, and a fix a user can paste). Checks run in parallel threads, each with its own
timeout; a check that overruns or raises becomes a failing finding itself, so doctor never
crashes and never hangs on a stuck engine. What several checks need (the engine client, the
stack's containers, the keys) is made once per run by the Context, which all threads share.

Check ids are ``GROUP.NAME``; ``devenv doctor GROUP`` runs a group, ``devenv doctor ID`` one
check, and ``ports`` is another name for ``stack.ports`` (hints elsewhere say
``devenv doctor engine|ports|stack|reach``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from devenv.config import Config
    from devenv.environ import Environ
    from devenv.errors import ConfigError
    from devenv.stack.compose import ContainerState
    from devenv.stack.engine import EngineLike
    from devenv.stack.engine_info import EngineAddress, EngineKind
    from devenv.stack.handle import Stack
    from devenv.stack.secrets import Keys

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
GROUPS = ("engine", "project", "stack", "reach")
ALIASES = {"ports": ("stack.ports",)}

T = TypeVar("T")


@dataclass(frozen=True)
class Finding:
    id: str
    status: str  # ok | warn | fail | skip
    summary: str
    detail: str = ""
    fix: str = ""
    seconds: float = 0.0
    #: What the finding found, for machines (`--json`): e.g. engine.kind's kind and label,
    #: engine.host's host. Never a secret.
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def group(self) -> str:
        return self.id.split(".", 1)[0]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "group": self.group,
            "status": self.status,
            "summary": self.summary,
            "detail": self.detail,
            "fix": self.fix,
            "seconds": round(self.seconds, 4),
            "data": dict(self.data),
        }


class Blocked(Exception):
    """A check cannot run because something it needs is broken (reported by another check)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    fn: Callable[[Context], Finding]
    timeout: float

    @property
    def group(self) -> str:
        return self.id.split(".", 1)[0]


REGISTRY: dict[str, Check] = {}


def check(
    id: str, title: str, timeout: float = 3.0
) -> Callable[[Callable[[Context], Finding]], Callable[[Context], Finding]]:
    def add(fn: Callable[[Context], Finding]) -> Callable[[Context], Finding]:
        REGISTRY[id] = Check(id, title, fn, timeout)
        return fn

    return add


class _Once:
    """A value (or the exception) computed once, whichever thread asks first."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.lock = threading.Lock()
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None

    def get(self) -> Any:
        with self.lock:
            if not self.done:
                try:
                    self.value = self.fn()
                except Exception as exc:
                    self.error = exc
                self.done = True
        if self.error is not None:
            raise self.error
        return self.value


class Context:
    """What the checks of one run share, each piece made on first use (thread-safe)."""

    def __init__(self, root: Path | None = None, stack: Stack | None = None) -> None:
        self.root = root
        self._given = stack
        self._onces: dict[str, _Once] = {}
        self._lock = threading.Lock()

    def once(self, name: str, fn: Callable[[], T]) -> T:
        with self._lock:
            o = self._onces.get(name)
            if o is None:
                o = self._onces[name] = _Once(fn)
        value: T = o.get()
        return value

    # -- project ---------------------------------------------------------------------------

    def _load(self) -> Stack:
        if self._given is not None:
            return self._given
        from devenv.stack.handle import Stack

        return Stack.load(self.root)

    def config_error(self) -> ConfigError | None:
        from devenv.errors import ConfigError

        try:
            self.once("stack", self._load)
        except ConfigError as exc:
            return exc
        return None

    @property
    def stack(self) -> Stack:
        """The project's handle; Blocked when devenv.toml is invalid (project.config says so)."""
        from devenv.errors import ConfigError

        try:
            return self.once("stack", self._load)
        except ConfigError:
            raise Blocked("devenv.toml is invalid (see project.config)") from None

    @property
    def cfg(self) -> Config:
        return self.stack.cfg

    # -- engine ----------------------------------------------------------------------------

    def address(self) -> EngineAddress:
        """Where the engine is (DOCKER_HOST, the docker context, the default socket), as the
        docker CLI and compose resolve it; EngineError for a context that cannot be used."""

        def resolve() -> EngineAddress:
            import os

            from devenv.stack import engine_info

            return engine_info.engine_address(os.environ, Path.home())

        return self.once("address", resolve)

    def environ(self) -> Environ:
        """The invocation's DEVENV_* settings, with the engine's address as the docker context
        resolves it: a context's remote host is where its ports are, as DOCKER_HOST's is."""

        def read() -> Environ:
            from devenv import environ
            from devenv.errors import EngineError

            env = environ.read()
            try:
                return replace(env, docker_host=self.address().host)
            except EngineError:
                return env  # engine.daemon reports the broken context

        return self.once("environ", read)

    def config(self) -> Config:
        """The project's config without the rest of its handle: the engine checks need only
        [project] host, and `devenv doctor engine` must stay quick. Blocked when devenv.toml is
        invalid (project.config says so)."""
        stack = self._loaded()
        if stack is not None:
            return stack.cfg

        def load() -> Config:
            from devenv import config

            return config.load(self.root, self.environ())

        from devenv.errors import ConfigError

        try:
            return self.once("config", load)
        except ConfigError:
            raise Blocked("devenv.toml is invalid (see project.config)") from None

    @property
    def engine(self) -> EngineLike:
        """The stack's Engine when the project is loaded; else a bare one (the engine checks
        need no project, and `devenv doctor engine` then never loads one: it must be quick)."""

        def make() -> EngineLike:
            from devenv.stack.engine import Engine

            stack = self._loaded()
            return stack.engine if stack is not None else Engine()

        return self.once("engine", make)

    def _loaded(self) -> Stack | None:
        """The handle if some check already loaded it (or it was given); never loads it."""
        if self._given is not None:
            return self._given
        with self._lock:
            o = self._onces.get("stack")
        if o is None:
            return None
        try:
            value: Stack = o.get()
        except Exception:
            return None
        return value

    def client(self) -> Any:
        """A pinged Docker client; raises EngineError (engine.daemon reports it)."""
        return self.once("client", lambda: self.engine.client)

    def _context_client(self) -> Any:
        """A pinged SDK client for the docker context's engine (its TLS material included): the
        SDK's from_env reads DOCKER_HOST only, and a context is how Docker Desktop, colima and
        remote engines are usually chosen."""

        def make() -> Any:
            import docker
            from docker.context import ContextAPI
            from docker.errors import DockerException

            from devenv.stack.engine_api import engine_error

            addr = self.address()
            try:  # the context's TLS material, as the SDK reads it (engine_info read its host)
                found = ContextAPI.get_context(addr.context)
                tls = found.TLSConfig if found is not None else None
            except Exception:  # a file the SDK's reader rejects: no TLS, as without material
                tls = None
            try:
                c = docker.DockerClient(base_url=addr.host, tls=tls or False, timeout=30)
                c.ping()
            except DockerException as exc:
                raise engine_error(addr.host, exc) from None
            return c

        return self.once("context-client", make)

    def engine_call(self, what: str) -> dict[str, Any]:
        """The engine's /_ping, /version or /info answer (``what``: ping, version, info): over
        its Unix socket without the Docker SDK where it is local (see engine_api), else via the
        SDK. Raises EngineError when it does not answer (or a docker context cannot be used)."""

        def fetch() -> Any:
            from devenv.stack import engine_api

            addr = self.address()
            if addr.from_context:
                client = self._context_client()
            elif engine_api.plain_endpoint() is not None:
                return engine_api.get({"ping": "/_ping"}.get(what, f"/{what}"))
            else:
                client = self.client()
            return {"ping": client.ping, "version": client.version, "info": client.info}[what]()

        value = self.once(f"api:{what}", fetch)
        return value if isinstance(value, dict) else {}

    def kind(self) -> EngineKind:
        """What kind of engine answered (engine_info.engine_kind of its /version and /info)."""

        def judge() -> EngineKind:
            from devenv.stack import engine_info

            version, info = self.engine_call("version"), self.engine_call("info")
            return engine_info.engine_kind(version, info, self.address().host)

        return self.once("kind", judge)

    def engine_or_blocked(self) -> None:
        """Blocked unless the engine answers its /_ping. Not through the Docker SDK: its import
        costs more than the whole doctor may take, and once the stack's Engine has an SDK
        client it asks everything through it, the local socket's quick answers no more."""
        from devenv.errors import EngineError

        try:
            self.engine_call("ping")
        except EngineError:
            raise Blocked("the Docker engine is not reachable (see engine.daemon)") from None

    def info(self) -> dict[str, Any]:
        from devenv.errors import EngineError

        try:
            return self.engine_call("info")
        except EngineError:
            raise Blocked("the Docker engine is not reachable (see engine.daemon)") from None

    def containers(self) -> list[ContainerState]:
        """The project's containers (all states)."""
        self.engine_or_blocked()
        return self.once("ps", lambda: self.stack.runner.ps())

    def keys(self) -> Keys | None:
        """The project's keys (.devenv/, or recovered from its containers); Blocked if
        .devenv/secrets.json is corrupt (project.state says so)."""
        from devenv.errors import SecretsError

        try:
            return self.once("keys", lambda: self.stack.keys())
        except SecretsError:
            raise Blocked(".devenv/secrets.json is unreadable (see project.state)") from None

    def urls(self) -> dict[str, str]:
        """The stack's URLs without secrets (no keys needed)."""
        from devenv.stack import project

        return project.urls(self.cfg, None, host=self.stack.host)

    def running(self) -> set[str]:
        return {c.service for c in self.containers() if c.state == "running"}


def _run_one(chk: Check, ctx: Context) -> Finding:
    t = time.perf_counter()
    try:
        f = chk.fn(ctx)
    except Blocked as exc:
        f = Finding(chk.id, SKIP, exc.reason)
    except Exception as exc:  # a bug or an odd answer: still a finding, never a crash
        from devenv.errors import ComposeError, DevenvError, EngineError

        if isinstance(exc, EngineError) and not isinstance(exc, ComposeError):
            # Reported once, with its fix, by engine.daemon.
            f = Finding(chk.id, SKIP, "the Docker engine is not reachable (see engine.daemon)")
        elif isinstance(exc, DevenvError):
            f = Finding(chk.id, FAIL, exc.message, fix=exc.hint or "")
        else:
            f = Finding(
                chk.id,
                FAIL,
                f"{chk.title}: the check itself failed ({type(exc).__name__}: {exc})",
                fix="re-run with DEVENV_DEBUG=1 and report it",
            )
    return replace(f, seconds=time.perf_counter() - t)


def run(checks: list[Check], ctx: Context | None = None) -> list[Finding]:
    """Run ``checks`` in parallel, each within its own timeout; findings in ``checks`` order.

    Daemon threads, not a pool: a check stuck on a hung engine must not keep the process
    alive after doctor has reported it as timed out."""
    ctx = ctx or Context()
    results: dict[str, Finding] = {}
    threads: list[tuple[Check, threading.Thread]] = []
    t0 = time.perf_counter()
    for chk in checks:

        def work(c: Check = chk) -> None:
            results[c.id] = _run_one(c, ctx)

        th = threading.Thread(target=work, name=f"doctor:{chk.id}", daemon=True)
        th.start()
        threads.append((chk, th))
    out: list[Finding] = []
    for chk, th in threads:
        th.join(max(0.0, t0 + chk.timeout - time.perf_counter()))
        f = results.get(chk.id)
        if f is None:
            f = Finding(
                chk.id,
                FAIL,
                f"{chk.title}: no answer within {chk.timeout:.1f} s",
                detail="the engine or a service is hanging",
                fix="run `devenv doctor engine`; if the engine hangs, restart Docker",
                seconds=chk.timeout,
            )
        out.append(f)
    return out

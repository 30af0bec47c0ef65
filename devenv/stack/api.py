"""The stack's library API: everything `devenv up/down/status/logs/restart` does, callable from
Python (the pytest plugin and the benchmarks call it directly).

`up` in order: keys -> rendered Kong config -> port check -> images present -> `docker compose up
-d --wait` (compose orders postgres healthy before gotrue, which runs its own migrations) while the
Docker SDK reports per-service progress -> the gateway answering through Kong -> (migrations and
seeds, by their own modules). Every step is idempotent, so an interrupted `up` is finished by the
next one.
"""

from __future__ import annotations

import contextlib
import os
import socket
import string
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from devenv import config as config_mod
from devenv.config import Config
from devenv.errors import (
    ComposeError,
    HealthTimeout,
    ImageMissing,
    Interrupted,
    StackError,
)
from devenv.mocks.upstash import token_for as upstash_token
from devenv.stack import engine, ports, secrets
from devenv.stack.secrets import Keys

LABEL_PROJECT = "dev.devenv.project"
LABEL_ROOT = "dev.devenv.root"
LABEL_STACK = "dev.devenv.stack"
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"

#: Container port each service publishes (the host side comes from devenv.toml).
CONTAINER_PORTS = {
    "postgres": 5432,
    "gotrue": 9999,
    "kong": 8000,
    "redis": 6379,
    "fireworks": 8000,
    "pooler": 6543,
    "upstash": 8000,
}

#: Where a project keeps its Fireworks stub files (mounted read-only into the mock).
FIREWORKS_STUBS = "fixtures/fireworks"
#: The key `status -o env` hands apps for the mock. Not a secret: the mock accepts any non-empty
#: key unless DEVENV_FIREWORKS_KEYS narrows it, so a developer's real key works as well.
FIREWORKS_LOCAL_KEY = "fw-devenv-local"


def compose_dir() -> Path:
    """compose/ as shipped: inside the wheel (devenv/_data/compose) or the source checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_data" / "compose", here.parent / "compose"):
        if (candidate / "compose.yaml").is_file():
            return candidate
    raise StackError(
        "compose/compose.yaml is missing from the devenv installation",
        "reinstall devenv-stack",
    )


# --------------------------------------------------------------------------------------------
# State of one service, as the progress table and `status` show it.


@dataclass
class ServiceState:
    name: str
    state: str = "waiting"  # waiting | created | starting | healthy | unhealthy | exited | missing
    health: str = ""
    container: str = ""
    started_at: float | None = None
    healthy_at: float | None = None
    exit_code: int | None = None

    @property
    def startup_s(self) -> float | None:
        if self.started_at is None or self.healthy_at is None:
            return None
        return max(0.0, self.healthy_at - self.started_at)


@dataclass
class ServiceInfo:
    name: str
    state: str
    health: str
    port: int
    url: str
    container: str
    startup_s: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.name,
            "state": self.state,
            "health": self.health,
            "port": self.port,
            "url": self.url,
            "container": self.container,
            "startup_s": None if self.startup_s is None else round(self.startup_s, 2),
        }


@dataclass
class Status:
    project: str
    root: Path
    services: list[ServiceInfo]
    keys: Keys | None
    api_url: str
    running: bool

    def as_dict(self, show_secrets: bool = False) -> dict[str, Any]:
        keys: dict[str, str] = {}
        if self.keys is not None:
            keys = {
                "anon_key": self.keys.anon_key,
                "service_role_key": self.keys.service_role_key,
                "jwt_secret": self.keys.jwt_secret,
            }
            if not show_secrets:
                keys["service_role_key"] = secrets.mask(keys["service_role_key"])
                keys["jwt_secret"] = secrets.mask(keys["jwt_secret"])
        return {
            "project": self.project,
            "root": str(self.root),
            "running": self.running,
            "api_url": self.api_url,
            "services": [s.as_dict() for s in self.services],
            "keys": keys,
        }


@dataclass
class UpResult:
    status: Status
    elapsed_s: float
    phases: dict[str, float] = field(default_factory=dict)
    recovered_keys: bool = False
    created_keys: bool = False


ProgressFn = Callable[[Mapping[str, ServiceState], float], None]


# --------------------------------------------------------------------------------------------
# Project plumbing.


def urls(cfg: Config, keys: Keys | None, *, show_secrets: bool = False) -> dict[str, str]:
    pw = ""
    if keys is not None:
        pw = keys.postgres_password if show_secrets else secrets.mask(keys.postgres_password)
    p = cfg.ports
    return {
        "postgres": f"postgresql://postgres:{pw}@127.0.0.1:{p['postgres']}/postgres",
        "gotrue": f"http://127.0.0.1:{p['gotrue']}",
        "kong": f"http://127.0.0.1:{p['kong']}",
        "redis": f"redis://127.0.0.1:{p['redis']}/0",
        # The OpenAI-compatible base the `openai` SDK takes; the `fireworks-ai` SDK takes the
        # same URL without /inference/v1 (the mock serves /v1 too).
        "fireworks": f"http://127.0.0.1:{p['fireworks']}/inference/v1",
        # PgBouncer in transaction mode, as Supabase's pooler (port 6543 there).
        "pooler": f"postgresql://postgres:{pw}@127.0.0.1:{p['pooler']}/postgres",
        "upstash": f"http://127.0.0.1:{p['upstash']}",
    }


def fireworks_stubs(cfg: Config) -> Path:
    """The project's stub folder, or the empty one shipped beside compose.yaml."""
    own = cfg.path(FIREWORKS_STUBS)
    return own if own.is_dir() else compose_dir() / "fireworks" / "stubs"


def stack_id(cfg: Config) -> str:
    """Stable id of one checkout's stack: the same project name in two checkouts differs here."""
    import hashlib

    return hashlib.sha256(f"{cfg.name}\0{cfg.root}".encode()).hexdigest()[:12]


def compose_env(cfg: Config, keys: Keys, *, owner: str = "") -> dict[str, str]:
    """Everything compose.yaml interpolates. Secrets travel here, never in argv."""
    env = {
        "DEVENV_PROJECT": cfg.name,
        "DEVENV_ROOT": str(cfg.root),
        "DEVENV_STACK_ID": stack_id(cfg),
        "DEVENV_OWNER": owner,
        "DEVENV_POSTGRES_PASSWORD": keys.postgres_password,
        "DEVENV_JWT_SECRET": keys.jwt_secret,
        "DEVENV_JWT_EXPIRY": str(cfg.auth.jwt_expiry),
        "DEVENV_SITE_URL": cfg.auth.site_url,
        "DEVENV_REDIRECT_URLS": ",".join(cfg.auth.additional_redirect_urls),
        "DEVENV_DISABLE_SIGNUP": "false" if cfg.auth.enable_signup else "true",
        "DEVENV_API_URL": f"http://127.0.0.1:{cfg.ports['kong']}",
        "DEVENV_KONG_CONFIG": str(cfg.state_dir / "kong.yml"),
        "DEVENV_FIREWORKS_STUBS": str(fireworks_stubs(cfg)),
        "DEVENV_FIREWORKS_KEYS": os.environ.get("DEVENV_FIREWORKS_KEYS", ""),
        "DEVENV_UPSTASH_TOKEN": upstash_token(keys.jwt_secret),
    }
    for service in config_mod.SERVICES:
        env[f"DEVENV_IMAGE_{service.upper()}"] = cfg.image(service)
        env[f"DEVENV_PORT_{service.upper()}"] = str(cfg.ports[service])
    return env


def _compose(
    cfg: Config, keys: Keys, args: list[str], **kw: Any
) -> subprocess.CompletedProcess[str]:
    return engine.compose(
        args,
        project=cfg.name,
        files=[compose_dir() / "compose.yaml"],
        env=compose_env(cfg, keys),
        **kw,
    )


def _project_containers(cfg: Config) -> list[Any]:
    return engine.containers({COMPOSE_PROJECT: cfg.name})


def _check_owner(cfg: Config, summaries: Iterable[dict[str, Any]]) -> None:
    """Two checkouts with the same project name must not share (and wreck) one stack."""
    for c in summaries:
        root = (c.get("Labels") or {}).get(LABEL_ROOT)
        if root and root != str(cfg.root):
            raise StackError(
                f"a stack named {cfg.name!r} from {root} already exists",
                f"run `devenv down` there, or give this checkout another [project] name in "
                f"{cfg.root / config_mod.CONFIG_FILE}",
            )


def _env_of(container: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in container.attrs.get("Config", {}).get("Env") or []:
        k, _, v = item.partition("=")
        out[k] = v
    return out


def ensure_keys(cfg: Config) -> tuple[Keys, str]:
    """Load the keys, or recover them from the stack's containers, or make new ones.

    Returns the keys and how they were had: 'loaded', 'recovered' or 'created'.
    """
    keys = secrets.load(cfg.state_dir)
    if keys is not None:
        return keys, "loaded"
    found: dict[str, str] = {}
    for c in _project_containers(cfg):
        found.update(_env_of(c))
    jwt_secret = found.get("GOTRUE_JWT_SECRET") or found.get("JWT_SECRET")
    pg_pw = found.get("POSTGRES_PASSWORD")
    if pg_pw:
        fresh = secrets.generate()
        keys = secrets.derive(jwt_secret or fresh.jwt_secret, pg_pw)
        how = "recovered"
    else:
        keys, how = secrets.generate(), "created"
    secrets.save(cfg.state_dir, keys)
    return keys, how


def render_kong(cfg: Config, keys: Keys) -> bool:
    """Render compose/kong/kong.yml with the keys into .devenv/kong.yml; True if it changed."""
    template = (compose_dir() / "kong" / "kong.yml").read_text(encoding="utf-8")
    text = string.Template(template).substitute(
        SUPABASE_ANON_KEY=keys.anon_key, SUPABASE_SERVICE_KEY=keys.service_role_key
    )
    target = cfg.state_dir / "kong.yml"
    try:
        if target.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    secrets.ensure_state_dir(cfg.state_dir)
    secrets.write_private(target, text)
    # Kong's container runs as an unprivileged user and must read the bind-mounted file.
    os.chmod(target, 0o644)
    return True


def ensure_images(cfg: Config, keys: Keys, services: Iterable[str]) -> None:
    """Pull what is missing (never what is present); a missing image that cannot be pulled fails
    with its name and how to get it."""
    from docker.errors import ImageNotFound

    c = engine.client()
    missing: dict[str, str] = {}
    for svc in services:
        image = cfg.image(svc)
        try:
            c.images.get(image)
        except ImageNotFound:
            missing[svc] = image
    own = [s for s in ("fireworks", "upstash") if s in missing]
    if own:
        # devenv's own image (the upstash service runs it too): on no registry, so it is built
        # from the installed package.
        from devenv.stack import fireworks_image

        fireworks_image.build(missing[own[0]])
        for svc in own:
            missing.pop(svc)
    if not missing:
        return
    proc = _compose(cfg, keys, ["pull", "--quiet", *missing], check=False)
    still = {}
    for svc, image in missing.items():
        try:
            c.images.get(image)
        except ImageNotFound:
            still[svc] = image
    if still:
        svc, image = next(iter(still.items()))
        why = next((ln for ln in reversed(proc.stderr.splitlines()) if ln.strip()), "")
        others = f" (and {len(still) - 1} more)" if len(still) > 1 else ""
        raise ImageMissing(
            f"image {image} for {svc} is not present and could not be pulled{others}: "
            f"{why.strip()}",
            f"`docker pull {image}` or `docker load` it, or point DEVENV_IMAGE_{svc.upper()} / "
            f"[images] {svc} / [images] registry in devenv.toml at an image you have",
        )


def _poll_states(cfg: Config, wanted: Iterable[str]) -> dict[str, ServiceState]:
    states = {s: ServiceState(s) for s in wanted}
    for c in engine.summaries({COMPOSE_PROJECT: cfg.name}):
        svc = (c.get("Labels") or {}).get(COMPOSE_SERVICE)
        if svc not in states:
            continue
        st = states[svc]
        st.container = (c.get("Names") or [""])[0].lstrip("/")
        raw_state = c.get("State", "")
        text = c.get("Status", "")
        if raw_state == "running":
            if "(healthy)" in text:
                st.state = st.health = "healthy"
            elif "(unhealthy)" in text:
                st.state = st.health = "unhealthy"
            elif "health: starting" in text:
                st.state, st.health = "starting", "starting"
            else:
                st.state = "running"
        elif raw_state in ("exited", "dead"):
            st.state = "exited"
        else:
            st.state = raw_state or "created"
    return states


def _inspect_times(container: Any) -> tuple[float | None, float | None, int | None]:
    """(started, first healthy, exit code) from a container's inspect data.

    Docker keeps only the last five health results, so the first success there is the moment
    the service became healthy only if a failure precedes it, or if it is the very first check
    after the start; otherwise the time is unknown (None) rather than wrong.
    """
    state = container.attrs.get("State", {})
    started = _ts(state.get("StartedAt"))
    healthy = None
    log = (state.get("Health") or {}).get("Log") or []
    for i, entry in enumerate(log):
        if entry.get("ExitCode") != 0:
            continue
        end, begin = _ts(entry.get("End")), _ts(entry.get("Start"))
        if end is None or (started is not None and end < started):
            continue
        first_check = started is not None and begin is not None and begin - started < 2.5
        if i > 0 or first_check:
            healthy = end
        break
    code = state.get("ExitCode") if state.get("Status") in ("exited", "dead") else None
    return started, healthy, code


def _ts(value: str | None) -> float | None:
    if not value or value.startswith("0001-"):
        return None
    # Docker gives nanoseconds; datetime takes microseconds.
    head, _, rest = value.partition(".")
    frac = "".join(ch for ch in rest if ch.isdigit())[:6]
    try:
        return datetime.fromisoformat(f"{head}.{frac or '0'}+00:00").timestamp()
    except ValueError:
        return None


def _last_logs(cfg: Config, services: Iterable[str], lines: int = 20) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in _project_containers(cfg):
        svc = c.labels.get(COMPOSE_SERVICE)
        if svc in services:
            try:
                raw = c.logs(tail=lines, timestamps=False)
                out[svc] = raw.decode("utf-8", "replace")
            except Exception as exc:  # logs are a courtesy; the error itself must still surface
                out[svc] = f"(logs unavailable: {exc})"
    return out


def _wait_gateway(cfg: Config, keys: Keys, deadline: float) -> None:
    """Kong answers /auth/v1/health through to GoTrue with the anon key: the path apps use.

    One plain GET in a loop: the stdlib's http.client, because importing httpx here would cost
    more than the request on `up`'s hot path.
    """
    import http.client

    port = cfg.ports["kong"]
    url = f"http://127.0.0.1:{port}/auth/v1/health"
    last = ""
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2.0)
        try:
            conn.request("GET", "/auth/v1/health", headers={"apikey": keys.anon_key})
            status = conn.getresponse().status
            if status == 200:
                return
            last = f"HTTP {status}"
        except OSError as exc:
            last = type(exc).__name__
        finally:
            conn.close()
        if time.monotonic() > deadline:
            raise HealthTimeout(
                f"the gateway did not answer {url} with 200 in time (last: {last})",
                "see `devenv logs kong` and `devenv logs gotrue`",
                logs=_last_logs(cfg, ["kong", "gotrue"]),
            )
        time.sleep(0.1)


def _bootstrap(cfg: Config, keys: Keys) -> None:
    """Re-run the role/schema bootstrap inside postgres (over its socket, which needs no password):
    it re-asserts the role passwords when the keys were made anew for an existing volume."""
    _compose(
        cfg,
        keys,
        ["exec", "-T", "postgres", "sh", "/docker-entrypoint-initdb.d/00-devenv-bootstrap.sh"],
    )


def _volume_exists(cfg: Config, name: str) -> bool:
    from docker.errors import NotFound

    try:
        engine.client().volumes.get(f"{cfg.name}_{name}")
        return True
    except NotFound:
        return False


# --------------------------------------------------------------------------------------------
# Commands.


def up(
    cfg: Config,
    services: Iterable[str] = (),
    *,
    timeout: float = 180.0,
    on_progress: ProgressFn | None = None,
) -> UpResult:
    """Start the enabled services (or ``services`` and what they need), wait until really
    healthy, and return the status. Raises a DevenvError subclass on every failure."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    phases: dict[str, float] = {}
    chosen = cfg.check_services(list(services)) if services else cfg.services
    wanted = _with_requirements(chosen)

    summaries = engine.summaries({COMPOSE_PROJECT: cfg.name})  # also proves the engine answers
    _check_owner(cfg, summaries)
    keys, how = ensure_keys(cfg)
    kong_changed = render_kong(cfg, keys) if "kong" in wanted else False
    phases["prepare"] = time.monotonic() - t0

    t = time.monotonic()
    ours = _published_ports(summaries)
    ports.check({s: cfg.ports[s] for s in wanted}, ours=ours, project=cfg.name)
    ensure_images(cfg, keys, wanted)
    phases["checks"] = time.monotonic() - t

    t = time.monotonic()
    if how != "loaded" and _volume_exists(cfg, "pgdata") and "postgres" in wanted:
        # New keys, old data: bring postgres up alone and re-assert role passwords before GoTrue
        # tries to log in with them.
        _compose_up(cfg, keys, ["postgres"], deadline, on_progress)
        _bootstrap(cfg, keys)
    _compose_up(cfg, keys, list(wanted), deadline, on_progress)
    existing = {(c.get("Labels") or {}).get(COMPOSE_SERVICE) for c in summaries}
    if kong_changed and "kong" in existing:
        _compose(cfg, keys, ["restart", "kong"])  # new keys: Kong reads its config at start
        _compose_up(cfg, keys, ["kong"], deadline, on_progress)
    phases["compose"] = time.monotonic() - t

    disabled = sorted(s for s in existing if s and s not in cfg.services)
    if disabled:
        _compose(cfg, keys, ["rm", "--stop", "--force", *disabled])

    if "kong" in wanted and "gotrue" in wanted:
        t = time.monotonic()
        _wait_gateway(cfg, keys, deadline)
        phases["gateway"] = time.monotonic() - t

    result = UpResult(
        status=status(cfg),
        elapsed_s=time.monotonic() - t0,
        phases=phases,
        recovered_keys=how == "recovered",
        created_keys=how == "created",
    )
    return result


def _with_requirements(services: Iterable[str]) -> tuple[str, ...]:
    need: set[str] = set()
    todo = list(services)
    while todo:
        s = todo.pop()
        if s not in need:
            need.add(s)
            todo.extend(config_mod.REQUIRES[s])
    return tuple(s for s in config_mod.SERVICES if s in need)


def _published_ports(summaries: Iterable[dict[str, Any]]) -> set[int]:
    return {
        int(port["PublicPort"])
        for c in summaries
        if c.get("State") == "running"
        for port in c.get("Ports") or []
        if port.get("PublicPort")
    }


def _ready(st: ServiceState) -> bool:
    # A container with no healthcheck (a user's own image) counts as ready once it runs.
    return st.state == "healthy" or (st.state == "running" and not st.health)


def _compose_up(
    cfg: Config,
    keys: Keys,
    services: list[str],
    deadline: float,
    on_progress: ProgressFn | None,
) -> None:
    """`docker compose up --detach` for ``services``, then wait until each is healthy.

    devenv waits itself instead of `up --wait`: it polls the engine every 0.1 s for the progress
    table anyway, and compose's own wait loop notices health later (it ticks every 0.5 s).
    Compose still orders the start (postgres healthy before gotrue, via depends_on).
    """
    argv = [
        *engine.compose_command(),
        "--project-name",
        cfg.name,
        "--file",
        str(compose_dir() / "compose.yaml"),
        "up",
        "--detach",
        "--pull",
        "never",
        "--quiet-pull",
        *services,
    ]
    env = {**os.environ, **compose_env(cfg, keys)}
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    stderr_chunks: list[str] = []

    def drain() -> None:
        assert proc.stderr is not None
        stderr_chunks.append(proc.stderr.read())

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        while True:
            states = _poll_states(cfg, services)
            if on_progress is not None:
                on_progress(states, time.monotonic() - started)
            done = proc.poll() is not None
            if done and proc.returncode != 0:
                reader.join(5)
                _raise_start_failure(cfg, services, argv, proc.returncode, "".join(stderr_chunks))
            if done and all(_ready(st) for st in states.values()):
                return
            failed = [n for n, st in states.items() if st.state in ("exited", "unhealthy")]
            if done and failed:
                _raise_start_failure(cfg, services, argv, 0, "")
            if time.monotonic() > deadline:
                _stop(proc)
                bad = [n for n, st in states.items() if not _ready(st)] or list(services)
                raise HealthTimeout(
                    f"{', '.join(bad)} did not become healthy within the deadline "
                    f"(state: {', '.join(states[n].state for n in bad if n in states)})",
                    "see the log lines below; raise --timeout if the machine is just slow",
                    logs=_last_logs(cfg, bad),
                )
            if done:
                time.sleep(0.1)
            else:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(0.1)
    except BaseException:
        _stop(proc)  # Ctrl-C: let compose stop cleanly; the next `up` finishes the job
        raise


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _raise_start_failure(
    cfg: Config, services: list[str], argv: list[str], rc: int, stderr: str
) -> None:
    states = _poll_states(cfg, services)
    bad = [n for n, st in states.items() if not _ready(st)]
    reason = ""
    if rc:
        reason = ": " + engine.compose_error(["up", *services], argv, rc, stderr).message
    if bad:
        raise HealthTimeout(
            f"{', '.join(bad)} failed to start "
            f"({', '.join(f'{n}: {states[n].state}' for n in bad)}){reason}",
            "see the log lines below",
            logs=_last_logs(cfg, bad),
        )
    raise engine.compose_error(["up", *services], argv, rc, stderr)


def down(cfg: Config, *, volumes: bool = False) -> list[str]:
    """Stop and remove the stack's containers and network; volumes (data) only with ``volumes``.
    Returns the names of the containers removed."""
    containers = _project_containers(cfg)
    keys = secrets.load(cfg.state_dir) or secrets.derive("x" * 40, "unused")
    args = ["down", "--remove-orphans", "--timeout", "10"]
    if volumes:
        args.append("--volumes")
    _compose(cfg, keys, args)
    if volumes:
        # compose only removes volumes it would create; remove any labelled leftovers too.
        for v in engine.client().volumes.list(filters={"label": f"{COMPOSE_PROJECT}={cfg.name}"}):
            v.remove(force=True)
    return [c.name for c in containers]


def status(cfg: Config, *, show_secrets: bool = False) -> Status:
    """Services with state, health, port, URL and startup time; keys from .devenv/."""
    by_service = {c.labels.get(COMPOSE_SERVICE): c for c in _project_containers(cfg)}
    keys = secrets.load(cfg.state_dir)
    u = urls(cfg, keys, show_secrets=show_secrets)
    infos: list[ServiceInfo] = []
    for svc in config_mod.SERVICES:
        c = by_service.get(svc)
        if svc not in cfg.services and c is None:
            continue
        if c is None:
            infos.append(ServiceInfo(svc, "missing", "", cfg.ports[svc], u[svc], "", None))
            continue
        state = c.attrs.get("State", {})
        health = (state.get("Health") or {}).get("Status", "")
        started, healthy, _ = _inspect_times(c)
        startup = healthy - started if started is not None and healthy is not None else None
        infos.append(
            ServiceInfo(
                svc, state.get("Status", "unknown"), health, cfg.ports[svc], u[svc], c.name, startup
            )
        )
    running = bool(infos) and all(i.state == "running" for i in infos if i.name in cfg.services)
    return Status(cfg.name, cfg.root, infos, keys, u["kong"], running)


def restart(cfg: Config, services: Iterable[str] = (), *, timeout: float = 120.0) -> Status:
    chosen = cfg.check_services(list(services)) if services else cfg.services
    keys = _require_keys(cfg)
    _compose(cfg, keys, ["restart", "--timeout", "10", *chosen])
    _compose_up(cfg, keys, list(chosen), time.monotonic() + timeout, None)
    return status(cfg)


def logs(
    cfg: Config, service: str | None = None, *, follow: bool = False, tail: int | None = None
) -> int:
    """Stream compose logs to the terminal; returns compose's exit code."""
    if service:
        cfg.check_services([service])
    keys = secrets.load(cfg.state_dir) or secrets.derive("x" * 40, "unused")
    args = ["logs", "--no-color"]
    if follow:
        args.append("--follow")
    if tail is not None:
        args += ["--tail", str(tail)]
    if service:
        args.append(service)
    try:
        return _compose(cfg, keys, args, check=False, capture=False).returncode
    except (KeyboardInterrupt, Interrupted):
        return 0  # Ctrl-C is how one stops `logs -f`: not an error


def _require_keys(cfg: Config) -> Keys:
    keys = secrets.load(cfg.state_dir)
    if keys is None:
        keys, _ = ensure_keys(cfg)
    return keys


def env_values(cfg: Config) -> dict[str, str]:
    """The running stack's values an app's .env needs (URLs, ports, keys). Secrets included: this
    is what `devenv status -o env` and `devenv env init` write, never what default output shows."""
    st = status(cfg, show_secrets=True)
    running = {s.name for s in st.services if s.state == "running"}
    if not running or st.keys is None:
        raise StackError(f"the stack {cfg.name!r} is not running", "start it with `devenv up`")
    keys = st.keys
    u = urls(cfg, keys, show_secrets=True)
    out: dict[str, str] = {}
    if "kong" in running:
        out["SUPABASE_URL"] = u["kong"]
    if "gotrue" in running or "kong" in running:
        out["SUPABASE_ANON_KEY"] = keys.anon_key
        out["SUPABASE_SERVICE_ROLE_KEY"] = keys.service_role_key
        out["SUPABASE_JWT_SECRET"] = keys.jwt_secret
    if "gotrue" in running:
        out["GOTRUE_URL"] = u["gotrue"]
    if "postgres" in running:
        out["DATABASE_URL"] = u["postgres"]
    if "redis" in running:
        out["REDIS_URL"] = u["redis"]
    if "fireworks" in running:
        out["FIREWORKS_BASE_URL"] = u["fireworks"]
        out["FIREWORKS_API_KEY"] = FIREWORKS_LOCAL_KEY
    if "pooler" in running:
        out["DATABASE_POOLED_URL"] = u["pooler"]
        # Prisma's form: it must not use named prepared statements through a pooler.
        out["DATABASE_POOLED_PRISMA_URL"] = f"{u['pooler']}?pgbouncer=true"
    if "upstash" in running:
        out["UPSTASH_REDIS_REST_URL"] = u["upstash"]
        out["UPSTASH_REDIS_REST_TOKEN"] = upstash_token(keys.jwt_secret)
    return out


def database_url(cfg: Config) -> str:
    """The superuser DSN of the running stack's Postgres (for migrations, seeds, snapshots)."""
    keys = secrets.load(cfg.state_dir)
    if keys is None:
        raise StackError(
            f"no keys in {cfg.state_dir} for project {cfg.name!r}",
            "start the stack with `devenv up`",
        )
    return urls(cfg, keys, show_secrets=True)["postgres"]


def wait_port(port: int, timeout: float = 5.0) -> bool:
    """True once something accepts TCP connections on 127.0.0.1:port."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


__all__ = [
    "ComposeError",
    "Status",
    "UpResult",
    "database_url",
    "down",
    "env_values",
    "logs",
    "restart",
    "status",
    "up",
]

"""The doctor's checks, by area: engine, project, stack, reach. Each returns one Finding; every
failing (and warning) finding names one command or edit that fixes it."""

from __future__ import annotations

import os
import shutil
import stat
import threading
import time
from pathlib import Path
from typing import Any

from devenv.doctor.core import FAIL, OK, SKIP, WARN, Blocked, Context, Finding, check

GIB = 1024**3
#: Versions compose binaries reported, by path, size and mtime (in the user's cache folder).
COMPOSE_CACHE = "compose-versions.json"
#: The engine API compose.yaml is written for (hermetic.md: Docker 20.10).
MIN_API = (1, 41)
#: JWTs are checked against the clock (exp, iat): beyond this skew sessions break.
CLOCK_FAIL_S = 30.0
CLOCK_WARN_S = 5.0


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """health.http_get, imported on first use: `devenv doctor engine` never needs it."""
    from devenv.stack import health

    return health.http_get(url, headers)


def clock_skew(url: str) -> float | None:
    """Seconds the server's clock (its HTTP Date header) is ahead of ours; None without one.
    The header has whole seconds, so the answer is good to about one second."""
    from email.utils import parsedate_to_datetime

    t0 = time.time()
    _code, headers, _body = http_get(url)
    t1 = time.time()
    date = headers.get("date")
    if not date:
        return None
    return parsedate_to_datetime(date).timestamp() - (t0 + t1) / 2


def _gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB"


# ----------------------------------------------------------------------------------------------
# engine
#
# `devenv doctor engine` is what a user runs when something is off, often many times in a row:
# it has to answer in about the time `docker info` takes. So these checks ask the engine's API
# (once per run: the Context caches /_ping, /version and /info), run no subprocess when a cache
# or the API knows the answer, and load no more of the project than its [project] host.


@check("engine.cli", "docker CLI", timeout=2.0)
def engine_cli(ctx: Context) -> Finding:
    path = shutil.which("docker")
    if path is None:
        return Finding(
            "engine.cli",
            WARN,
            "the docker CLI is not on PATH (devenv itself needs only the engine and compose)",
            fix="install the Docker CLI (Docker Desktop, or your distribution's docker package)",
        )
    return Finding("engine.cli", OK, f"docker CLI at {path}")


@check("engine.daemon", "Docker engine", timeout=2.0)
def engine_daemon(ctx: Context) -> Finding:
    from devenv.errors import EngineError

    try:
        addr = ctx.address()
        ctx.engine_call("ping")
    except EngineError as exc:
        return Finding("engine.daemon", FAIL, exc.message, fix=exc.hint or "")
    return Finding(
        "engine.daemon",
        OK,
        f"the engine answers at {addr.host} ({addr.source})",
        data={"address": addr.host, "source": addr.source, "context": addr.context},
    )


@check("engine.kind", "which engine", timeout=2.0)
def engine_kind(ctx: Context) -> Finding:
    """Local Docker, Docker Desktop, remote Docker, Docker-in-Docker or Podman, and whether it
    shares this machine's files (devenv needs none: it mounts no host path)."""
    from devenv.errors import EngineError

    try:
        kind = ctx.kind()
        addr = ctx.address()
    except EngineError:
        raise Blocked("the Docker engine is not reachable (see engine.daemon)") from None
    return Finding(
        "engine.kind",
        OK,
        kind.description,
        data={
            "kind": kind.kind,
            "label": kind.label,
            "version": kind.version,
            "shares_files": kind.shares_files,
            "transport": kind.transport,
            "address": addr.host,
            "source": addr.source,
            "context": addr.context,
        },
    )


def _resolves(name: str, within: float = 1.5) -> bool | None:
    """Whether ``name`` resolves to an address; None if the resolver has not answered within
    ``within`` seconds (a lookup cannot be interrupted, so it runs on its own thread)."""
    import socket

    answer: list[bool] = []

    def look() -> None:
        try:
            socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
            answer.append(True)
        except OSError:
            answer.append(False)

    t = threading.Thread(target=look, name=f"doctor:resolve {name}", daemon=True)
    t.start()
    t.join(within)
    return answer[0] if answer else None


@check("engine.host", "where published ports are reached", timeout=3.0)
def engine_host(ctx: Context) -> Finding:
    """The host every URL devenv prints and probes uses (project.stack_host: DEVENV_HOST, else
    [project] host, else a remote engine's host, else 127.0.0.1), and that it can work."""
    from urllib.parse import urlsplit

    from devenv.errors import EngineError
    from devenv.stack import engine_info, project
    from devenv.stack.engine_api import remote_host

    try:
        addr = ctx.address()
    except EngineError:
        raise Blocked("the docker context cannot be used (see engine.daemon)") from None
    env, cfg = ctx.environ(), ctx.config()
    host = project.stack_host(cfg, env)
    engine_host_name = remote_host(addr.host)
    fix_engine = (
        "fix DOCKER_HOST"
        if not addr.from_context
        else f"fix docker context {addr.context!r} (`docker context inspect {addr.context}`)"
    )
    if env.host:
        source = "DEVENV_HOST"
        fix = "set DEVENV_HOST to the address where the engine's published ports are reached"
    elif cfg.host:
        source = f"[project] host in {cfg.source or 'devenv.toml'}"
        fix = "fix [project] host in devenv.toml, or override it with DEVENV_HOST"
    elif engine_host_name:
        source = f"the engine's host, from {addr.source}"
        fix = (
            "set DEVENV_HOST to the address where the engine's published ports are reached,"
            f" or {fix_engine}"
        )
    else:
        source, fix = "the default for a local engine", ""
    bind = project.bind_address(cfg, env)
    data = {"host": host, "source": source, "bind": bind, "engine": addr.host}
    if fix:  # a host some setting named: it has to resolve
        resolved = _resolves(host.strip("[]"))
        if not resolved:
            why = "does not resolve" if resolved is False else "did not resolve within 1.5 s"
            return Finding(
                "engine.host",
                FAIL,
                f"the stack's host {host!r} ({source}) {why}: no URL devenv prints would work",
                fix=fix,
                data=data,
            )
    if engine_host_name and engine_info.transport(addr.host) == "tcp":
        try:
            ctx.engine_call("ping")
        except EngineError:
            u = urlsplit(addr.host)
            where = f"{engine_host_name}:{u.port or 2375}"
            reached = "" if source.startswith("the engine's") else f"; the stack's host is {host}"
            return Finding(
                "engine.host",
                FAIL,
                f"nothing answers at {where} ({addr.source}){reached}: the engine, and the ports"
                " it publishes, cannot be reached",
                fix=f"{fix_engine} (the engine's address), or set DEVENV_HOST to where its"
                " published ports are reached",
                data=data,
            )
    binds = "every address" if bind == project.ALL_ADDRESSES else bind
    remote = engine_host_name is not None
    where = "on the engine's host" if remote else "here"
    return Finding(
        "engine.host",
        OK,
        f"published ports are reached at {host} ({source}); they bind {binds} {where}",
        data=data,
    )


@check("engine.version", "engine version", timeout=2.0)
def engine_version(ctx: Context) -> Finding:
    from devenv.errors import EngineError
    from devenv.stack.engine_info import podman_version

    try:
        v = ctx.engine_call("version")
    except EngineError:
        raise Blocked("the Docker engine is not reachable (see engine.daemon)") from None
    api = str(v.get("ApiVersion", "?"))
    podman = podman_version(v)
    name = f"Podman {podman}" if podman is not None else f"Docker {v.get('Version', '?')}"
    update = (
        "update Podman to 4.0 or later" if podman is not None else "update Docker to 20.10 or later"
    )
    text = (
        f"{name}, API {api} (min {v.get('MinAPIVersion', '?')}),"
        f" {v.get('Os', '?')}/{v.get('Arch', '?')}"
    )
    try:
        major, minor = (int(x) for x in api.split(".")[:2])
    except ValueError:
        return Finding("engine.version", WARN, f"{text}: API version not understood", fix=update)
    if (major, minor) < MIN_API:
        return Finding(
            "engine.version",
            FAIL,
            f"{text}: the stack needs engine API {MIN_API[0]}.{MIN_API[1]} (Docker 20.10) or later",
            fix=update,
        )
    return Finding("engine.version", OK, text)


def _cache_dir() -> Path:
    # Where _entry keeps the rendered help: the user's cache, not the project's.
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "devenv"


def cached_compose_version(binary: Path) -> str | None:
    """The version a compose binary reported before, if it is still the same file (its path,
    size and modification time): running it costs more than the rest of `doctor engine`."""
    import json

    try:
        st = binary.stat()
        data = json.loads((_cache_dir() / COMPOSE_CACHE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    key = f"{binary}:{st.st_size}:{st.st_mtime_ns}"
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def remember_compose_version(binary: Path, version: str) -> None:
    """Keep ``version`` for this binary (one entry per binary path; a changed file replaces
    it). A cache that cannot be written only costs speed."""
    import json

    path = _cache_dir() / COMPOSE_CACHE
    try:
        st = binary.stat()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        prefix = f"{binary}:"
        data = {k: v for k, v in data.items() if not k.startswith(prefix)}
        data[f"{binary}:{st.st_size}:{st.st_mtime_ns}"] = version
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


@check("engine.compose", "compose v2", timeout=3.0)
def engine_compose(ctx: Context) -> Finding:
    from devenv.errors import DevenvError
    from devenv.stack.compose import find_compose

    try:
        argv = find_compose()
    except DevenvError as exc:
        return Finding("engine.compose", FAIL, exc.message, fix=exc.hint or "")
    binary = Path(argv[0]) if len(argv) == 1 else None
    version = cached_compose_version(binary) if binary is not None else None
    if version is None:
        runner = _runner(ctx)
        proc = runner.run(["version", "--short"], check=False, timeout=2.5)
        version = (proc.stdout or "").strip().lstrip("v")
        if proc.returncode != 0 or not version:
            return Finding(
                "engine.compose",
                FAIL,
                f"{' '.join(argv)} did not report a version (exit {proc.returncode})",
                detail=(proc.stderr or "").strip()[-400:],
                fix="reinstall the Docker Compose plugin, or `pip install 'devenv-stack[compose]'`",
            )
        if binary is not None:
            remember_compose_version(binary, version)
    if not version.startswith("2."):
        return Finding(
            "engine.compose",
            FAIL,
            f"compose {version} found; devenv needs compose v2",
            fix="install the Docker Compose v2 plugin, or `pip install 'devenv-stack[compose]'`",
        )
    return Finding("engine.compose", OK, f"compose {version} ({argv[0]})")


def _runner(ctx: Context) -> Any:
    # Compose runs only through a ComposeRunner; the engine checks need no project, so one of
    # their own.
    from devenv.assets import compose_file
    from devenv.stack.compose import ComposeRunner

    return ComposeRunner("devenv-doctor", [compose_file()], ctx.engine)


@check("engine.disk", "disk space", timeout=2.0)
def engine_disk(ctx: Context) -> Finding:
    from devenv.errors import EngineError
    from devenv.stack.engine_info import DESKTOP

    info = ctx.info()
    try:
        kind = ctx.kind()
    except EngineError:
        raise Blocked("the Docker engine is not reachable (see engine.daemon)") from None
    root = str(info.get("DockerRootDir") or "")
    # A remote engine's /var/lib/docker may exist here too (another engine's): its disk is not
    # the one the remote engine fills, so only an engine that shares this machine's files is
    # measured here.
    if not root or not kind.shares_files or kind.kind == DESKTOP or not os.path.isdir(root):
        where = "in Docker Desktop's VM" if kind.kind == DESKTOP else "not on this machine"
        return Finding(
            "engine.disk",
            SKIP,
            f"the engine's data root {root or '(unknown)'} is {where} ({kind.label}): check its"
            " disk there (`docker system df` shows what images and volumes use)",
        )
    free = shutil.disk_usage(root).free
    text = f"{_gib(free)} free for images and volumes at {root}"
    fix = (
        "free space: `docker image prune` removes unused images (and `devenv down --volumes`"
        " stacks you no longer need)"
    )
    if free < 2 * GIB:
        return Finding("engine.disk", FAIL, f"only {text}; the stack needs about 2 GiB", fix=fix)
    if free < 10 * GIB:
        return Finding("engine.disk", WARN, f"only {text}", fix=fix)
    return Finding("engine.disk", OK, text)


@check("engine.memory", "memory", timeout=2.0)
def engine_memory(ctx: Context) -> Finding:
    info = ctx.info()
    total = int(info.get("MemTotal") or 0)
    text = f"{_gib(total)} memory and {info.get('NCPU', '?')} CPUs available to the engine"
    fix = "give the engine more memory (Docker Desktop: Settings > Resources > Memory)"
    if total and total < 1 * GIB:
        return Finding("engine.memory", FAIL, f"{text}; the stack needs about 1 GiB", fix=fix)
    if total and total < 2 * GIB:
        return Finding("engine.memory", WARN, f"{text}; 2 GiB or more is comfortable", fix=fix)
    return Finding("engine.memory", OK, text)


# ----------------------------------------------------------------------------------------------
# project


@check("project.config", "devenv.toml", timeout=2.0)
def project_config(ctx: Context) -> Finding:
    err = ctx.config_error()
    if err is not None:
        first = err.problems[0] if err.problems else err.message
        return Finding(
            "project.config",
            FAIL,
            err.message,
            detail="\n".join(err.problems),
            fix=f"edit {first}" if err.problems else (err.hint or ""),
        )
    cfg = ctx.cfg
    if cfg.source is None:
        return Finding(
            "project.config",
            OK,
            f"no devenv.toml at or above {cfg.root}: defaults apply (project {cfg.name!r})",
        )
    return Finding(
        "project.config",
        OK,
        f"{cfg.source} is valid: project {cfg.name!r}, services {', '.join(cfg.services)}",
    )


@check("project.state", ".devenv/", timeout=2.0)
def project_state(ctx: Context) -> Finding:
    from devenv.errors import SecretsError
    from devenv.stack import secrets

    state = ctx.cfg.state_dir
    rel = ".devenv"
    if not os.path.lexists(state):
        return Finding(
            "project.state", SKIP, f"no {rel}/ yet: `devenv up` creates it", fix="devenv up"
        )
    if not state.is_dir():
        return Finding(
            "project.state",
            FAIL,
            f"{state} is not a directory",
            fix=f"mv {state} {state}.bak  (then `devenv up` recreates it)",
        )
    mode = stat.S_IMODE(state.stat().st_mode)
    if mode & 0o077:
        return Finding(
            "project.state",
            FAIL,
            f"{state} is readable by others (mode {mode:o}); it holds the project's keys",
            fix=f"chmod 700 {state}",
        )
    sf = state / secrets.SECRETS_FILE
    if sf.exists():
        fmode = stat.S_IMODE(sf.stat().st_mode)
        if fmode & 0o077:
            return Finding("project.state", FAIL, f"{sf} has mode {fmode:o}", fix=f"chmod 600 {sf}")
    try:
        keys = secrets.load(state)
    except SecretsError as exc:
        return Finding(
            "project.state",
            FAIL,
            exc.message,
            detail="the keys (JWT secret, Postgres password) cannot be read",
            fix=f"rm {sf}  (`devenv up` then recovers the keys from the running stack, or"
            " makes new ones)",
        )
    ignored = (state / ".gitignore").is_file()
    if keys is None:
        return Finding("project.state", WARN, f"{state} has no keys yet", fix="devenv up")
    if not ignored:
        return Finding(
            "project.state",
            WARN,
            f"{state}/.gitignore is missing: keys could be committed",
            fix=f"printf '*\\n' > {state}/.gitignore",
        )
    return Finding("project.state", OK, f"{state} is private (0700) and holds the keys")


@check("project.env", ".env against the schema", timeout=3.0)
def project_env(ctx: Context) -> Finding:
    cfg = ctx.cfg
    # Looked for before envfile is imported (its parsers cost more than most whole checks): a
    # project without a schema pays nothing. envproject.schema_path says the same path.
    if not cfg.path(cfg.env.schema).is_file():
        return Finding("project.env", SKIP, f"no {cfg.env.schema} in {cfg.root}")
    from devenv.envfile import project_files as envproject

    problems = envproject.check_project(cfg)
    files = ", ".join(cfg.env.files)
    if not problems:
        if not any(cfg.path(f).exists() for f in cfg.env.files):
            return Finding("project.env", WARN, f"no {files} yet", fix="devenv env init")
        return Finding("project.env", OK, f"{files} valid against {cfg.env.schema}")
    n = len(problems)
    return Finding(
        "project.env",
        WARN,
        f"{n} problem{'s' if n > 1 else ''} in {files} against {cfg.env.schema}",
        detail="\n".join(str(p) for p in problems[:20]),
        fix=f"edit {problems[0]}"
        if n == 1
        else f"edit each line shown (first: {problems[0]}); `devenv env check` lists them",
    )


@check("project.git", ".env not tracked", timeout=2.0)
def project_git(ctx: Context) -> Finding:
    import subprocess

    cfg = ctx.cfg
    if shutil.which("git") is None:
        return Finding("project.git", SKIP, "git is not installed")
    names = list(dict.fromkeys([*cfg.env.files, ".env", ".devenv"]))
    proc = subprocess.run(
        ["git", "-C", str(cfg.root), "ls-files", "--", *names],
        capture_output=True,
        text=True,
        timeout=2,
        check=False,
    )
    if proc.returncode != 0:
        return Finding("project.git", SKIP, f"{cfg.root} is not a git checkout")
    tracked = [line for line in proc.stdout.splitlines() if line.strip()]
    if tracked:
        return Finding(
            "project.git",
            FAIL,
            f"{', '.join(tracked)} tracked by git: secrets would be pushed",
            fix=f"git rm --cached {' '.join(tracked)}  (and add them to .gitignore)",
        )
    return Finding("project.git", OK, f"{', '.join(names)} not tracked by git")


@check("project.images", "images", timeout=3.0)
def project_images(ctx: Context) -> Finding:
    ctx.engine_or_blocked()
    cfg = ctx.cfg
    missing = [(s, cfg.image(s)) for s in cfg.services if not ctx.engine.has_image(cfg.image(s))]
    if not missing:
        return Finding("project.images", OK, f"all {len(cfg.services)} images present")
    pulled = [(s, i) for s, i in missing if not cfg.built_here(s)]
    text = ", ".join(f"{i} ({s})" for s, i in missing)
    if not pulled:
        them = "them" if len(missing) > 1 else "it"
        return Finding("project.images", OK, f"{text}: `devenv up` builds {them}")
    return Finding(
        "project.images",
        WARN,
        f"not present: {text}; `devenv up` pulls them",
        fix=f"docker pull {pulled[0][1]}" + (" (and the others listed)" if len(pulled) > 1 else ""),
    )


# ----------------------------------------------------------------------------------------------
# stack


@check("stack.ports", "ports", timeout=3.0)
def stack_ports(ctx: Context) -> Finding:
    from devenv.stack import ports

    cfg = ctx.cfg
    try:
        ours = {p for c in ctx.containers() if c.state == "running" for p in c.ports}
    except Blocked:
        ours = set()
    engine = None if ctx.config_error() else ctx.engine
    taken: list[str] = []
    fixes: list[str] = []
    for svc in cfg.services:
        port = cfg.ports[svc]
        if port in ours or ports.is_free(port):
            continue
        who = ports.holder(port, engine)
        if who is not None and who.project == cfg.name:
            continue
        by = who.text if who else "a process devenv cannot identify (try `sudo ss -ltnp`)"
        taken.append(f"port {port} ({svc}) is held by {by}")
        fixes.append(
            f"set `{svc} = {ports.suggest(port, cfg.ports.values())}` under [ports]"
            f" in devenv.toml, or stop {by}"
        )
    if taken:
        return Finding(
            "stack.ports",
            FAIL,
            taken[0] + (f" (+{len(taken) - 1} more)" if len(taken) > 1 else ""),
            detail="\n".join(taken),
            fix=fixes[0],
        )
    listed = ", ".join(f"{s} {cfg.ports[s]}" for s in cfg.services)
    return Finding("stack.ports", OK, f"ports free or held by this stack: {listed}")


@check("stack.health", "services healthy", timeout=3.0)
def stack_health(ctx: Context) -> Finding:
    cfg = ctx.cfg
    containers = ctx.containers()
    if not containers:
        return Finding(
            "stack.health", SKIP, f"the stack {cfg.name!r} is not running", fix="devenv up"
        )
    # devenv's own answer, as `status` gives it: each running service asked its readiness probe
    # at the stack's host, then what apps ask (GoTrue reaching its database, Kong reaching
    # GoTrue). The engine's healthcheck is not consulted: it ticks every 5 s, and Podman runs
    # none.
    infos = {i.name: i for i in ctx.stack.status(containers=containers).services}
    bad: list[str] = []
    fixes: list[str] = []
    starting: list[str] = []
    for svc in cfg.services:
        i = infos.get(svc)
        if i is None or i.state == "missing":
            bad.append(f"{svc}: no container")
            fixes.append("devenv up")
        elif i.state != "running":
            c = next((c for c in containers if c.service == svc), None)
            code = f" (exit code {c.exit_code})" if c and c.exit_code is not None else ""
            bad.append(f"{svc}: {i.state}{code}")
            fixes.append("devenv up")
        elif i.health == "unhealthy":
            bad.append(f"{svc}: {i.why or 'unhealthy'}")
            fixes.append(
                f"devenv restart {svc}  (`devenv logs {svc}` shows why; `devenv up` starts what"
                " is missing)"
            )
        elif i.health == "starting":
            starting.append(svc)
    if bad:
        return Finding("stack.health", FAIL, "; ".join(bad), fix=fixes[0])
    if starting:
        return Finding(
            "stack.health",
            WARN,
            f"still starting: {', '.join(starting)}",
            fix="devenv up  (waits until they are healthy)",
        )
    return Finding("stack.health", OK, f"{len(cfg.services)} services running and healthy")


def _need_running(ctx: Context, service: str) -> None:
    cfg = ctx.cfg
    if service not in cfg.services:
        raise Blocked(f"{service} is not enabled in this project")
    if service not in ctx.running():
        raise Blocked(f"{service} is not running (see stack.health)")


def _dsn(ctx: Context) -> str:
    _need_running(ctx, "postgres")
    if ctx.keys() is None:
        raise Blocked("no keys to log in to Postgres with (see project.state)")
    return ctx.stack.database_url()


@check("stack.migrations", "migrations", timeout=3.0)
def stack_migrations(ctx: Context) -> Finding:
    from devenv.db import migrations

    cfg = ctx.cfg
    folder = cfg.path(cfg.db.migrations)
    if not folder.is_dir():
        return Finding("stack.migrations", SKIP, f"no migrations folder {cfg.db.migrations}/")
    st = migrations.status(_dsn(ctx), folder)
    changed, missing, pending = st.of("changed"), st.of("missing"), st.of("pending")
    if changed or missing:
        names = ", ".join(f"{e.name} ({e.state})" for e in [*changed, *missing])
        return Finding(
            "stack.migrations",
            FAIL,
            f"applied migrations differ from the files: {names}",
            fix=f"git checkout -- {cfg.db.migrations}/{(changed or missing)[0].name}  (or"
            " rebuild the local database with `devenv db reset`)",
        )
    if pending:
        return Finding(
            "stack.migrations",
            WARN,
            f"{len(pending)} pending: {', '.join(e.name for e in pending)}",
            fix="devenv db migrate",
        )
    return Finding("stack.migrations", OK, f"{len(st.entries)} applied, none pending or changed")


@check("stack.extensions", "extensions the migrations create", timeout=3.0)
def stack_extensions(ctx: Context) -> Finding:
    """Before a migration runs into it: every extension the migrations create is in the
    running server (asked), or, with the stack down, in [db] extensions of devenv's image."""
    from devenv.db import extensions

    cfg = ctx.cfg
    folder = cfg.path(cfg.db.migrations)
    created = extensions.created_in(folder) if folder.is_dir() else {}
    if not created:
        return Finding("stack.extensions", SKIP, "no migration creates an extension")
    spec = cfg.postgres_build()
    try:
        dsn = _dsn(ctx)
    except Blocked:
        if spec is None:
            raise  # an image devenv did not build: only its server can say what it has
        dsn = None
    if dsn is not None:
        from devenv.db import conn as dbconn

        with dbconn.connect(dsn, app="devenv-doctor") as conn:
            have = {str(r[0]) for r in conn.execute("SELECT name FROM pg_available_extensions")}
        missing = [n for n in created if n not in have]
        where = "the running Postgres image"
    else:
        assert spec is not None
        missing = extensions.lacking(list(created), spec.extensions)
        where = "the Postgres image [db] extensions builds"
    if not missing:
        names = ", ".join(created)
        unchecked = "" if dsn else " (the stack is down: contrib's are checked once it runs)"
        return Finding("stack.extensions", OK, f"{names}: in {where}{unchecked}")
    name = missing[0]
    path, line = created[name]
    more = f" (and {', '.join(missing[1:])})" if len(missing) > 1 else ""
    _image, how = extensions.where_to_get(name)
    return Finding(
        "stack.extensions",
        FAIL,
        f"{os.path.relpath(path, cfg.root)}:{line} creates extension {name!r}{more},"
        f" which {where} lacks",
        fix=how,
    )


@check("stack.seeds", "seeds", timeout=3.0)
def stack_seeds(ctx: Context) -> Finding:
    from devenv.db import conn as dbconn
    from devenv.db.plan import DataPlan

    # The data step `devenv up` runs: a seed set folder, or [db] seed_paths.
    plan = DataPlan.from_config(ctx.cfg)
    name = plan.default_seed
    if not plan.has_set(name):
        return Finding("stack.seeds", SKIP, f"no seed set {name!r} ({plan.describe_set(name)})")
    absent = [p for p in plan.set_paths(name) if not p.is_file()]
    if absent:
        return Finding(
            "stack.seeds",
            FAIL,
            f"seed file {absent[0]} (from [db] seed_paths) does not exist",
            fix="create it, or fix [db] seed_paths in devenv.toml",
        )
    # Only the set's content hash (what `devenv seed` records), not a parse of its rows: the
    # doctor must stay fast on big seed sets. Same function the seeder uses.
    wanted = plan.set_hash(name)
    with dbconn.connect(_dsn(ctx), app="devenv-doctor") as conn:
        if not dbconn.table_exists(conn, f"{dbconn.SCHEMA}.seed_sets"):
            recorded = None
        else:
            row = conn.execute(
                "SELECT hash FROM devenv.seed_sets WHERE name = %s", (name,)
            ).fetchone()
            recorded = str(row[0]) if row else None
    if recorded is None:
        return Finding(
            "stack.seeds", WARN, f"seed set {name!r} was never loaded", fix=f"devenv seed {name}"
        )
    if recorded != wanted:
        return Finding(
            "stack.seeds",
            WARN,
            f"seed set {name!r} changed since it was loaded (stale data)",
            fix=f"devenv seed {name}",
        )
    return Finding("stack.seeds", OK, f"seed set {name!r} loaded and current")


def _ephemeral_stacks(ctx: Context) -> list[Any]:
    """Every ephemeral stack on the engine, as gc.find lists them (gc.Orphan), grouped by gc's
    own rule. Over the local socket where the engine is local: gc.find asks the Docker SDK,
    whose import alone costs more CPU than the rest of the doctor."""
    import json
    from urllib.parse import quote

    from devenv.stack import engine_api, gc, project

    if engine_api.plain_endpoint() is None:
        return gc.find(ctx.engine)
    flt = quote(json.dumps({"label": [project.LABEL_OWNER]}))
    found: dict[str, gc.Orphan] = {}
    for c in engine_api.get(f"/containers/json?all=1&filters={flt}", 10.0):
        name = (c.get("Names") or [c.get("Id", "")])[0].lstrip("/")
        gc._group(found, c.get("Labels"), c.get("Created"), "containers", name)
    for n in engine_api.get(f"/networks?filters={flt}", 10.0):
        gc._group(found, n.get("Labels"), n.get("Created"), "networks", n.get("Name", ""))
    for v in (engine_api.get(f"/volumes?filters={flt}", 10.0) or {}).get("Volumes") or ():
        gc._group(found, v.get("Labels"), v.get("CreatedAt"), "volumes", v.get("Name", ""))
    return sorted(found.values(), key=lambda o: o.project)


@check("stack.orphans", "stacks whose owner is gone", timeout=3.0)
def stack_orphans(ctx: Context) -> Finding:
    """What `devenv gc` would remove (its own judgement of an owner, pid reuse included)."""
    from devenv.stack import gc

    ctx.engine_or_blocked()
    gone = [o for o in _ephemeral_stacks(ctx) if gc.owner_state(o.owner, o.created) == "gone"]
    if not gone:
        return Finding("stack.orphans", OK, "no ephemeral stack left by a finished process")
    projects = sorted(o.project for o in gone)
    return Finding(
        "stack.orphans",
        WARN,
        f"{len(gone)} ephemeral stack(s) whose owner process is gone: {', '.join(projects)}",
        detail="\n".join(sorted(c for o in gone for c in o.containers)),
        # gc removes what `down --volumes` would: containers, network and volumes.
        fix="devenv gc",
    )


@check("stack.clock", "clock skew", timeout=3.0)
def stack_clock(ctx: Context) -> Finding:
    """The containers' clock, read from an HTTP Date header (GoTrue's, else Kong's), against
    the host's: GoTrue stamps tokens with its clock and apps check them with theirs."""
    cfg = ctx.cfg
    running = ctx.running()
    urls = ctx.urls()
    probe = next(
        (
            (svc, f"{urls[svc]}{path}")
            for svc, path in (("gotrue", "/health"), ("fireworks", ""), ("kong", "/"))
            if svc in cfg.services and svc in running
        ),
        None,
    )
    if probe is None:
        raise Blocked("no HTTP service running to read a clock from")
    svc, url = probe
    if svc == "fireworks":
        url = url.replace("/inference/v1", "/__devenv/health")
    skew = clock_skew(url)
    if skew is None:
        return Finding("stack.clock", SKIP, f"{svc} sent no Date header")
    text = f"{svc}'s clock is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} the host"
    fix = (
        "sync the clocks: restart Docker Desktop (its VM drifts after sleep), or enable NTP"
        " on the host (`sudo timedatectl set-ntp true`)"
    )
    if abs(skew) >= CLOCK_FAIL_S:
        return Finding("stack.clock", FAIL, f"{text}: tokens will be rejected (exp/iat)", fix=fix)
    if abs(skew) >= CLOCK_WARN_S:
        return Finding("stack.clock", WARN, text, fix=fix)
    return Finding("stack.clock", OK, f"host and containers agree (within 1 s, via {svc})")


# ----------------------------------------------------------------------------------------------
# reach


@check("reach.api", "API through Kong", timeout=3.0)
def reach_api(ctx: Context) -> Finding:
    _need_running(ctx, "kong")
    keys = ctx.keys()
    if keys is None:
        raise Blocked("no keys (see project.state)")
    url = f"{ctx.urls()['kong']}/auth/v1/health"
    try:
        code, _headers, body = http_get(url, {"apikey": keys.anon_key})
    except OSError as exc:
        return Finding(
            "reach.api", FAIL, f"{url} does not answer: {exc}", fix="devenv restart kong"
        )
    if code != 200:
        upstream = code in (502, 503, 504)
        return Finding(
            "reach.api",
            FAIL,
            f"{url} with the anon key answered HTTP {code}: {' '.join(body.split())[:120]}",
            fix="devenv up  (Kong answers, GoTrue behind it does not: `devenv doctor stack`"
            " shows its state)"
            if upstream
            else "devenv restart kong",
        )
    return Finding("reach.api", OK, f"{url} answers through Kong with the anon key")


@check("reach.postgres", "Postgres", timeout=3.0)
def reach_postgres(ctx: Context) -> Finding:
    from devenv.db import conn as dbconn

    dsn = _dsn(ctx)
    with dbconn.connect(dsn, app="devenv-doctor") as conn:
        conn.execute("SELECT 1")
    return Finding("reach.postgres", OK, f"{dbconn.describe(dsn)} answers")


@check("reach.redis", "Redis", timeout=3.0)
def reach_redis(ctx: Context) -> Finding:
    import socket
    from urllib.parse import urlsplit

    _need_running(ctx, "redis")
    url = ctx.urls()["redis"]
    u = urlsplit(url)
    # One inline PING over a socket, answered "+PONG": redis-py (the contract suite's client)
    # costs more to import than this whole check may take.
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), 2.0) as s:
            s.settimeout(2.0)
            s.sendall(b"PING\r\n")
            reply = s.recv(64)
    except OSError as exc:
        return Finding(
            "reach.redis", FAIL, f"{url} does not answer PING: {exc}", fix="devenv restart redis"
        )
    if not reply.startswith(b"+PONG"):
        return Finding(
            "reach.redis",
            FAIL,
            f"{url} answered PING with {reply[:40]!r}",
            fix="devenv restart redis",
        )
    return Finding("reach.redis", OK, f"{url} answers PING")


@check("reach.fireworks", "Fireworks mock", timeout=3.0)
def reach_fireworks(ctx: Context) -> Finding:
    _need_running(ctx, "fireworks")
    url = ctx.urls()["fireworks"].replace("/inference/v1", "/__devenv/health")
    try:
        code, _headers, _body = http_get(url)
    except OSError as exc:
        return Finding(
            "reach.fireworks", FAIL, f"{url} does not answer: {exc}", fix="devenv restart fireworks"
        )
    if code != 200:
        return Finding(
            "reach.fireworks", FAIL, f"{url} answered HTTP {code}", fix="devenv restart fireworks"
        )
    return Finding("reach.fireworks", OK, f"the Fireworks mock answers at {url}")


@check("reach.mail", "mail catcher", timeout=3.0)
def reach_mail(ctx: Context) -> Finding:
    if "mail" not in ctx.cfg.services:
        return Finding("reach.mail", SKIP, "this project has no mail service")
    _need_running(ctx, "mail")
    url = ctx.urls().get("mail", "") + "/readyz"
    try:
        code, _headers, _body = http_get(url)
    except OSError as exc:
        return Finding(
            "reach.mail", FAIL, f"{url} does not answer: {exc}", fix="devenv restart mail"
        )
    if code != 200:
        return Finding("reach.mail", FAIL, f"{url} answered HTTP {code}", fix="devenv restart mail")
    return Finding("reach.mail", OK, f"the mail catcher answers at {url}")

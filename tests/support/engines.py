"""A second container engine for remote-engine tests: Docker in Docker over plain tcp ("dind"),
Podman 4.3.1's Docker-compatible API service ("podman") and Docker reached over ssh ("ssh").

Test support only. Each kind runs in a container of the local engine, from the image
tests/hermetic/setup builds (DEVENV_HERMETIC_ENGINE_IMAGE; tests/hermetic/images/engine/), on a
loopback address of its own, never 127.0.0.1, so a test proves that devenv reaches the stack at
the engine's host and not at a hard-coded one:

    kind    address     engine API                         stack ports
    dind    127.0.0.2   DOCKER_HOST=tcp://127.0.0.2:2375   127.0.0.2:54300-54399
    podman  127.0.0.3   DOCKER_HOST=tcp://127.0.0.3:2375   127.0.0.3:54300-54399
    ssh     127.0.0.4   DOCKER_HOST=ssh://root@127.0.0.4:2222  127.0.0.4:54300-54399

The inner engine sees the engine container's filesystem, not the host's: a bind mount of a host
folder is empty there, as on a CI runner whose engine is a `docker:dind` service.

Use in a test (the fixtures are imported, not registered as a plugin):

    from tests.support.engines import second_engine, second_engines  # noqa: F401

    def test_x(second_engine: SecondEngine) -> None:     # runs once per kind
        with second_engine.reserved_ports(2) as (p1, p2):
            proc = run_cli("up", cwd=root, env=second_engine.env)  # DOCKER_HOST, PATH, images

    @pytest.mark.parametrize("second_engine", ["podman"], indirect=True)   # one kind only

What Podman 4.3.1 does differently, through the same Docker API (tests/engines proves each):
healthchecks never run (no systemd: a container stays "starting"); a port published on host
address 0.0.0.0 never answers (netavark's DNAT rule matches 0.0.0.0 literally: leave the address
empty, "PORT:6379" or ":PORT:6379"); loaded images are listed as localhost/NAME but found by NAME.

The engines stay up after the tests (named, labelled containers with named volumes: warm reuse
takes about a second); `python -m tests.support.engines --remove` removes them.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

from tests.conftest import unavailable

KINDS = ("dind", "podman", "ssh")
ADDRESSES = {"dind": "127.0.0.2", "podman": "127.0.0.3", "ssh": "127.0.0.4"}
API_PORT = 2375
SSH_PORT = 2222
# The ports published from the engine container, on its address. 100 rather than 50: devenv's
# default ports run from 54321 to 54381, and several test stacks share one engine (xdist workers).
# The local engine's userland proxy costs one process per port (about 3 MB each).
PORT_RANGE = (54300, 54399)
# The inner engine's own choice of a host port (a compose port with an empty host port) comes from
# the engine container's ip_local_port_range: dockerd reads it at start, Podman binds port 0. Kept
# inside the published range, and clear of devenv's default ports (54321-54329, 54379-54381), so
# an automatic choice is reachable and never takes a default a test asks for. Podman picks at
# random (it binds port 0 and lets go): in so small a range, several ports chosen at once collide
# ("address already in use"; a project with six such ports failed every time), so tests give
# ports explicitly there (reserved_ports), as devenv does.
AUTO_PORT_RANGE = (54330, 54378)
LABEL = "dev.devenv.test-engine"
# The variables naming the stack's images (tests/hermetic/setup exports them): loaded into each
# inner engine, and passed on to a subprocess in SecondEngine.env.
IMAGE_VARIABLES_PREFIX = "DEVENV_IMAGE_"
BASE_IMAGE_VARIABLES = ("DEVENV_POSTGRES_BASE_IMAGE", "DEVENV_FIREWORKS_BASE_IMAGE")
# Where the kinds keep their storage, in a named volume that outlives the container.
_STORAGE = {"dind": "/var/lib/docker", "podman": "/var/lib/containers", "ssh": "/var/lib/docker"}
# Flags that stand in for --privileged, which fails on these machines (shared/hermetic.md): every
# capability the machine has, no seccomp/AppArmor profile, /proc and /sys unmasked, every device.
_UNPRIVILEGED_PRIVILEGED = (
    "--cap-add=ALL",
    "--cap-drop=SYS_RESOURCE",
    "--security-opt=seccomp=unconfined",
    "--security-opt=apparmor=unconfined",
    "--security-opt=systempaths=unconfined",
    "--device-cgroup-rule=a *:* rwm",
)
_READY_TIMEOUT = 90.0
_LOAD_TIMEOUT = 900.0


class EngineUnavailable(Exception):
    """The second engine could not be built, started or given its images (the message says why)."""


def state_dir() -> Path:
    """Locks, port reservations and the ssh kind's key and config: shared by every test process
    on the machine (xdist workers, other runs), in the temporary folder, never in ~/.ssh."""
    d = Path(tempfile.gettempdir()) / "devenv-test-engines"
    d.mkdir(mode=0o700, exist_ok=True)
    return d


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock across processes; released when the holder exits, even by a crash."""
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            list(argv),
            env=dict(env) if env is not None else None,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise EngineUnavailable(
            f"`{' '.join(argv)}` did not finish within {timeout:.0f} s"
        ) from exc


def _outer(
    *args: str, timeout: float = 120, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`docker` against the local engine (the one the engine containers run on)."""
    return _run(["docker", *args], timeout=timeout, input=input)


def _checked(proc: subprocess.CompletedProcess[str], what: str) -> str:
    if proc.returncode != 0:
        raise EngineUnavailable(
            f"{what} failed (exit {proc.returncode}): {proc.stderr.strip()[-1500:]}"
        )
    return proc.stdout


def stack_images(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables naming the stack's images and their values, as the harness exported them."""
    environ = os.environ if environ is None else environ
    return {
        k: v
        for k, v in sorted(environ.items())
        if v and (k.startswith(IMAGE_VARIABLES_PREFIX) or k in BASE_IMAGE_VARIABLES)
    }


@dataclass(frozen=True)
class SecondEngine:
    """A running second engine of one kind, its images loaded."""

    kind: str
    host: str  # the loopback address its published ports are reached on
    docker_host: str  # DOCKER_HOST for it: tcp://H:2375 or ssh://root@H:2222
    port_range: tuple[int, int]  # published on host, inclusive
    auto_port_range: tuple[int, int]  # where the inner engine's own choice of a host port lands
    container: str  # the engine's container on the local engine
    # What a subprocess needs on top of os.environ: DOCKER_HOST, PATH (ssh: the wrapper running
    # the harness's key), the stack's DEVENV_IMAGE_* and base images.
    env: dict[str, str] = field(default_factory=dict)

    def subprocess_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """os.environ with this engine's variables (and ``extra``) on top; a docker context or
        TLS settings of the caller's would fight DOCKER_HOST, so they are dropped."""
        full = {**os.environ, **self.env, **(extra or {})}
        for k in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
            full.pop(k, None)
        return full

    def docker(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
        timeout: float = 300,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """`docker ARGS` (or `docker compose ...`) against this engine, as a user's shell would."""
        proc = subprocess.run(
            ["docker", *args],
            env=self.subprocess_env(),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)} on the {self.kind} engine exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    @contextlib.contextmanager
    def reserved_ports(self, n: int, *, wait: float = 120) -> Iterator[list[int]]:
        """``n`` ports of the published range for the caller alone until the block ends: outside
        the automatic range, not reserved by another test process (a lock file per port, freed
        when its holder exits) and published by no container on this engine."""
        candidates = [
            p
            for p in range(self.port_range[0], self.port_range[1] + 1)
            if not self.auto_port_range[0] <= p <= self.auto_port_range[1]
        ]
        folder = state_dir() / f"ports-{self.kind}"
        folder.mkdir(exist_ok=True)
        held: list[tuple[int, IO[str]]] = []
        deadline = time.monotonic() + wait
        try:
            while True:
                busy = self.published_ports()
                random.shuffle(candidates)
                for p in candidates:
                    if len(held) == n:
                        break
                    if p in busy or any(p == q for q, _ in held):
                        continue
                    fh = (folder / f"{p}.lock").open("a")
                    try:
                        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except OSError:
                        fh.close()
                        continue
                    held.append((p, fh))
                if len(held) == n:
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"no {n} free ports in {self.port_range} on the {self.kind} engine"
                        f" within {wait:.0f} s"
                    )
                time.sleep(0.5)
            yield sorted(p for p, _ in held)
        finally:
            for _, lock in held:
                lock.close()

    def published_ports(self) -> set[int]:
        """Host ports the engine's containers publish now. From inspect, not `docker ps`: Podman's
        summary leaves out mappings with no host address."""
        ids = self.docker("ps", "-q").stdout.split()
        if not ids:
            return set()
        out = self.docker("inspect", "--format", "{{json .NetworkSettings.Ports}}", *ids).stdout
        ports: set[int] = set()
        for line in out.splitlines():
            for bindings in (json.loads(line) or {}).values():
                for b in bindings or []:
                    if b.get("HostPort"):
                        ports.add(int(b["HostPort"]))
        return ports


# ---------------------------------------------------------------------------------------------
# Starting an engine


def container_name(kind: str) -> str:
    return f"devenv-test-engine-{kind}"


def _run_argv(kind: str, image: str) -> list[str]:
    """`docker run` arguments of a kind's engine container; their hash labels the container, so
    a change here replaces a running one."""
    addr = ADDRESSES[kind]
    name = container_name(kind)
    lo, hi = PORT_RANGE
    api = {
        "dind": [f"--publish={addr}:{API_PORT}:2375"],
        # Podman's API service listens on 8888 inside (shared/hermetic.md); the same port as
        # dind outside, so tests name one DOCKER_HOST shape for both.
        "podman": [f"--publish={addr}:{API_PORT}:8888"],
        "ssh": [f"--publish={addr}:{SSH_PORT}:22"],
    }[kind]
    return [
        f"--name={name}",
        f"--hostname={name}",
        f"--label={LABEL}={kind}",
        *_UNPRIVILEGED_PRIVILEGED,
        f"--sysctl=net.ipv4.ip_local_port_range={AUTO_PORT_RANGE[0]} {AUTO_PORT_RANGE[1]}",
        # A fresh /run at each start: a pid file or Podman's run state left by the last start
        # would make a restarted engine think it is still running.
        "--tmpfs=/run",
        f"--mount=type=volume,src={name},dst={_STORAGE[kind]},volume-label={LABEL}={kind}",
        *api,
        f"--publish={addr}:{lo}-{hi}:{lo}-{hi}",
        image,
        kind,
    ]


def _config_hash(argv: Sequence[str]) -> str:
    return hashlib.sha256("\0".join(argv).encode()).hexdigest()[:16]


def _engine_image() -> tuple[str, str]:
    image = os.environ.get("DEVENV_HERMETIC_ENGINE_IMAGE", "")
    if not image:
        raise EngineUnavailable(
            "DEVENV_HERMETIC_ENGINE_IMAGE is not set: run the tests with the harness's variables "
            '(eval "$(tests/hermetic/setup)")'
        )
    proc = _outer("image", "inspect", "--format", "{{.Id}}", image)
    if proc.returncode != 0:
        raise EngineUnavailable(
            f"the engine image {image} is missing on the local engine "
            f"({proc.stderr.strip()}): run tests/hermetic/setup"
        )
    return image, proc.stdout.strip()


def _ensure_container(kind: str, image: str, image_id: str) -> None:
    """The kind's engine container running from ``image``: reused when it is, started when it
    is stopped, replaced when it runs another image or other settings."""
    name = container_name(kind)
    argv = _run_argv(kind, image)
    config = _config_hash(argv)
    proc = _outer(
        "container",
        "inspect",
        "--format",
        '{{.Image}} {{.State.Running}} {{index .Config.Labels "' + LABEL + '.config"}}',
        name,
    )
    if proc.returncode == 0:
        have_image, running, have_config = [*proc.stdout.split(), "", "", ""][:3]
        if have_image == image_id and have_config == config:
            if running != "true":
                _checked(_outer("start", name, timeout=120), f"docker start {name}")
            return
        # Another image or other settings: the storage volume stays (images already loaded).
        _checked(_outer("rm", "--force", name, timeout=120), f"docker rm {name}")
    _checked(
        _outer("run", "--detach", f"--label={LABEL}.config={config}", *argv, timeout=180),
        f"starting the {kind} engine ({name})",
    )


def _logs(name: str) -> str:
    proc = _outer("logs", "--tail", "15", name)
    return (proc.stdout + proc.stderr).strip()


def _wait(kind: str, ok: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    while not ok():
        state = _outer(
            "container", "inspect", "--format", "{{.State.Status}}", container_name(kind)
        )
        if state.stdout.strip() not in ("running", "created", "restarting"):
            raise EngineUnavailable(
                f"the {kind} engine container stopped"
                f" ({state.stdout.strip() or state.stderr.strip()}); its last lines:\n"
                + _logs(container_name(kind))
            )
        if time.monotonic() > deadline:
            raise EngineUnavailable(
                f"the {kind} engine did not answer ({what}) within {_READY_TIMEOUT:.0f} s;"
                f" its last lines:\n{_logs(container_name(kind))}"
            )
        time.sleep(0.3)


def _inner_docker(kind: str) -> list[str]:
    """The docker command the harness itself runs against the inner engine, over tcp. The ssh
    kind's dockerd also listens on tcp, on the engine container's own address, which is not
    published: tests reach it over ssh only; the harness loads images faster this way than
    through ssh or `docker exec`, and without needing the client's key."""
    if kind == "ssh":
        return ["docker", f"--host=tcp://{_container_ip(container_name(kind))}:{API_PORT}"]
    return ["docker", f"--host=tcp://{ADDRESSES[kind]}:{API_PORT}"]


@functools.cache
def _container_ip(name: str) -> str:
    proc = _outer(
        "container",
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
        name,
    )
    ips = _checked(proc, f"docker inspect {name}").split()
    if not ips:
        raise EngineUnavailable(f"the engine container {name} has no IP address")
    return ips[0]


def _answers(kind: str) -> bool:
    return (
        _run(
            [*_inner_docker(kind), "version", "--format", "{{.Server.Version}}"], timeout=20
        ).returncode
        == 0
    )


# ---------------------------------------------------------------------------------------------
# ssh


def _ssh_folder() -> Path:
    """The ssh kind's client side, made once per machine: a key pair, an ssh config using it, and
    an `ssh` wrapper with that config. A subprocess gets the folder first on PATH: the docker CLI,
    compose and docker-py (use_ssh_client=True) all run `ssh` from PATH. ~/.ssh is never read or
    written (the config's options replace the user's)."""
    folder = state_dir() / "ssh"
    wrapper = folder / "ssh"
    if wrapper.is_file():
        return folder
    real = shutil.which("ssh")
    keygen = shutil.which("ssh-keygen")
    if real is None or keygen is None:
        raise EngineUnavailable(
            "no ssh client (ssh, ssh-keygen): tests/hermetic/setup installs Debian's openssh-client"
        )
    tmp = Path(tempfile.mkdtemp(dir=state_dir(), prefix=".ssh-"))
    _checked(
        _run(
            [
                keygen,
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "devenv-test-engine",
                "-f",
                str(tmp / "id"),
            ]
        ),
        "ssh-keygen",
    )
    # Multiplexing: compose and docker-py open many connections; one ssh session serves them
    # all (a new connection costs ~0.5 s). The socket path must stay under ~100 characters.
    control = folder / "cm-%C"
    mux = "ControlMaster auto\n  ControlPersist 30\n  ControlPath " + str(control) + "\n"
    if len(str(control)) + 40 > 100:
        mux = "ControlMaster no\n"
    (tmp / "config").write_text(
        "Host *\n"
        f"  IdentityFile {folder / 'id'}\n"
        "  IdentitiesOnly yes\n"
        "  IdentityAgent none\n"
        "  BatchMode yes\n"
        # The engine container is made anew with a new host key: nothing to pin.
        "  StrictHostKeyChecking no\n"
        "  UserKnownHostsFile /dev/null\n"
        "  GlobalKnownHostsFile /dev/null\n"
        "  LogLevel ERROR\n"
        f"  {mux}"
    )
    (tmp / "ssh").write_text(f'#!/bin/sh\nexec {real} -F {folder / "config"} "$@"\n')
    (tmp / "ssh").chmod(0o755)
    tmp.rename(folder)  # the caller holds the kind's lock: no one else makes it meanwhile
    return folder


def _ssh_env(folder: Path) -> dict[str, str]:
    return {
        "PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', '')}",
        "DOCKER_HOST": f"ssh://root@{ADDRESSES['ssh']}:{SSH_PORT}",
    }


def _authorize(folder: Path) -> None:
    key = (folder / "id.pub").read_text().strip()
    script = (
        "mkdir -p /root/.ssh && chmod 700 /root/.ssh && touch /root/.ssh/authorized_keys"
        ' && (grep -qxF "$1" /root/.ssh/authorized_keys || echo "$1" >> /root/.ssh/authorized_keys)'
        " && chmod 600 /root/.ssh/authorized_keys"
    )
    _checked(
        _outer("exec", container_name("ssh"), "sh", "-c", script, "sh", key),
        "adding the harness's key to the ssh engine",
    )


# ---------------------------------------------------------------------------------------------
# Images


def _local_ids(images: Sequence[str]) -> dict[str, str]:
    ids = {}
    for image in images:
        proc = _outer("image", "inspect", "--format", "{{.Id}}", image)
        if proc.returncode != 0:
            raise EngineUnavailable(
                f"the stack's image {image} is missing on the local engine:"
                " run tests/hermetic/setup"
            )
        ids[image] = proc.stdout.strip()
    return ids


def _inner_ids(kind: str) -> dict[str, str]:
    """name:tag -> image ID on the inner engine. Podman names a loaded image localhost/NAME; the
    name without that prefix is what compose asks for, and Podman finds it by that name."""
    out = _checked(
        _run(
            [
                *_inner_docker(kind),
                "images",
                "--no-trunc",
                "--format",
                "{{.Repository}}:{{.Tag}} {{.ID}}",
            ]
        ),
        f"listing the {kind} engine's images",
    )
    ids = {}
    for line in out.splitlines():
        name, _, image_id = line.partition(" ")
        ids[name.removeprefix("localhost/")] = image_id
    return ids


def _load(kind: str, images: Sequence[str]) -> None:
    """`docker save` on the local engine into `docker load` on the inner one, all in one stream
    (layers the images share go once)."""
    save = subprocess.Popen(
        ["docker", "save", *images],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert save.stdout is not None
    try:
        load = subprocess.run(
            [*_inner_docker(kind), "load"],
            stdin=save.stdout,
            capture_output=True,
            timeout=_LOAD_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        save.kill()
        raise EngineUnavailable(
            f"loading {len(images)} images into the {kind} engine took over {_LOAD_TIMEOUT:.0f} s"
        ) from exc
    finally:
        save.stdout.close()
    save_err = save.stderr.read().decode() if save.stderr else ""
    if save.wait() != 0:
        raise EngineUnavailable(f"docker save {' '.join(images)} failed: {save_err.strip()}")
    if load.returncode != 0:
        raise EngineUnavailable(
            f"docker load into the {kind} engine failed: {load.stderr.decode().strip()[-1500:]}"
        )


def _ensure_images(kind: str, images: Mapping[str, str]) -> list[str]:
    """Each of the stack's images present on the inner engine with the local image's ID; returns
    the ones it had to load."""
    images = dict(images)
    loaded: list[str] = []
    for attempt in range(2):
        have = _inner_ids(kind)
        missing = [name for name, image_id in images.items() if have.get(name) != image_id]
        if missing and attempt == 1:
            # A tag rebuilt on the local engine meanwhile (another run of the harness) moved
            # under `docker save`: compare with what the tags name now, and load once more.
            images.update(_local_ids(missing))
            missing = [name for name in missing if have.get(name) != images[name]]
        if not missing:
            return loaded
        _load(kind, missing)
        loaded += [m for m in missing if m not in loaded]
    have = _inner_ids(kind)
    wrong = [name for name, image_id in images.items() if have.get(name) != image_id]
    if wrong:
        raise EngineUnavailable(
            f"after docker load the {kind} engine still lacks {', '.join(wrong)}"
        )
    return loaded


# ---------------------------------------------------------------------------------------------
# The entry point


def ensure(kind: str, *, log: Callable[[str], None] | None = None) -> SecondEngine:
    """A running engine of ``kind`` with the stack's images, started or reused. Safe to call
    from many processes at once: one does the work under the kind's lock, the others then find
    it done. Raises EngineUnavailable with the reason."""
    if kind not in KINDS:
        raise ValueError(f"unknown engine kind {kind!r} (one of {', '.join(KINDS)})")
    say = log or (lambda _msg: None)
    if _outer("version", "--format", "{{.Server.Version}}", timeout=30).returncode != 0:
        raise EngineUnavailable("the local Docker engine does not answer (docker version)")
    image, image_id = _engine_image()
    named = stack_images()
    if not named:
        raise EngineUnavailable(
            'no DEVENV_IMAGE_* variables: run the tests with eval "$(tests/hermetic/setup)"'
        )
    wanted = _local_ids(sorted(set(named.values())))
    env: dict[str, str] = {"DOCKER_HOST": f"tcp://{ADDRESSES[kind]}:{API_PORT}", **named}
    with _locked(state_dir() / f"{kind}.lock"):
        t0 = time.monotonic()
        _ensure_container(kind, image, image_id)
        _container_ip.cache_clear()  # a new container may have a new address
        _wait(kind, lambda: _answers(kind), "docker version")
        if kind == "ssh":
            folder = _ssh_folder()
            _authorize(folder)
            env.update(_ssh_env(folder))
            via_ssh = {**os.environ, **env}
            _wait(
                kind,
                lambda: (
                    _run(
                        ["docker", "version", "--format", "{{.Server.Version}}"],
                        env=via_ssh,
                        timeout=30,
                    ).returncode
                    == 0
                ),
                f"docker version over {env['DOCKER_HOST']}",
            )
        say(f"{kind} engine ready in {time.monotonic() - t0:.1f} s")
        t1 = time.monotonic()
        loaded = _ensure_images(kind, wanted)
        if loaded:
            say(f"{kind} engine: loaded {len(loaded)} images in {time.monotonic() - t1:.1f} s")
    return SecondEngine(
        kind=kind,
        host=ADDRESSES[kind],
        docker_host=env["DOCKER_HOST"],
        port_range=PORT_RANGE,
        auto_port_range=AUTO_PORT_RANGE,
        container=container_name(kind),
        env=env,
    )


def remove(kinds: Sequence[str] = KINDS, *, volumes: bool = False) -> None:
    """Remove the engine containers (and with ``volumes`` their storage, loaded images and all)."""
    for kind in kinds:
        with _locked(state_dir() / f"{kind}.lock"):
            _outer("rm", "--force", container_name(kind), timeout=120)
            if volumes:
                _outer("volume", "rm", container_name(kind), timeout=120)


# ---------------------------------------------------------------------------------------------
# pytest fixtures (import them into a conftest or a test module)


@pytest.fixture(scope="session")
def second_engines() -> Callable[[str], SecondEngine]:
    """``get(kind)``: that kind's engine, started (or reused) once per test process. A failure
    is a test failure in CI and a skip elsewhere, with the reason."""
    ready: dict[str, SecondEngine] = {}
    failed: dict[str, str] = {}

    def get(kind: str) -> SecondEngine:
        if kind not in ready and kind not in failed:
            try:
                ready[kind] = ensure(kind)
            except EngineUnavailable as exc:
                failed[kind] = f"second engine {kind!r} unavailable: {exc}"
        if kind in failed:
            unavailable(failed[kind])
        return ready[kind]

    return get


@pytest.fixture(scope="session", params=KINDS)
def second_engine(
    request: pytest.FixtureRequest, second_engines: Callable[[str], SecondEngine]
) -> SecondEngine:
    """A running second engine, once per kind (dind, podman, ssh); narrow it with
    ``@pytest.mark.parametrize("second_engine", ["podman"], indirect=True)``."""
    return second_engines(str(request.param))


def main(argv: Sequence[str]) -> int:
    """`python -m tests.support.engines [KIND...]` starts (and times) engines outside pytest;
    `--remove [--volumes]` removes them."""
    if "--remove" in argv:
        remove(volumes="--volumes" in argv)
        return 0
    for kind in [a for a in argv if not a.startswith("-")] or list(KINDS):
        t0 = time.monotonic()
        try:
            e = ensure(kind, log=lambda msg: print(msg, file=sys.stderr))
        except EngineUnavailable as exc:
            print(f"{kind}: {exc}", file=sys.stderr)
            return 1
        print(f"{kind}: DOCKER_HOST={e.docker_host} host={e.host} in {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

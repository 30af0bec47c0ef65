"""Which engine devenv talks to, and what kind it is.

Two questions, answered from plain inputs so that any caller (the doctor, the Stack, a test) can
ask them without an engine or the Docker SDK:

- **Where** is the engine: :func:`engine_address` resolves DOCKER_HOST, else the docker context
  (``DOCKER_CONTEXT``, else ``currentContext`` in the docker CLI's ``config.json``), as the docker
  CLI and compose resolve them, so devenv talks to the engine that compose runs the stack on.
  A context's endpoint is ``Endpoints.docker.Host`` in
  ``<config dir>/contexts/meta/<sha256 of the name>/meta.json``. :func:`context_docker_host` is
  the one-line answer for wiring ("the Host of a context, when one is in effect").
- **What** is it: :func:`engine_kind` reads the engine's ``/version`` and ``/info`` answers
  (Podman's compatible API names a "Podman Engine" component; Docker Desktop names itself in
  ``OperatingSystem``; a ``docker:dind`` engine says "(containerized)") and the address, and says
  whether the engine shares this machine's files. devenv mounts no host path, so a remote engine
  that shares none is fine; the kind is said so that a user knows which engine answered.

Nothing here reads ``os.environ`` or calls the engine: callers pass the environment, the home
folder and the JSON (the doctor passes what it already fetched once).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devenv.errors import EngineError

#: Where the engine is when nothing names one (Linux, and Docker Desktop's compatibility socket).
DEFAULT_HOST = "unix:///var/run/docker.sock"
#: The context that means "DOCKER_HOST or the default socket" (the docker CLI's own name).
DEFAULT_CONTEXT = "default"

LOCAL, DESKTOP, REMOTE, DIND, PODMAN = "local", "desktop", "remote", "dind", "podman"

#: What a user reads when the engine shares no files with this machine: that is fine for devenv.
NO_SHARED_FILES = "shares no files with this machine (devenv needs none: it mounts no host path)"


@dataclass(frozen=True)
class EngineAddress:
    """Where the engine is and what named it."""

    host: str  # DOCKER_HOST form: unix:///path, tcp://host:port, ssh://user@host, npipe://...
    source: str  # for messages: "DOCKER_HOST", "docker context 'ci', from DOCKER_CONTEXT", ...
    context: str = DEFAULT_CONTEXT  # the docker context in effect ("default": none)

    @property
    def from_context(self) -> bool:
        return self.context != DEFAULT_CONTEXT


@dataclass(frozen=True)
class EngineKind:
    """What answered at the engine's address."""

    kind: str  # local | desktop | remote | dind | podman
    label: str  # "local Docker", "Docker Desktop", "remote Docker over tcp", "Podman over ssh"...
    shares_files: bool  # a bind mount of a path here would see this machine's files
    description: str  # one line naming the engine, its version, its address and the files
    version: str = ""
    transport: str = "unix"  # unix | npipe | tcp | ssh | http | https | fd

    @property
    def remote(self) -> bool:
        return self.transport not in ("unix", "npipe", "fd")


# ----------------------------------------------------------------------------------------------
# where: DOCKER_HOST and the docker context


def docker_config_dir(environ: Mapping[str, str], home: Path) -> Path:
    """The docker CLI's configuration folder: DOCKER_CONFIG, else ~/.docker."""
    return Path(environ.get("DOCKER_CONFIG") or home / ".docker")


def context_meta_file(config_dir: Path, name: str) -> Path:
    """Where the docker CLI keeps a context's endpoints: the folder is the SHA-256 of its name
    (names may hold characters a folder name cannot)."""
    import hashlib  # here: OpenSSL's load is a cost only a context's user pays

    digest = hashlib.sha256(name.encode()).hexdigest()
    return config_dir / "contexts" / "meta" / digest / "meta.json"


def _current_context(config_dir: Path) -> str:
    """``currentContext`` of config.json ("" when the file, or the key, is absent). A file that
    is not JSON is an error here as in the docker CLI, which refuses to start on it."""
    path = config_dir / "config.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise EngineError(
            f"cannot read the docker CLI's config {path}: {exc.strerror or exc}",
            "fix its permissions, or set DOCKER_CONFIG to another folder",
        ) from None
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise EngineError(
            f"the docker CLI's config {path} is not valid JSON ({exc})",
            "fix or remove it (the docker CLI refuses it too)",
        ) from None
    value = data.get("currentContext") if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""


def context_name(environ: Mapping[str, str], home: Path) -> tuple[str, str]:
    """The docker context in effect and what chose it, in the docker CLI's order: DOCKER_HOST
    set means the default context; else DOCKER_CONTEXT; else config.json's currentContext."""
    if environ.get("DOCKER_HOST"):
        return DEFAULT_CONTEXT, "DOCKER_HOST"
    if environ.get("DOCKER_CONTEXT"):
        return environ["DOCKER_CONTEXT"], "DOCKER_CONTEXT"
    config_dir = docker_config_dir(environ, home)
    current = _current_context(config_dir)
    if current:
        return current, f"currentContext in {config_dir / 'config.json'}"
    return DEFAULT_CONTEXT, ""


def context_docker_host(environ: Mapping[str, str], home: Path) -> str | None:
    """The engine a docker context names, when one is in effect: DOCKER_HOST unset, and
    DOCKER_CONTEXT or config.json's currentContext naming a context other than "default".
    None otherwise (then DOCKER_HOST, or the default socket, is the engine).

    Raises EngineError when the named context does not exist or its file cannot be read (the
    docker CLI and compose refuse to run then, so devenv must not quietly use another engine).
    """
    name, chosen_by = context_name(environ, home)
    if name == DEFAULT_CONTEXT:
        return None
    meta = context_meta_file(docker_config_dir(environ, home), name)
    where = f"docker context {name!r} (named by {chosen_by})"
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except FileNotFoundError:
        choose = (
            "unset DOCKER_CONTEXT"
            if chosen_by == "DOCKER_CONTEXT"
            else "`docker context use default`"
        )
        raise EngineError(
            f"{where} does not exist (no {meta})",
            f"{choose}, or name a context `docker context ls` lists",
        ) from None
    except (OSError, ValueError) as exc:
        raise EngineError(
            f"{where}: cannot read {meta} ({exc})",
            f"recreate the context (`docker context rm {name}`, then `docker context create`)",
        ) from None
    endpoint = (data.get("Endpoints") or {}).get("docker") if isinstance(data, dict) else None
    host = endpoint.get("Host") if isinstance(endpoint, dict) else None
    if not isinstance(host, str) or not host:
        # A context made with `--docker host=` left empty means the default socket.
        return DEFAULT_HOST
    return host


def engine_address(environ: Mapping[str, str], home: Path) -> EngineAddress:
    """Where the engine is: DOCKER_HOST, else the docker context's host, else the default
    socket. Raises EngineError for a context that cannot be used (see context_docker_host)."""
    if environ.get("DOCKER_HOST"):
        return EngineAddress(environ["DOCKER_HOST"], "DOCKER_HOST")
    host = context_docker_host(environ, home)
    if host is None:
        return EngineAddress(DEFAULT_HOST, "the default socket")
    name, chosen_by = context_name(environ, home)
    return EngineAddress(host, f"docker context {name!r}, from {chosen_by}", name)


# ----------------------------------------------------------------------------------------------
# what: the engine's kind


def transport(docker_host: str) -> str:
    """The scheme of an engine address: unix, npipe, tcp, ssh, http, https or fd ("" is the
    default socket: unix)."""
    scheme, sep, _rest = docker_host.partition("://")
    return scheme.lower() if sep else "unix"


def _is_loopback(docker_host: str) -> bool:
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(docker_host).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def podman_version(version_json: Mapping[str, Any]) -> str | None:
    """Podman's version if the engine is Podman (its compatible API lists a "Podman Engine"
    component; the top-level Version is then Podman's own), else None."""
    for comp in version_json.get("Components") or ():
        if isinstance(comp, dict) and str(comp.get("Name", "")).lower().startswith("podman"):
            return str(comp.get("Version") or version_json.get("Version") or "")
    return None


def _desktop_version(version_json: Mapping[str, Any], info_json: Mapping[str, Any]) -> str | None:
    """Docker Desktop's own version ("" when it does not say) if the engine is Docker Desktop's,
    else None. It names itself in /info OperatingSystem and /version Platform.Name ("Docker
    Desktop 4.25.0 (126437)") and labels the engine com.docker.desktop.address."""
    platform = str((version_json.get("Platform") or {}).get("Name") or "")
    if platform.startswith("Docker Desktop"):
        return platform.removeprefix("Docker Desktop").strip().split(" ")[0]
    labels = info_json.get("Labels") or ()
    if str(info_json.get("OperatingSystem") or "") == "Docker Desktop" or any(
        str(label).startswith("com.docker.desktop.") for label in labels
    ):
        return ""
    return None


def engine_kind(
    version_json: Mapping[str, Any], info_json: Mapping[str, Any], docker_host: str
) -> EngineKind:
    """The kind of engine that answered ``/version`` and ``/info`` at ``docker_host`` ("" for
    the default socket), and whether it shares this machine's files.

    A local engine (a Unix socket or a Windows named pipe) sees this machine's files; a remote
    one (tcp, ssh) does not, and a Docker-in-Docker engine (remote, its OperatingSystem saying
    "(containerized)") sees its own container's. Docker Desktop's VM shares the folders its
    settings list, on its local socket or a loopback tcp port.
    """
    address = docker_host or DEFAULT_HOST
    via = transport(address)
    remote = via not in ("unix", "npipe", "fd")
    over = f" over {via}" if remote else ""
    where = f"at {address}"
    engine_version = str(version_json.get("Version") or info_json.get("ServerVersion") or "?")
    os_name = str(info_json.get("OperatingSystem") or "")

    podman = podman_version(version_json)
    desktop = None if podman is not None else _desktop_version(version_json, info_json)
    if podman is not None:
        kind, label, version = PODMAN, f"Podman{over}", podman or engine_version
        shares = not remote
        name = f"Podman {version}"
    elif desktop is not None:
        kind, label, version = DESKTOP, "Docker Desktop", desktop or engine_version
        shares = not remote or _is_loopback(address)
        name = (
            f"Docker Desktop {desktop} (engine {engine_version})"
            if desktop
            else (f"Docker Desktop (engine {engine_version})")
        )
    elif remote and "(containerized)" in os_name:
        kind, label, version = DIND, f"Docker-in-Docker{over}", engine_version
        shares = False
        name = f"Docker-in-Docker {engine_version} (an engine in a container)"
    elif remote:
        kind, label, version = REMOTE, f"remote Docker{over}", engine_version
        shares = False
        name = f"remote Docker {engine_version}"
    else:
        rootless = any("rootless" in str(o) for o in info_json.get("SecurityOptions") or ())
        kind, version = LOCAL, engine_version
        label = "local Docker (rootless)" if rootless else "local Docker"
        shares = True
        name = f"{label} {engine_version}"
    files = "shares this machine's files" if shares else NO_SHARED_FILES
    if kind == DESKTOP and shares:
        files = "shares the folders of its file-sharing settings"
    return EngineKind(
        kind=kind,
        label=label,
        shares_files=shares,
        description=f"{name} {where}: {files}",
        version=version,
        transport=via,
    )

"""The Docker engine as the Docker SDK sees it: inspection only (containers, health, ports,
logs, images, volumes). Compose runs the stack (devenv.stack.compose); this module never starts
or changes a container.

An :class:`Engine` is made once per :class:`~devenv.stack.handle.Stack`; its client is made on
first use (so commands that never touch the engine never pay for it) and has answered a ping.

:class:`EngineLike` is the interface the Stack uses, and what it hands its engine to (the compose
runner, image builds, the port check, the doctor, the UI): :class:`Engine` is the real one, the
unit tests' ``FakeEngine`` (tests/support/fakes.py) another, as with compose's ``Runner``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from devenv.errors import EngineError
from devenv.stack.engine_api import docker_host_label, engine_error

if TYPE_CHECKING:
    import docker


class EngineLike(Protocol):
    """What devenv asks of the Docker engine (see :class:`Engine` for each method's answer)."""

    @property
    def client(self) -> docker.DockerClient: ...

    def containers(self, labels: Mapping[str, str]) -> list[Any]: ...

    def inspect_all(self, labels: Mapping[str, str]) -> list[dict[str, Any]]: ...

    def summaries(self, labels: Mapping[str, str] | None = None) -> list[dict[str, Any]]: ...

    def has_image(self, image: str) -> bool: ...

    def commands(self, container_id: str) -> list[str]: ...

    def volumes(self, labels: Mapping[str, str]) -> list[Any]: ...

    def volume_exists(self, name: str) -> bool: ...

    def create_volume(self, name: str, labels: Mapping[str, str]) -> None: ...

    def logs_since(self, container_id: str, since: float) -> str: ...

    def networks(self, name: str) -> list[dict[str, Any]]: ...

    def remove_network(self, network_id: str) -> None: ...


class Engine:
    """One Docker SDK client, made and pinged on first use."""

    def __init__(self, client: docker.DockerClient | None = None) -> None:
        self._client = client

    @property
    def client(self) -> docker.DockerClient:
        """A Docker SDK client that has answered a ping, or an EngineError saying why not."""
        if self._client is None:
            import docker
            from docker.errors import DockerException

            where = docker_host_label()
            try:
                # An ssh:// engine through the system's `ssh`, as the docker CLI and compose
                # reach it (the user's keys, agent and ~/.ssh/config; no paramiko needed).
                c = docker.from_env(timeout=30, use_ssh_client=where.startswith("ssh://"))
                c.ping()
            except DockerException as exc:
                if "paramiko" in str(exc):
                    raise EngineError(
                        f"the engine at {where} is reached over ssh, and the Docker SDK's ssh"
                        " transport needs paramiko, which is not installed",
                        "pip install 'devenv-stack[ssh]'",
                    ) from None
                raise engine_error(where, exc) from None
            self._client = c
        return self._client

    def containers(self, labels: Mapping[str, str]) -> list[Any]:
        """Fully inspected containers carrying every label in ``labels``, running or not.

        Listed sparsely, then inspected one by one, skipping any removed in between: compose
        may be recreating containers while we look (a `status` during an `up`): not an error.
        """
        from docker.errors import APIError, NotFound

        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        out = []
        for c in self.client.containers.list(all=True, sparse=True, filters=filters):
            try:
                c.reload()
            except NotFound:
                continue
            except APIError as exc:
                # Podman answers a container removed in between with a 500, not a 404.
                if "no such container" in str(exc).lower():
                    continue
                raise
            out.append(c)
        return out

    def inspect_all(self, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        """The inspect data of every container carrying ``labels``, running or not, skipping
        any removed between list and inspect. Over the local socket with the standard library
        where the engine is local (see engine_api), else through the SDK."""
        from devenv.stack import engine_api

        if self._client is not None or engine_api.plain_endpoint() is None:
            return [c.attrs for c in self.containers(labels)]
        import json
        from urllib.parse import quote

        filters = quote(json.dumps({"label": [f"{k}={v}" for k, v in labels.items()]}))
        out = []
        for summary in engine_api.get(f"/containers/json?all=1&filters={filters}", 10.0):
            try:
                out.append(engine_api.get(f"/containers/{summary['Id']}/json", 10.0))
            except engine_api.NotFound:
                continue
        return list(out)

    def summaries(self, labels: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """One API call: the list-endpoint summaries (Labels, State, Status, Ports, Names) of
        the containers carrying ``labels`` (all containers without). Far cheaper than
        ``containers()``, which inspects each; and it never waits: Docker answers the list from
        a snapshot, while an inspect waits for the container's lock, which a start holds (0.3 to
        0.8 s while several containers start on two cores)."""
        filters = {"label": [f"{k}={v}" for k, v in (labels or {}).items()]}
        if self._plain():
            import json
            from urllib.parse import quote

            from devenv.stack import engine_api

            found: list[dict[str, Any]] = engine_api.get(
                f"/containers/json?all=1&filters={quote(json.dumps(filters))}", 10.0
            )
            return found
        return [
            c.attrs for c in self.client.containers.list(all=True, sparse=True, filters=filters)
        ]

    def _plain(self) -> bool:
        """Answer read-only questions with the standard library where the engine speaks plain
        HTTP (its socket, or tcp without TLS: see engine_api): `up` on a stopped stack asks
        several, and the SDK's import alone costs more than all of them."""
        from devenv.stack import engine_api

        return self._client is None and engine_api.plain_endpoint() is not None

    def _exists(self, path: str) -> bool:
        from devenv.stack import engine_api

        try:
            engine_api.get(path, 10.0)
            return True
        except engine_api.NotFound:
            return False

    def has_image(self, image: str) -> bool:
        if self._plain():
            from urllib.parse import quote

            return self._exists(f"/images/{quote(image, safe='')}/json")
        from docker.errors import ImageNotFound

        try:
            self.client.images.get(image)
            return True
        except ImageNotFound:
            return False

    def commands(self, container_id: str) -> list[str]:
        """The command lines of the processes running in a container (`docker top`); empty if
        it is gone or not running."""
        path = f"/containers/{container_id}/top"
        try:
            if self._plain():
                from devenv.stack import engine_api

                top: dict[str, Any] = engine_api.get(path, 10.0)
            else:
                top = self.client.api.top(container_id)
        except Exception:  # gone, or stopped between ps and top: it runs nothing
            return []
        titles = list(top.get("Titles") or [])
        col = titles.index("CMD") if "CMD" in titles else len(titles) - 1
        return [str(row[col]) for row in top.get("Processes") or [] if len(row) > col]

    def volumes(self, labels: Mapping[str, str]) -> list[Any]:
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        return list(self.client.volumes.list(filters=filters))

    def volume_exists(self, name: str) -> bool:
        if self._plain():
            from urllib.parse import quote

            return self._exists(f"/volumes/{quote(name, safe='')}")
        from docker.errors import NotFound

        try:
            self.client.volumes.get(name)
            return True
        except NotFound:
            return False

    def create_volume(self, name: str, labels: Mapping[str, str]) -> None:
        """Make volume ``name`` if it is not there (the engine answers an existing one as is)."""
        self.client.volumes.create(name=name, labels=dict(labels))

    def logs_since(self, container_id: str, since: float) -> str:
        """A container's output (stdout and stderr) from Unix time ``since`` on; empty if it
        is gone."""
        path = f"/containers/{container_id}/logs?stdout=1&stderr=1&since={int(since)}"
        try:
            if self._plain():
                from devenv.stack import engine_api

                # The stream's 8-byte frame headers stay in the text: callers look for a line.
                return str(engine_api.get(path, 10.0))
            raw = self.client.api.logs(container_id, since=int(since))
        except Exception:  # removed meanwhile: it said nothing
            return ""
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)

    def networks(self, name: str) -> list[dict[str, Any]]:
        """Inspect data of the networks whose name is exactly ``name`` (the engine's filter
        matches substrings), with the containers attached to each."""
        if self._plain():
            import json
            from urllib.parse import quote

            from devenv.stack import engine_api

            filters = quote(json.dumps({"name": [name]}))
            found = [
                n for n in engine_api.get(f"/networks?filters={filters}", 10.0) if n["Name"] == name
            ]
            out = []
            for n in found:  # the list omits attached containers; inspect has them
                try:
                    out.append(engine_api.get(f"/networks/{n['Id']}", 10.0))
                except engine_api.NotFound:
                    continue
            return out
        nets = [n for n in self.client.networks.list(names=[name]) if n.name == name]
        for n in nets:
            n.reload()
        return [n.attrs for n in nets]

    def remove_network(self, network_id: str) -> None:
        self.client.networks.get(network_id).remove()

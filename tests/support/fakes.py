"""A fake compose runner and engine: they let unit tests drive Stack.up/down/restart/status with
no Docker at all. The fake behaves as compose does where the Stack can see it: `up --detach`
creates containers that go created -> running (health: starting) -> healthy over a few polls,
in start order; `down` removes them; a scripted service can exit or stay unhealthy."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devenv.errors import EngineError
from devenv.stack.compose import ContainerState
from devenv.stack.probes import Check, Probe

if TYPE_CHECKING:
    import docker

HEALTHY_AFTER = 3  # polls from creation to healthy


@dataclass
class FakeContainer:
    state: ContainerState
    age: int = 0


@dataclass
class FakeStarted:
    runner: FakeRunner
    services: list[str]
    argv: list[str]
    rc: int | None = None
    polls: int = 0
    stopped: bool = False
    fail_rc: int | None = None
    stderr_text: str = ""

    def poll(self) -> int | None:
        if self.rc is None:
            self.polls += 1
            if self.polls >= 2:  # compose returns once it has started the containers
                self.rc = self.fail_rc if self.fail_rc is not None else 0
        return self.rc

    def wait(self, timeout: float) -> int | None:
        return self.poll()

    def stop(self) -> None:
        self.stopped = True
        if self.rc is None:
            self.rc = -15

    def stderr(self) -> str:
        return self.stderr_text


@dataclass
class FakeRunner:
    project: str
    env: dict[str, str] = field(default_factory=dict)
    containers: dict[str, FakeContainer] = field(default_factory=dict)
    calls: list[list[str]] = field(default_factory=list)
    started: list[FakeStarted] = field(default_factory=list)
    #: service -> "exit" | "unhealthy": how a scripted service misbehaves
    broken: dict[str, str] = field(default_factory=dict)
    up_fails_with: int | None = None
    envs_seen: list[dict[str, str]] = field(default_factory=list)

    def run(
        self,
        args: Sequence[str],
        *,
        check: bool = True,
        capture: bool = True,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        args = list(args)
        self.calls.append(args)
        self.envs_seen.append(dict(self.env))
        if args[0] == "down":
            self.containers.clear()
        elif args[0] == "restart":
            names = [a for a in args[1:] if not a.startswith("-") and not a.isdigit()]
            for name in names or list(self.containers):
                if name in self.containers:
                    self.containers[name] = self._new(name)
        elif args[0] == "rm":
            for name in args[1:]:
                self.containers.pop(name, None)
        return subprocess.CompletedProcess(args, 0, "", "")

    def start(self, args: Sequence[str]) -> FakeStarted:
        args = list(args)
        self.calls.append(args)
        self.envs_seen.append(dict(self.env))
        services = [a for a in args[1:] if not a.startswith("-") and a != "never"]
        digest = self.env.get("DEVENV_CONFIG_HASH", "")
        for s in services:
            # As compose: a container made from another configuration is made anew.
            old = self.containers.get(s)
            if old is None or old.state.labels.get("dev.devenv.config", "") != digest:
                self.containers[s] = self._new(s)
        st = FakeStarted(self, services, ["docker", "compose", *args], fail_rc=self.up_fails_with)
        if self.up_fails_with:
            st.stderr_text = "Error response from daemon: something broke"
        self.started.append(st)
        return st

    def _new(self, service: str) -> FakeContainer:
        return FakeContainer(
            ContainerState(
                service=service,
                name=f"{self.project}-{service}-1",
                id=f"id-{service}-{len(self.calls)}",
                state="created",
                labels={
                    "dev.devenv.root": self.env.get("DEVENV_ROOT", ""),
                    "dev.devenv.config": self.env.get("DEVENV_CONFIG_HASH", ""),
                },
                env={"POSTGRES_PASSWORD": self.env.get("DEVENV_POSTGRES_PASSWORD", "")}
                if service == "postgres"
                else {},
            )
        )

    def exec(self, service: str, argv: Sequence[str], *, tty: bool) -> int:
        self.calls.append(["exec", service, *argv])
        return 0

    def ps(self) -> list[ContainerState]:
        out = []
        for name, c in self.containers.items():
            c.age += 1
            s = c.state
            how = self.broken.get(name)
            if c.age >= 1:
                s.state, s.health = "running", "starting"
            if how == "exit" and c.age >= 2:
                s.state, s.health, s.exit_code = "exited", "", 1
            elif how == "unhealthy" and c.age >= HEALTHY_AFTER:
                s.health = "unhealthy"
            elif how is None and c.age >= HEALTHY_AFTER:
                s.health = "healthy"
                s.started_at, s.healthy_at = 100.0, 101.5
            out.append(s)
        return out

    def listed(self) -> list[ContainerState]:
        # The fake has no inspect to avoid: the list is the same answer.
        return self.ps()

    def logs_tail(self, services: Sequence[str], lines: int = 20) -> dict[str, str]:
        return {s: f"{s}: last words\n" for s in services}

    def probe_for(self, service: str, host: str, port: int, values: Mapping[str, str]) -> Probe:
        """devenv's readiness probe of a fake service: it answers once the fake says healthy."""
        return _FakeProbe(self, service)

    def commands(self) -> list[str]:
        return [a[0] for a in self.calls]


@dataclass
class _FakeProbe:
    runner: FakeRunner
    service: str

    def check(self) -> Check:
        c = self.runner.containers.get(self.service)
        if c is None or c.state.state != "running":
            return Check(False, "ConnectionRefusedError")
        ok = c.state.health == "healthy"
        return Check(ok, "answers" if ok else "not yet", answered=True)


class FakeEngine:
    """What the Stack asks the Docker SDK (devenv.stack.engine.EngineLike): images, volumes,
    networks, container summaries. There is no SDK client behind it."""

    def __init__(self, images_missing: Mapping[str, bool] | None = None) -> None:
        self.missing = dict(images_missing or {})
        self.volumes_present: set[str] = set()

    @property
    def client(self) -> docker.DockerClient:
        raise EngineError("the fake engine has no Docker client", "use a real engine")

    def containers(self, labels: Mapping[str, str]) -> list[Any]:
        return []

    def inspect_all(self, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        return []

    def has_image(self, image: str) -> bool:
        return not self.missing.get(image, False)

    def volume_exists(self, name: str) -> bool:
        return name in self.volumes_present

    def volumes(self, labels: Mapping[str, str]) -> list[Any]:
        return []

    def create_volume(self, name: str, labels: Mapping[str, str]) -> None:
        self.volumes_present.add(name)

    def logs_since(self, container_id: str, since: float) -> str:
        return ""

    def networks(self, name: str) -> list[dict[str, Any]]:
        return []

    def remove_network(self, network_id: str) -> None:
        pass

    def commands(self, container_id: str) -> list[str]:
        return ["postgres -c listen_addresses=*"]  # every fake Postgres is a Postgres

    def summaries(self, labels: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        return []


if TYPE_CHECKING:
    from devenv.stack.compose import Runner
    from devenv.stack.engine import EngineLike

    # Both fakes are the real thing's interface (mypy checks these assignments).
    _runner: Runner = FakeRunner("fake")
    _engine: EngineLike = FakeEngine()

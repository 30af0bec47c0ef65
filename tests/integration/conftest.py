"""Engine fixtures: throw-away projects with random ports and unique names, torn down after.

Images come from the environment the README's test command sets up (official images where they can
be pulled, the hermetic ones from tests/hermetic/setup otherwise), through DEVENV_IMAGE_<SERVICE>.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from devenv import config
from devenv import services as svcs
from devenv.config import Config
from devenv.stack import ports
from devenv.stack.compose import ContainerState
from devenv.stack.handle import Stack
from tests.conftest import run_cli, unavailable

pytestmark = pytest.mark.engine


@pytest.fixture(scope="session")
def engine() -> None:
    """The engine answers, compose v2 runs, and the core images are present."""
    try:
        from devenv.errors import DevenvError
        from devenv.stack import engine as eng
        from devenv.stack.compose import find_compose

        client = eng.Engine().client
        find_compose()
    except DevenvError as exc:
        unavailable(f"no usable Docker engine: {exc.one_line()}")
        return
    cfg = config.load(Path(os.environ.get("TMPDIR", "/tmp")))
    from docker.errors import ImageNotFound

    for svc in ("postgres", "redis", "kong"):
        try:
            client.images.get(cfg.image(svc))
        except ImageNotFound:
            unavailable(
                f"image {cfg.image(svc)} for {svc} is missing; run the README's test command "
                "(it prepares images with tests/hermetic/setup)"
            )


def gotrue_available() -> str | None:
    """None if a GoTrue image is usable, else the reason (the harness's exact words if it gave
    them)."""
    reason = os.environ.get("DEVENV_HERMETIC_GOTRUE_UNAVAILABLE")
    if reason:
        return f"GoTrue unavailable on this machine: {reason}"
    try:
        from devenv.stack import engine as eng

        image = config.load(Path("/")).image("gotrue")
        eng.Engine().client.images.get(image)
    except Exception as exc:  # any failure here means: no GoTrue image
        return f"GoTrue image not present ({type(exc).__name__}: {exc})"
    return None


@pytest.fixture(scope="session")
def gotrue(engine: None) -> None:
    reason = gotrue_available()
    if reason:
        # The one skip CI allows: hermetic.md, when the GoTrue module cannot be had here.
        if os.environ.get("DEVENV_HERMETIC_GOTRUE_UNAVAILABLE"):
            pytest.skip(reason)
        unavailable(reason)


@dataclass
class Project:
    root: Path
    name: str

    @property
    def cfg(self) -> Config:
        return config.load(self.root)

    @property
    def stack(self) -> Stack:
        """A fresh handle, as a new `devenv` invocation would make."""
        return Stack.load(self.root)

    def containers(self) -> list[ContainerState]:
        return self.stack.runner.ps()

    def database_url(self) -> str:
        return self.stack.database_url()

    def cli(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        timeout: float = 300,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=self.root, env=env, timeout=timeout, check=check)


class ProjectFactory(Protocol):
    """The project_factory fixture: a new project with these services (and config sections)."""

    def __call__(self, services: list[str], **extra: str) -> Project: ...


def make_project(base: Path, services: list[str], **extra: str) -> Project:
    name = f"it-{uuid.uuid4().hex[:8]}"
    root = base / name
    root.mkdir(parents=True)
    used: set[int] = set()
    port_lines = []
    for svc in svcs.names():
        p = ports.free_port()
        while p in used:
            p = ports.free_port()
        used.add(p)
        port_lines.append(f"{svc} = {p}")
    body = (
        f'[project]\nname = "{name}"\nservices = {services!r}\n'.replace("'", '"')
        + "[ports]\n"
        + "\n".join(port_lines)
        + "\n"
    )
    for section, text in extra.items():
        body += f"[{section}]\n{text}\n"
    (root / "devenv.toml").write_text(body)
    return Project(root, name)


def destroy(project: Project) -> None:
    run_cli("down", "--volumes", cwd=project.root, timeout=120)


def stack_services() -> list[str]:
    base = ["postgres", "kong", "redis"]
    return ["postgres", "gotrue", "kong", "redis"] if gotrue_available() is None else base


@pytest.fixture
def project_factory(engine: None, tmp_path: Path) -> Iterator[ProjectFactory]:
    made: list[Project] = []

    def factory(services: list[str], **extra: str) -> Project:
        p = make_project(tmp_path, services, **extra)
        made.append(p)
        return p

    yield factory
    for p in made:
        destroy(p)

"""`status` keeps reporting the startup time `up` saw after Docker's health log has rotated
(only the last 5 checks are kept, so the first healthy transition drops out of it)."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest

from devenv import config, environ
from devenv import services as svcs
from devenv.stack import ports
from devenv.stack.compose import ContainerState
from devenv.stack.handle import STARTUP_FILE, Stack
from tests.support.fakes import FakeEngine, FakeRunner


class RotatingRunner(FakeRunner):
    """The fake runner, with Docker's health log rotated for chosen services: inspect no longer
    shows their first healthy check."""

    rotated: set[str]
    born: dict[str, float]

    def ps(self) -> list[ContainerState]:
        out = super().ps()
        for c in out:
            if c.service in getattr(self, "rotated", set()):
                c.healthy_at = None
        return out


def make(tmp_path: Path) -> tuple[Stack, RotatingRunner]:
    cfg = config.in_memory(
        tmp_path, name="fake", services=["postgres", "redis"], ports=ports.free_for(svcs.names()),
        env=environ.read({}),
    )  # fmt: skip
    runner = RotatingRunner(project="fake")
    st = Stack(
        cfg, env=environ.read({}), engine=FakeEngine(), runner=runner, probe_for=runner.probe_for
    )
    return st, runner


def test_status_falls_back_to_what_up_measured(tmp_path: Path) -> None:
    st, runner = make(tmp_path)
    assert st.up(timeout=5).status.services[0].startup_s == pytest.approx(1.5)
    path = st.cfg.state_dir / STARTUP_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Docker's health log has rotated: the first healthy check is gone from inspect.
    runner.rotated = {"postgres", "redis"}
    fresh = Stack(
        st.cfg, env=st.env, engine=FakeEngine(), runner=runner, probe_for=runner.probe_for
    )
    assert [s.startup_s for s in fresh.status().services] == [1.5, 1.5]
    assert [s["startup_s"] for s in fresh.status().as_dict()["services"]] == [1.5, 1.5]


def test_a_recreated_container_never_shows_a_stale_time(tmp_path: Path) -> None:
    st, runner = make(tmp_path)
    st.up(timeout=5)
    runner.run(["restart", "redis"])  # a new container id, started again
    runner.rotated = {"postgres", "redis"}
    runner.ps(), runner.ps(), runner.ps()  # the new one is healthy, its log rotated
    by_name = {s.name: s.startup_s for s in st.status().services}
    assert by_name == {"postgres": 1.5, "redis": None}
    # The next `up` measures the new container and forgets the old one.
    runner.rotated = set()
    st.up(timeout=5)
    kept = json.loads((st.cfg.state_dir / STARTUP_FILE).read_text())
    assert sorted(k.split("@")[0] for k in kept) == sorted(
        c.state.id for c in runner.containers.values()
    )


def test_an_unreadable_file_is_ignored(tmp_path: Path) -> None:
    st, runner = make(tmp_path)
    st.up(timeout=5)
    (st.cfg.state_dir / STARTUP_FILE).write_text("not json")
    runner.rotated = {"postgres", "redis"}
    fresh = Stack(
        st.cfg, env=st.env, engine=FakeEngine(), runner=runner, probe_for=runner.probe_for
    )
    assert [s.startup_s for s in fresh.status().services] == [None, None]


class WallClockRunner(RotatingRunner):
    """Containers that start now (wall clock) and whose health log never shows the first
    healthy check: only the wait loop's own observation can tell the startup time."""

    def ps(self) -> list[ContainerState]:
        out = super().ps()
        for c in out:
            if c.state == "running":
                c.started_at = self.born.setdefault(c.id, time.time())
                c.healthy_at = None
        return out


def test_the_wait_loop_measures_what_the_health_log_never_shows(tmp_path: Path) -> None:
    cfg = config.in_memory(
        tmp_path, name="fake", services=["postgres", "redis"], ports=ports.free_for(svcs.names()),
        env=environ.read({}),
    )  # fmt: skip
    runner = WallClockRunner(project="fake")
    runner.born = {}
    st = Stack(
        cfg, env=environ.read({}), engine=FakeEngine(), runner=runner, probe_for=runner.probe_for
    )
    t0 = time.time()
    shown = [s.startup_s for s in st.up(timeout=5).status.services]
    took = time.time() - t0
    assert all(x is not None and 0 <= x <= took for x in shown), shown
    fresh = Stack(cfg, env=st.env, engine=FakeEngine(), runner=runner, probe_for=runner.probe_for)
    assert [s.startup_s for s in fresh.status().services] == [round(x, 3) for x in shown]  # type: ignore[arg-type]
    # A second `up` finds them healthy already: it saw no transition and keeps what it had.
    st2 = Stack(cfg, env=st.env, engine=FakeEngine(), runner=runner, probe_for=runner.probe_for)
    st2.up(timeout=5)
    assert [s.startup_s for s in fresh.status().services] == [round(x, 3) for x in shown]  # type: ignore[arg-type]

"""Overlapping commands on one project never leave a broken stack (real engine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.integration.conftest import Project

pytestmark = pytest.mark.engine


def _spawn(p: Project, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "devenv", *args],
        cwd=p.root,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_three_ups_at_once_on_a_stopped_stack(project_factory: Any) -> None:
    """Two terminals and an editor task: all three succeed, one after another, and the stack
    has one network and one container per service."""
    p: Project = project_factory(["postgres", "redis"])
    procs = [_spawn(p, "up", "--no-seed") for _ in range(3)]
    outs = [pr.communicate(timeout=240) for pr in procs]
    for pr, (_, err) in zip(procs, outs, strict=True):
        assert pr.returncode == 0, err
    waited = [err for _, err in outs if "waiting for another devenv command" in err]
    assert waited, "the later ones say what they wait for"
    assert sorted(c.service for c in p.containers()) == ["postgres", "redis"]
    assert len(p.stack.engine.networks(f"{p.name}_default")) == 1
    again = p.cli("up", "--no-seed")
    assert again.returncode == 0, again.stderr


def test_up_repairs_duplicate_project_networks(project_factory: Any) -> None:
    """Left by concurrent `up`s of older versions (or plain compose): compose then fails with
    "network ... is ambiguous"; `up` keeps one and goes on."""
    p: Project = project_factory(["redis"])
    client = p.stack.engine.client
    labels = {"com.docker.compose.project": p.name, "com.docker.compose.network": "default"}
    for _ in range(2):
        client.networks.create(f"{p.name}_default", labels=labels)
    assert len(p.stack.engine.networks(f"{p.name}_default")) == 2
    proc = p.cli("up", "--no-seed")
    assert proc.returncode == 0, proc.stderr
    assert len(p.stack.engine.networks(f"{p.name}_default")) == 1


@pytest.mark.parametrize("first_start", [True, False])
def test_down_while_up_is_starting_ends_up_with_one_line(
    project_factory: Any, first_start: bool
) -> None:
    """`down` does not wait for a starting `up`; the `up` notices within a poll and says the
    stack was taken down, instead of polling removed containers until its deadline. On a first
    start the `down` lets Postgres finish initialising its volume, so the next `up` works."""
    p: Project = project_factory(["postgres", "redis"])
    if not first_start:
        assert p.cli("up", "--no-seed").returncode == 0
        assert p.cli("down").returncode == 0
    # A warm start is over in about a second, before a `down` could even begin: this one's
    # Redis slot runs the mail catcher, which never answers PING, so `up` is still waiting
    # when the `down` comes (Postgres starts as usual, initialising its volume on a first start).
    never_ready = {"DEVENV_IMAGE_REDIS": p.cfg.image("mail")}
    up = _spawn(p, "up", "--no-seed", "--timeout", "120", env=never_ready)
    end = time.monotonic() + 60
    while time.monotonic() < end and not p.containers():
        time.sleep(0.05)
    down = p.cli("down")
    assert down.returncode == 0, down.stderr
    t = time.monotonic()
    _, err = up.communicate(timeout=60)
    assert time.monotonic() - t < 15
    assert up.returncode == 1, err
    lines = [ln for ln in err.splitlines() if ln.startswith("devenv: error:")]
    assert len(lines) == 1, err
    assert "was taken down" in lines[0] and "Traceback" not in err
    assert p.containers() == []
    # Nothing left that the next `up` cannot finish.
    finish = p.cli("up", "--no-seed")
    assert finish.returncode == 0, finish.stderr
    st = json.loads(p.cli("status", "-o", "json").stdout)
    assert st["running"]

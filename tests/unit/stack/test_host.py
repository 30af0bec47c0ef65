"""Where the stack's published ports are reached (project.stack_host): the engine's host for a
remote engine, overridable, and used by every URL devenv prints, writes and probes — and the
address the engine publishes on (project.bind_address). No engine needed: the fakes stand in."""

from __future__ import annotations

from pathlib import Path

import pytest

from devenv import config, environ
from devenv.errors import ConfigError
from devenv.stack import project, secrets
from devenv.stack.engine_api import remote_host
from devenv.stack.handle import Stack
from tests.support.fakes import FakeEngine, FakeRunner


@pytest.mark.parametrize(
    ("docker_host", "host"),
    [
        ("", None),
        ("unix:///var/run/docker.sock", None),
        ("npipe:////./pipe/docker_engine", None),
        ("tcp://docker:2375", "docker"),
        ("tcp://127.0.0.2:2375", "127.0.0.2"),
        ("ssh://deploy@build-box.internal", "build-box.internal"),
        ("ssh://root@10.1.2.3:2222", "10.1.2.3"),
    ],
)
def test_a_remote_engines_host(docker_host: str, host: str | None) -> None:
    assert remote_host(docker_host) == host


def stack(root: Path, toml: str = "", **env: str) -> Stack:
    (root / "devenv.toml").write_text(
        '[project]\nservices = ["postgres", "gotrue", "kong"]\n' + toml
    )
    e = environ.read(env)
    cfg = config.load(root, e)
    return Stack(
        cfg,
        env=e,
        engine=FakeEngine(),
        runner=(r := FakeRunner(project=cfg.name)),
        probe_for=r.probe_for,
    )


def test_every_url_names_the_remote_engines_host(tmp_path: Path) -> None:
    st = stack(tmp_path, DOCKER_HOST="tcp://127.0.0.2:2375")
    assert st.host == "127.0.0.2"
    keys = secrets.generate()
    urls = project.urls(st.cfg, keys, host=st.host)
    assert all("@127.0.0.2:" in u or "//127.0.0.2:" in u for u in urls.values()), urls
    values = project.compose_env(st.cfg, keys, st.env)
    # GoTrue's links and token issuer, and the ports published where that host reaches them.
    assert values["DEVENV_API_URL"] == f"http://127.0.0.2:{st.cfg.ports['kong']}"
    assert values["DEVENV_BIND"] == project.ALL_ADDRESSES
    env = st.env_for(st.cfg.services, keys)
    assert env["SUPABASE_URL"].startswith("http://127.0.0.2:")
    assert "@127.0.0.2:" in env["DATABASE_URL"] and env["GOTRUE_URL"].startswith(
        "http://127.0.0.2:"
    )


def test_a_local_engine_stays_on_loopback(tmp_path: Path) -> None:
    st = stack(tmp_path, DOCKER_HOST="unix:///var/run/docker.sock")
    assert st.host == "127.0.0.1"
    values = project.compose_env(st.cfg, None, st.env)
    assert values["DEVENV_BIND"] == "127.0.0.1"
    assert values["DEVENV_API_URL"].startswith("http://127.0.0.1:")


def test_devenv_host_wins_then_project_host(tmp_path: Path) -> None:
    toml = 'host = "devbox.local"\n'
    st = stack(tmp_path, toml, DOCKER_HOST="tcp://docker:2375")
    assert st.host == "devbox.local"
    st = stack(tmp_path, toml, DOCKER_HOST="tcp://docker:2375", DEVENV_HOST="127.0.0.3")
    assert st.host == "127.0.0.3"
    # Another loopback address on a local engine: published there, and only there.
    st = stack(tmp_path, toml, DEVENV_HOST="127.0.0.3")
    assert project.compose_env(st.cfg, None, st.env)["DEVENV_BIND"] == "127.0.0.3"
    # A non-loopback host on a local engine: the ports must be reachable there too.
    st = stack(tmp_path, toml)
    assert project.compose_env(st.cfg, None, st.env)["DEVENV_BIND"] == project.ALL_ADDRESSES


def test_a_bad_project_host_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        stack(tmp_path, 'host = "http://box:80"\n')
    assert any("project.host" in p for p in err.value.problems)

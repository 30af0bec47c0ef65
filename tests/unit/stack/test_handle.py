"""The Stack handle driven through the fake compose runner: no engine at all.

Covers the order of `up`, a failure part-way, an interrupt, `down`, `restart`, status parsing,
keys loaded once and never needed by commands that create nothing, and the project lock."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import pytest

from devenv import config, environ
from devenv import services as svcs
from devenv.db import auth as authmod
from devenv.errors import ComposeError, HealthTimeout, StackError
from devenv.stack import compose, ports, secrets
from devenv.stack.handle import Stack
from devenv.stack.health import StackTakenDown
from tests.support.fakes import FakeEngine, FakeRunner

SERVICES = ["postgres", "redis"]


def make(tmp_path: Path, services: list[str] = SERVICES, **kw: Any) -> tuple[Stack, FakeRunner]:
    cfg = config.in_memory(
        tmp_path,
        name="fake",
        services=services,
        ports=ports.free_for(svcs.names()),
        env=environ.read({}),
    )
    runner = FakeRunner(project="fake")
    st = Stack(
        cfg,
        env=environ.read({}),
        engine=FakeEngine(),
        runner=runner,
        probe_for=runner.probe_for,
        **kw,
    )
    return st, runner


def test_up_order_keys_then_compose_then_wait(tmp_path: Path) -> None:
    st, runner = make(tmp_path)
    seen: list[dict[str, str]] = []
    res = st.up(timeout=5, on_progress=lambda s, _t: seen.append(
        {n: x.state for n, x in s.items()}))  # fmt: skip
    # Keys were made and saved before compose ran, and compose got them via the environment.
    assert res.created_keys and secrets.load(st.cfg.state_dir) is not None
    assert runner.calls[0][:2] == ["up", "--detach"]
    assert runner.calls[0][-2:] == SERVICES
    assert runner.envs_seen[0]["DEVENV_POSTGRES_PASSWORD"] == st.require_keys().postgres_password
    # Progress went through the real states, in order, to healthy.
    assert seen[0]["postgres"] in ("created", "starting")
    assert seen[-1] == {"postgres": "healthy", "redis": "healthy"}
    assert res.status.running and [s.name for s in res.status.services] == SERVICES
    assert res.status.services[0].startup_s == pytest.approx(1.5)
    # A second up finds everything running, made from this configuration: no compose at all.
    calls = len(runner.calls)
    again = st.up(timeout=5)
    assert len(runner.calls) == calls and again.status.running
    assert again.keys_how == "created"  # the same handle keeps the keys it has
    # A changed configuration (here: an image) goes through compose again.
    changed = Stack(
        config.in_memory(tmp_path, name="fake", services=SERVICES, ports=st.cfg.ports,
                         env=environ.read({"DEVENV_IMAGE_REDIS": "redis:other"})),
        env=environ.read({}), engine=FakeEngine(), runner=runner, probe_for=runner.probe_for,
    )  # fmt: skip
    changed.up(timeout=5)
    assert runner.calls[calls][:2] == ["up", "--detach"]
    assert Stack(
        st.cfg, env=st.env, engine=FakeEngine(), runner=runner, probe_for=runner.probe_for
    ).ensure_keys()[1] == ("loaded")


def test_a_service_that_exits_fails_with_its_logs(tmp_path: Path) -> None:
    st, runner = make(tmp_path)
    runner.broken["redis"] = "exit"
    with pytest.raises(HealthTimeout) as err:
        st.up(timeout=5)
    assert "redis failed to start (redis: exited)" in err.value.message
    assert err.value.logs == {"redis": "redis: last words\n"}
    # What started stays for inspection; the next `up` (fixed) finishes the job.
    del runner.broken["redis"]
    runner.containers.pop("redis")
    assert st.up(timeout=5).status.running


def test_unhealthy_until_the_deadline_names_the_service(tmp_path: Path) -> None:
    st, runner = make(tmp_path)
    runner.broken["postgres"] = "unhealthy"
    with pytest.raises(HealthTimeout) as err:
        st.up(timeout=0.5)
    assert "postgres" in err.value.message and "postgres" in err.value.logs


def test_compose_failure_keeps_its_stderr(tmp_path: Path) -> None:
    st, runner = make(tmp_path)
    runner.up_fails_with = 1
    with pytest.raises(ComposeError) as err:
        st.up(timeout=5)
    assert err.value.returncode == 1
    assert "something broke" in err.value.stderr and "something broke" in err.value.message


def test_interrupt_stops_compose_and_the_next_up_finishes(tmp_path: Path) -> None:
    st, runner = make(tmp_path)

    def interrupt(states: Any, elapsed: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        st.up(timeout=5, on_progress=interrupt)
    assert runner.started[0].stopped  # compose was told to stop, not left running
    assert (
        Stack(st.cfg, env=st.env, engine=FakeEngine(), runner=runner, probe_for=runner.probe_for)
        .up(timeout=5)
        .status.running
    )


def test_down_needs_no_keys_and_up_notices_a_down(tmp_path: Path) -> None:
    st, runner = make(tmp_path)
    st.up(timeout=5)
    fresh = Stack(
        st.cfg, env=st.env, engine=FakeEngine(), runner=runner, probe_for=runner.probe_for
    )
    (st.cfg.state_dir / "secrets.json").unlink()
    removed = fresh.down()
    assert removed == ["fake-postgres-1", "fake-redis-1"]
    assert "DEVENV_POSTGRES_PASSWORD" not in runner.envs_seen[-1]  # no keys were made up

    # `down` while `up` waits: up stops within a poll with one line.
    st2, runner2 = make(tmp_path / "b")

    def take_down(states: Any, elapsed: float) -> None:
        if all(s.state != "waiting" for s in states.values()):
            runner2.containers.clear()

    with pytest.raises(StackTakenDown, match="taken down while `up` was waiting"):
        st2.up(timeout=5, on_progress=take_down)


def test_restart_waits_for_health_again(tmp_path: Path) -> None:
    st, runner = make(tmp_path)
    st.up(timeout=5)
    status = st.restart(["redis"], timeout=5)
    assert ["restart", "--timeout", "10", "redis"] in runner.calls
    assert status.service("redis") is not None and status.service("redis").health == "healthy"  # type: ignore[union-attr]


def test_status_recovers_keys_from_containers_when_state_dir_is_gone(tmp_path: Path) -> None:
    st, runner = make(tmp_path)
    st.up(timeout=5)
    pw = st.require_keys().postgres_password
    (st.cfg.state_dir / "secrets.json").unlink()
    fresh = Stack(
        st.cfg, env=st.env, engine=FakeEngine(), runner=runner, probe_for=runner.probe_for
    )
    s = fresh.status(show_secrets=True)
    assert s.keys is not None and s.keys.postgres_password == pw
    assert f":{pw}@" in fresh.database_url()
    assert secrets.load(st.cfg.state_dir) is not None  # written back


def test_database_url_override_and_missing_keys(tmp_path: Path) -> None:
    cfg = config.in_memory(tmp_path, name="fake", services=SERVICES, env=environ.read({}))
    env = environ.read({"DEVENV_DATABASE_URL": "postgresql://u:p@db.internal/app"})
    st = Stack(
        cfg, env=env, engine=FakeEngine(), runner=(r := FakeRunner("fake")), probe_for=r.probe_for
    )
    assert st.database_url() == "postgresql://u:p@db.internal/app"
    assert authmod.target_for(st) is None
    bare = Stack(
        cfg,
        env=environ.read({}),
        engine=FakeEngine(),
        runner=(r := FakeRunner("fake")),
        probe_for=r.probe_for,
    )
    with pytest.raises(StackError, match="has no keys"):
        bare.database_url()


def test_two_checkouts_with_one_name_are_refused(tmp_path: Path) -> None:
    st, runner = make(tmp_path)
    st.up(timeout=5)
    other_cfg = config.in_memory(tmp_path / "other", name="fake", services=SERVICES)
    other = Stack(
        other_cfg, env=st.env, engine=FakeEngine(), runner=runner, probe_for=runner.probe_for
    )
    with pytest.raises(StackError, match="already exists"):
        other.up(timeout=5)


def test_context_manager_removes_what_it_started(tmp_path: Path) -> None:
    st, runner = make(tmp_path)
    with st:
        st.up(timeout=5)
        assert runner.containers
    assert not runner.containers
    assert ["down", "--remove-orphans", "--timeout", "10", "--volumes"] in runner.calls
    # A handle that started nothing removes nothing.
    st2, runner2 = make(tmp_path / "x")
    with st2:
        pass
    assert runner2.calls == []


def _hold_lock(root: str, ready: Any, release: Any) -> None:
    cfg = config.in_memory(Path(root), name="fake", services=SERVICES, env=environ.read({}))
    st = Stack(cfg, env=environ.read({}), runner=(r := FakeRunner("fake")), probe_for=r.probe_for)
    with st._lock("start"):
        ready.set()
        release.wait(10)


def test_lock_serialises_and_a_killed_holder_releases_it(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(tmp_path), ready, release))
    holder.start()
    assert ready.wait(10)
    st, _ = make(tmp_path)
    waits: list[str] = []
    st.on_wait = waits.append
    t = time.monotonic()

    def kill_holder() -> None:
        time.sleep(0.3)
        os.kill(holder.pid or 0, 9)

    killer = ctx.Process(target=kill_holder)
    killer.start()
    with st._lock("start"):
        pass
    assert time.monotonic() - t >= 0.25  # it waited for the holder...
    assert waits and "waiting for another devenv command on 'fake'" in waits[0]
    assert "start by pid" in waits[0]  # ...and said who it waited for
    holder.join(5)
    killer.join(5)


def test_parse_inspect_reads_structured_health() -> None:
    attrs = json.loads(
        json.dumps(
            {
                "Id": "abc",
                "Name": "/p-postgres-1",
                "Config": {
                    "Labels": {compose.COMPOSE_SERVICE: "postgres"},
                    "Env": ["POSTGRES_PASSWORD=pw", "X=a=b"],
                },
                "State": {
                    "Status": "running",
                    "StartedAt": "2026-11-30T10:00:00.123456789Z",
                    "Health": {
                        "Status": "healthy",
                        "Log": [
                            {"Start": "2026-11-30T10:00:00.2Z", "End": "2026-11-30T10:00:00.5Z",
                             "ExitCode": 1},
                            {"Start": "2026-11-30T10:00:01.2Z", "End": "2026-11-30T10:00:01.4Z",
                             "ExitCode": 0},
                        ],
                    },
                },
                "NetworkSettings": {"Ports": {"5432/tcp": [{"HostIp": "127.0.0.1",
                                                            "HostPort": "6000"}]}},
            }
        )
    )  # fmt: skip
    c = compose.parse_inspect(attrs)
    assert (c.service, c.name, c.state, c.health, c.ports) == (
        "postgres", "p-postgres-1", "running", "healthy", (6000,)
    )  # fmt: skip
    assert c.env == {"POSTGRES_PASSWORD": "pw", "X": "a=b"}
    assert c.started_at is not None and c.healthy_at is not None
    assert c.healthy_at - c.started_at == pytest.approx(1.2766, abs=1e-3)
    exited = compose.parse_inspect({"State": {"Status": "exited", "ExitCode": 3}})
    assert (exited.state, exited.exit_code, exited.health) == ("exited", 3, "")
    assert compose.parse_timestamp("0001-01-01T00:00:00Z") is None


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("Exited (3) 2 seconds ago", 3),  # Docker's wording, and Podman's compat API's
        ("Exited (137) About a minute ago", 137),
        ("exited", None),  # no code in the text: unknown, not 0
    ],
)
def test_parse_summary_reads_the_list(status: str, code: int | None) -> None:
    running = compose.parse_summary(
        {
            "Id": "abc",
            "Names": ["/p-redis-1"],
            "Labels": {compose.COMPOSE_SERVICE: "redis", "dev.devenv.config": "h"},
            "State": "running",
            "Status": "Up 2 seconds (health: starting)",
            "Created": 1764496800,
            "Ports": [
                {"IP": "127.0.0.1", "PrivatePort": 6379, "PublicPort": 6001, "Type": "tcp"},
                {"PrivatePort": 9000, "Type": "tcp"},  # exposed, not published
            ],
        }
    )
    assert (running.service, running.name, running.id, running.state, running.ports) == (
        "redis", "p-redis-1", "abc", "running", (6001,)
    )  # fmt: skip
    assert running.labels["dev.devenv.config"] == "h" and running.created_at == 1764496800.0
    # No start time and no health from the list: the loop asks inspect once all are ready.
    assert (running.started_at, running.health, running.exit_code) == (None, "", None)
    exited = compose.parse_summary({"State": "exited", "Status": status})
    assert (exited.state, exited.exit_code) == ("exited", code)


def test_public_aliases_only_for_public_values() -> None:
    from devenv.stack.project import with_public_aliases

    out = with_public_aliases(
        {"SUPABASE_URL": "http://x", "SUPABASE_ANON_KEY": "a", "SUPABASE_SERVICE_ROLE_KEY": "s"}
    )
    assert out["NEXT_PUBLIC_SUPABASE_URL"] == "http://x" == out["VITE_SUPABASE_URL"]
    assert out["EXPO_PUBLIC_SUPABASE_ANON_KEY"] == "a" == out["PUBLIC_SUPABASE_ANON_KEY"]
    assert not any(k.endswith("SERVICE_ROLE_KEY") and k != "SUPABASE_SERVICE_ROLE_KEY" for k in out)


def test_a_swallowed_interrupt_still_stops_the_wait(tmp_path: Path) -> None:
    """Python drops an exception raised in a weakref callback (an import's module lock): the
    SIGINT handler's flag makes the next poll raise it again."""
    from devenv import interrupt
    from devenv.errors import Interrupted

    st, runner = make(tmp_path)
    interrupt.note()
    try:
        with pytest.raises(Interrupted):
            st.up(timeout=5)
        # Stopped at the first poll: whatever compose had begun was stopped, nothing waits on.
        assert all(s.stopped or s.rc is not None for s in runner.started)
    finally:
        interrupt._seen.clear()


def test_the_config_digest_labels_containers_only() -> None:
    """Compose recreates a network whose labels change (failing while containers are attached)
    and refuses a volume whose labels differ: the digest must never reach them."""
    import yaml

    from devenv.assets import compose_file

    doc = yaml.safe_load(compose_file().read_text())
    for svc, spec in doc["services"].items():
        assert "dev.devenv.config" in spec["labels"], svc
    for kind in ("volumes", "networks"):
        for name, spec in doc[kind].items():
            assert "dev.devenv.config" not in (spec or {}).get("labels", {}), (kind, name)
            assert "dev.devenv.project" in spec["labels"], (kind, name)


def test_what_others_need_starts_alone_then_the_rest_beside_its_dependants() -> None:
    """Postgres (which GoTrue needs) gets the engine to itself first; once that compose returns,
    the rest starts, and GoTrue starts as soon as Postgres answers (health.wait_ready)."""
    import time

    from devenv.stack import health

    runner = FakeRunner("fake")
    services = ["postgres", "gotrue", "redis"]
    probes = {s: runner.probe_for(s, "127.0.0.1", 1, {}) for s in services}
    health.wait_ready(
        runner,
        services,
        probes,
        time.monotonic() + 5,
        launch=lambda wave: runner.start(["up", "--detach", "--no-deps", *wave]),
    )
    waves = [[a for a in c[1:] if not a.startswith("-")] for c in runner.calls if c[0] == "up"]
    assert waves[0] == ["postgres"]
    assert sorted(s for w in waves[1:] for s in w) == ["gotrue", "redis"]
    assert ["gotrue"] in waves[1:]

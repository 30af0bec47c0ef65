"""devenv itself on a second engine that shares nothing with this machine but its API: Docker in
Docker over tcp (a CI runner's `docker:dind`), Podman's API service (no healthchecks run) and
Docker over ssh. The project sits in a folder the inner engine cannot see, and its published ports
are reached at the engine's own loopback address (127.0.0.2/3/4), never 127.0.0.1: every URL devenv
gives must name that address, or the clients below could not connect."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from tests.conftest import REPO, run_cli
from tests.integration.conftest import engine, gotrue  # noqa: F401  (fixtures)
from tests.support.engines import SecondEngine

pytestmark = pytest.mark.engine

FULL = ["postgres", "gotrue", "kong", "redis", "fireworks", "mail"]
NAMES = ["postgres", "gotrue", "kong", "redis", "fireworks", "mail", "pooler", "upstash"]


class RemoteProject:
    """A copy of the repository's reference project (its migrations, seed sets with auth users
    and Fireworks stubs), with ports in the engine's published range."""

    def __init__(self, base: Path, eng: SecondEngine, services: list[str], ports: list[int]):
        self.eng = eng
        self.root = base / f"remote-{eng.kind}"
        self.root.mkdir()
        for folder in ("migrations", "seeds"):
            shutil.copytree(REPO / folder, self.root / folder)
        shutil.copytree(REPO / "fixtures" / "fireworks", self.root / "fixtures" / "fireworks")
        port_lines = "\n".join(f"{s} = {p}" for s, p in zip(NAMES, ports, strict=True))
        self.name = f"re-{eng.kind}"
        (self.root / "devenv.toml").write_text(
            f'[project]\nname = "{self.name}"\nservices = {json.dumps(services)}\n'
            f'[ports]\n{port_lines}\n[db]\nmigrations = "migrations"\nseeds = "seeds"\n'
        )

    def cli(self, *args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=self.root, env=self.eng.subprocess_env(), timeout=timeout)

    def ok(self, *args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
        proc = self.cli(*args, timeout=timeout)
        assert proc.returncode == 0, f"devenv {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
        return proc

    def containers(self) -> list[str]:
        out = self.eng.docker(
            "ps", "-a", "--filter", f"label=com.docker.compose.project={self.name}", "-q"
        )
        return out.stdout.split()


@pytest.fixture
def remote(
    second_engine: SecondEngine, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[RemoteProject]:
    services = getattr(request, "param", FULL)
    with second_engine.reserved_ports(len(NAMES)) as ports:
        p = RemoteProject(tmp_path, second_engine, services, ports)
        p.cli("down", "--volumes")  # a run killed earlier may have left its stack
        try:
            yield p
        finally:
            p.cli("down", "--volumes")


def env_of(p: RemoteProject) -> dict[str, str]:
    out = p.ok("status", "-o", "env").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def assert_urls_name(values: dict[str, str], host: str) -> None:
    urls = {k: v for k, v in values.items() if re.match(r"^[a-z]+://", v)}
    assert urls, values
    for key, url in urls.items():
        assert f"{host}:" in url and "127.0.0.1" not in url, (key, url)


@pytest.mark.usefixtures("gotrue")
@pytest.mark.parametrize("second_engine", ["dind"], indirect=True)
def test_dind_up_seed_env_contracts_doctor_plugin_down(
    remote: RemoteProject, tmp_path: Path
) -> None:
    eng = remote.eng
    up = remote.ok("up")
    assert f"http://{eng.host}:" in up.stdout and "127.0.0.1" not in up.stdout
    assert "seed default: loaded" in up.stdout  # the data step reached the stack at its host

    values = env_of(remote)
    assert_urls_name(values, eng.host)
    with psycopg.connect(values["DATABASE_URL"]) as conn:
        row = conn.execute("select count(*) from public.machines").fetchone()
        assert row is not None and row[0] > 0
    assert redis.Redis.from_url(values["REDIS_URL"]).ping()

    seeded = remote.ok("seed", "demo")  # auth users through GoTrue, at the engine's host
    assert "users" in seeded.stdout

    contracts = remote.ok("test", "contracts", "--json")
    data = json.loads(contracts.stdout)
    assert not [c for c in data["checks"] if c["status"] == "fail"], data

    doctor = remote.cli("doctor", "--json")
    findings = json.loads(doctor.stdout)
    checks = findings["findings"]
    assert not [c for c in checks if c["status"] == "fail"], checks
    kind = next(c for c in checks if c["id"] == "engine.kind")
    assert "Docker-in-Docker" in kind["summary"], kind

    # An app's own test suite on the pytest plugin, its throw-away stack on the same engine.
    app = tmp_path / "app"
    shutil.copytree(REPO / "tests" / "fixtures" / "testing_app", app)
    (app / "pytest.ini").write_text("[pytest]\npython_files = example_full.py\n")
    low, high = eng.auto_port_range  # no test reserves these, and devenv asks for none there
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--devenv-prefix",
            "re-plugin",
            "app_tests/example_full.py",
        ],
        cwd=app,
        env={
            **eng.subprocess_env({"DEVENV_PORT_RANGE": f"{low}-{high}"}),
            "PYTHONPATH": str(REPO),
        },
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert "3 passed" in run.stdout
    left = eng.docker("ps", "-a", "--filter", "label=dev.devenv.project", "--format", "{{.Names}}")
    assert not [n for n in left.stdout.split() if n.startswith("re-plugin")], left.stdout

    remote.ok("down", "--volumes")
    assert remote.containers() == []


@pytest.mark.usefixtures("gotrue")
@pytest.mark.parametrize("second_engine", ["podman"], indirect=True)
@pytest.mark.parametrize("remote", [["postgres", "gotrue", "kong", "redis"]], indirect=True)
def test_podman_up_seed_contracts_down_without_healthchecks(remote: RemoteProject) -> None:
    eng = remote.eng
    up = remote.ok("up")
    assert "seed default: loaded" in up.stdout
    assert_urls_name(env_of(remote), eng.host)
    # Podman ran no healthcheck: devenv's own probes decided, and status says healthy.
    status = json.loads(remote.ok("status", "-o", "json").stdout)
    assert {s["service"]: s["health"] for s in status["services"]} == {
        s: "healthy" for s in ["postgres", "gotrue", "kong", "redis"]
    }
    remote.ok("seed", "demo")
    contracts = json.loads(remote.ok("test", "contracts", "--json").stdout)
    assert not [c for c in contracts["checks"] if c["status"] == "fail"], contracts
    again = remote.ok("up")  # the second up finds it running, though no healthcheck ever ran
    assert "unchanged since the last up" in again.stdout
    remote.ok("down", "--volumes")
    assert remote.containers() == []


@pytest.mark.parametrize("second_engine", ["ssh"], indirect=True)
@pytest.mark.parametrize("remote", [["postgres", "redis"]], indirect=True)
def test_ssh_up_and_down(remote: RemoteProject) -> None:
    eng = remote.eng
    assert eng.docker_host.startswith("ssh://")
    # The reference migrations need GoTrue's auth schema: this one is about the transport.
    shutil.rmtree(remote.root / "migrations")
    shutil.rmtree(remote.root / "seeds")
    remote.ok("up")
    values = env_of(remote)
    assert_urls_name(values, eng.host)
    with psycopg.connect(values["DATABASE_URL"]) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    remote.ok("down", "--volumes")
    assert remote.containers() == []

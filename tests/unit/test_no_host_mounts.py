"""Nothing of the host is mounted into any container devenv runs (issue: any Docker engine): a
remote engine, a dind service or Podman in a VM cannot see the project's files. compose.yaml and
every override devenv writes are parsed by compose itself (`compose config`), with the values
devenv passes, and no service may have a bind mount or a file-backed config."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from devenv import config as config_mod
from devenv import environ
from devenv.assets import compose_file
from devenv.stack import project, secrets
from devenv.stack.compose import find_compose


def _compose_model(root: Path, overrides: list[Path]) -> dict[str, object]:
    cfg = config_mod.load(root)
    keys = secrets.generate()
    env = {**project.compose_env(cfg, keys, environ.read({})), "PATH": "/usr/bin:/bin"}
    files = [compose_file(), *overrides]
    argv = [*find_compose(), "-p", "mounts-check"]
    for f in files:
        argv += ["-f", str(f)]
    proc = subprocess.run(
        [*argv, "config", "--format", "json"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def _assert_no_host_paths(model: dict[str, object]) -> None:
    services = model["services"]
    assert isinstance(services, dict)
    for name, svc in services.items():
        for v in svc.get("volumes", []):
            assert v["type"] in ("volume", "tmpfs"), f"{name} mounts {v}"
        for c in svc.get("configs", []):
            top = model["configs"][c["source"]]  # type: ignore[index]
            assert "file" not in top, f"{name}'s config {c['source']} is a host file"
        assert "build" not in svc, f"{name} builds from a host folder"


def test_compose_yaml_mounts_nothing_of_the_host(tmp_path: Path) -> None:
    (tmp_path / "fixtures" / "fireworks").mkdir(parents=True)  # a project with stubs
    _assert_no_host_paths(_compose_model(tmp_path, []))


def test_the_test_stacks_tmpfs_override_mounts_nothing_of_the_host(tmp_path: Path) -> None:
    from devenv.testing.ephemeral import _tmpfs_override

    model = _compose_model(tmp_path, [_tmpfs_override(tmp_path)])
    _assert_no_host_paths(model)
    pg = model["services"]["postgres"]  # type: ignore[index]
    assert pg["tmpfs"] == ["/var/lib/postgresql/data"]
    assert not pg.get("volumes")
    # The bootstrap still reaches the container, as a config copied in through the engine API.
    target = "/docker-entrypoint-initdb.d/zz-devenv-bootstrap.sh"
    assert [c["target"] for c in pg["configs"]] == [target]


def test_the_bootstrap_config_carries_the_scripts_text(tmp_path: Path) -> None:
    model = _compose_model(tmp_path, [])
    cfgs = model["configs"]
    assert isinstance(cfgs, dict)
    # compose reads the text from the environment devenv passes (not from a path).
    assert cfgs["postgres_bootstrap"].get("environment") == "DEVENV_POSTGRES_BOOTSTRAP"
    env = project.compose_env(config_mod.load(tmp_path), secrets.generate(), environ.read({}))
    assert env["DEVENV_POSTGRES_BOOTSTRAP"] == project.postgres_bootstrap()

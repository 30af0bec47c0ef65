"""The `pooler` and `upstash` services in devenv.toml and in what compose and apps are given."""

from __future__ import annotations

from pathlib import Path

import pytest

from devenv import config, environ
from devenv.errors import ConfigError
from devenv.stack import project, secrets
from devenv.stack.secrets import upstash_token as token_for


def load(tmp_path: Path, body: str) -> config.Config:
    (tmp_path / "devenv.toml").write_text(body)
    return config.load(tmp_path, environ.read({}))


def test_opt_in_services_are_off_by_default(tmp_path: Path) -> None:
    cfg = config.load(tmp_path, environ.read({}))
    assert "pooler" not in cfg.services and "upstash" not in cfg.services
    assert cfg.ports["pooler"] == 54329 and cfg.ports["upstash"] == 54381


def test_each_needs_what_it_fronts(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, '[project]\nservices = ["pooler", "upstash"]\n')
    assert exc.value.details() == [
        f"{tmp_path / 'devenv.toml'}: project.services: 'pooler' needs 'postgres'; enable it too",
        f"{tmp_path / 'devenv.toml'}: project.services: 'upstash' needs 'redis'; enable it too",
    ]


def test_upstash_runs_the_fireworks_image(tmp_path: Path) -> None:
    (tmp_path / "devenv.toml").write_text('[images]\nfireworks = "mine/fw:1"\n')
    cfg = config.load(tmp_path, environ.read({}))
    assert cfg.image("upstash") == "mine/fw:1"
    cfg = config.load(tmp_path, environ.read({"DEVENV_IMAGE_FIREWORKS": "built:2"}))
    assert cfg.image("upstash") == "built:2"


def test_pooled_url_and_rest_token(tmp_path: Path) -> None:
    cfg = load(tmp_path, '[project]\nservices = ["postgres", "pooler", "redis", "upstash"]\n')
    keys = secrets.derive("s" * 40, "pw123")
    u = project.urls(cfg, keys, show_secrets=True)
    assert u["pooler"] == "postgresql://postgres:pw123@127.0.0.1:54329/postgres"
    assert u["upstash"] == "http://127.0.0.1:54381"
    assert "pw123" not in project.urls(cfg, keys)["pooler"]
    env = project.compose_env(cfg, keys, environ.read({}))
    assert env["DEVENV_UPSTASH_TOKEN"] == token_for("s" * 40)
    assert env["DEVENV_PORT_POOLER"] == "54329" and env["DEVENV_PORT_UPSTASH"] == "54381"
    # Derived from the JWT secret: stable for a project, different between projects.
    assert token_for("s" * 40) == token_for("s" * 40) != token_for("t" * 40)

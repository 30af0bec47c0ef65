"""One table of services (devenv.services): a record added there is a service everywhere — the
config, compose's values, the Stack's up and status, the .env names, the doctor's image check and
the test stacks — with no other edit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from devenv import config, environ
from devenv import services as svcs
from devenv.assets import compose_file
from devenv.errors import ConfigError
from devenv.stack import project, secrets
from devenv.stack.handle import Stack
from tests.support.fakes import FakeEngine, FakeRunner

SEARCH = svcs.Service(
    "search",
    54399,
    7700,
    "getmeili/meilisearch:v1.10",
    needs=("postgres",),
    opt_in=True,
    health_path="/health",
    env={"MEILI_URL": "{url}", "MEILI_MASTER_KEY": "{service_role_key}"},
    role="full-text search",
)


def load(root: Path, text: str) -> config.Config:
    (root / "devenv.toml").write_text(text)
    return config.load(root, env=environ.read({}))


def test_a_record_added_to_the_table_is_a_service_everywhere(tmp_path: Path) -> None:
    with svcs.extended(SEARCH):
        # The config: its name, its [ports] and [images] keys, what it needs; opt-in.
        cfg = load(
            tmp_path,
            '[project]\nservices = ["postgres", "search"]\n'
            '[ports]\nsearch = 6001\n[images]\nsearch = "mirror/meili:1"\n',
        )
        assert cfg.services == ("postgres", "search")
        assert (cfg.ports["search"], cfg.image("search")) == (6001, "mirror/meili:1")
        assert "search" not in svcs.default_names()
        with pytest.raises(ConfigError) as err:
            load(tmp_path, '[project]\nservices = ["search"]\n')
        assert "'search' needs 'postgres'" in "\n".join(err.value.problems)
        assert svcs.with_needs(["search"]) == ("postgres", "search")

        # What compose.yaml would interpolate for it, and its URL.
        keys = secrets.generate()
        values = project.compose_env(cfg, keys, environ.read({}))
        assert values["DEVENV_IMAGE_SEARCH"] == "mirror/meili:1"
        assert values["DEVENV_PORT_SEARCH"] == "6001"
        assert project.urls(cfg, keys)["search"] == "http://127.0.0.1:6001"

        # The Stack starts it after what it needs, reports it, and gives its .env names.
        runner = FakeRunner(project=cfg.name)
        stack = Stack(
            cfg,
            env=environ.read({}),
            engine=FakeEngine(),
            runner=runner,
            probe_for=runner.probe_for,
        )
        status = stack.up(timeout=5).status
        assert [s.name for s in status.services] == ["postgres", "search"]
        assert status.running
        env = stack.env_values()
        assert env["MEILI_URL"] == "http://127.0.0.1:6001"
        assert env["MEILI_MASTER_KEY"] == stack.require_keys().service_role_key
        assert svcs.giver("MEILI_URL") == "search"

        # The doctor's image check: not devenv's to build, so `devenv up` pulls it.
        assert not cfg.built_here("search")
    assert "search" not in svcs.names()
    assert "search" not in config.sections()["ports"]


def test_the_table_and_compose_yaml_name_the_same_services_and_ports() -> None:
    compose: dict[str, Any] = yaml.safe_load(compose_file().read_text())
    assert list(compose["services"]) == list(svcs.names())
    for s in svcs.all_services():
        published = compose["services"][s.name]["ports"][0]
        assert published.endswith(f":{s.container_port}"), (s.name, published)
        assert f"DEVENV_PORT_{s.name.upper()}" in published
        image_of = svcs.image_service(s.name).upper()
        assert f"DEVENV_IMAGE_{image_of}" in compose["services"][s.name]["image"]


def test_every_env_name_has_one_meaning() -> None:
    """Two services may give the same name only with the same template (the Supabase keys)."""
    seen: dict[str, str] = {}
    for s in svcs.all_services():
        for name, template in s.env.items():
            assert seen.setdefault(name, template) == template, name

"""Adopting a Supabase CLI project (tests/unit/init/supabase_project, laid out as `supabase init`
makes it): devenv.toml-less `up` and `init` take its paths, ports and auth settings and name what
has no counterpart."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from devenv import config, environ, supabase_cli
from devenv import services as svcs
from devenv.errors import ConfigError
from tests.conftest import run_cli

FIXTURE = Path(__file__).parent / "supabase_project"
CONFIRMATIONS = "enable_confirmations" in config.sections()["auth"]
MAIL = "mail" in svcs.default_ports()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(FIXTURE, root)
    return root


def load(root: Path) -> config.Config:
    return config.load(root, environ.read({}))


def test_without_devenv_toml_the_supabase_settings_are_the_config(project: Path) -> None:
    cfg = load(project)
    assert cfg.source == project / "supabase" / "config.toml"
    assert cfg.name == "acme-shop"
    assert (cfg.ports["kong"], cfg.ports["postgres"]) == (55321, 55322)
    assert cfg.auth.site_url == "http://127.0.0.1:3000"
    assert cfg.auth.additional_redirect_urls == ("https://127.0.0.1:3000", "myapp://callback")
    assert (cfg.auth.jwt_expiry, cfg.auth.enable_signup) == (7200, False)
    if CONFIRMATIONS:
        assert cfg.auth.enable_confirmations is True
    if MAIL:
        assert cfg.ports["mail"] == 55324
    assert cfg.path(cfg.db.migrations) == project / "supabase" / "migrations"
    assert cfg.seed_files() == {
        "default": [project / "supabase" / "seed.sql", project / "supabase/seeds/10_tags.sql"]
    }
    # major_version 15: devenv's own image, postgres:15 with the default [db] extensions.
    assert cfg.postgres_build() is not None
    assert cfg.postgres_build().base == svcs.default_images()["postgres"]  # type: ignore[union-attr]
    # From a sub-folder too, as `supabase` itself finds its project.
    (project / "src").mkdir()
    assert config.find_root(project / "src") == project


def test_what_was_taken_and_what_has_no_counterpart_is_said(project: Path) -> None:
    a = supabase_cli.adopt(
        project, known_auth=set(config.sections()["auth"]), known_ports=set(svcs.default_ports())
    )
    assert a is not None
    taken = "\n".join(a.taken)
    for line in (
        "api.port = 55321 -> [ports] kong",
        "db.port = 55322 -> [ports] postgres",
        "auth.jwt_expiry = 7200 -> [auth] jwt_expiry",
        "auth.site_url = 'http://127.0.0.1:3000' -> [auth] site_url",
        "auth.enable_signup = False -> [auth] enable_signup",
        "migrations: supabase/migrations -> [db] migrations",
        "db.seed.sql_paths = ['./seed.sql', './seeds/*.sql'] -> [db] seed_paths",
    ):
        assert line in taken
    missing = "\n".join(a.not_taken)
    for name in (
        "studio:",
        "storage:",
        "realtime:",
        "edge_runtime:",
        "api.schemas:",
        "db.shadow_port:",
        "auth.enable_refresh_token_rotation:",
        "auth.email.double_confirm_changes:",
    ):
        assert name in missing
    assert "analytics" not in missing  # disabled there: nothing lost
    assert ("auth.email.enable_confirmations = True" in taken) == CONFIRMATIONS
    assert ("inbucket.port = 55324 -> [ports] mail" in taken) == MAIL


def test_init_writes_the_adopted_devenv_toml_and_moves_nothing(project: Path) -> None:
    before = load(project)
    r = run_cli("init", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "adopting the Supabase CLI project in supabase/config.toml:" in r.stdout
    assert "  taken: api.port = 55321 -> [ports] kong" in r.stdout
    assert "  no counterpart: studio: no Studio in the devenv stack" in r.stdout
    assert not (project / "migrations").exists() and not (project / "seeds").exists()
    assert (project / ".env.schema").is_file()
    after = load(project)
    assert after.source == project / "devenv.toml"
    assert (after.name, after.ports, after.auth, after.db, after.services) == (
        before.name, before.ports, before.auth, before.db, before.services,
    )  # fmt: skip
    assert (
        "# Made by `devenv init` from supabase/config.toml" in (project / "devenv.toml").read_text()
    )
    assert "nothing to do" in run_cli("init", cwd=project).stdout


def test_env_values_are_resolved_or_reported(project: Path) -> None:
    path = project / "supabase" / "config.toml"
    path.write_text(
        path.read_text().replace('site_url = "http://127.0.0.1:3000"', 'site_url = "env(SITE)"')
    )
    kw = {"known_auth": set(config.sections()["auth"])}
    unset = supabase_cli.adopt(project, environ={}, **kw)  # type: ignore[arg-type]
    assert unset is not None
    assert "auth.site_url: env(SITE) is not set here, so not taken" in unset.not_taken
    assert "site_url" not in unset.sections["auth"]
    got = supabase_cli.adopt(project, environ={"SITE": "https://shop.test"}, **kw)  # type: ignore[arg-type]
    assert got is not None and got.sections["auth"]["site_url"] == "https://shop.test"


def test_a_bad_supabase_value_is_one_clear_error(project: Path) -> None:
    path = project / "supabase" / "config.toml"
    path.write_text(path.read_text().replace("jwt_expiry = 7200", 'jwt_expiry = "soon"'))
    with pytest.raises(ConfigError) as ei:
        load(project)
    assert str(path) in ei.value.one_line()
    assert any("auth.jwt_expiry: expected a positive number" in d for d in ei.value.details())
    r = run_cli("init", cwd=project)
    assert r.returncode == 2 and not (project / "devenv.toml").exists()
    assert "auth.jwt_expiry" in r.stderr


def test_unreadable_supabase_toml_names_file_and_line(project: Path) -> None:
    (project / "supabase" / "config.toml").write_text("[api\nport = 1\n")
    with pytest.raises(ConfigError) as ei:
        load(project)
    assert "supabase/config.toml: not valid TOML" in ei.value.one_line()
    assert "line 1" in ei.value.one_line()


def test_an_enabled_pooler_is_taken(project: Path) -> None:
    path = project / "supabase" / "config.toml"
    path.write_text(
        path.read_text().replace(
            "[db.pooler]\nenabled = false\nport = 55329",
            '[db.pooler]\nenabled = true\nport = 55329\npool_mode = "session"',
        )
    )
    cfg = load(project)
    assert "pooler" in cfg.services and cfg.ports["pooler"] == 55329
    a = config.adopt_supabase(project)
    assert "db.pooler.port = 55329 -> [ports] pooler" in a.taken
    assert any(n.startswith("db.pooler.pool_mode:") for n in a.not_taken)


def test_disabled_auth_and_api_leave_their_services_out(project: Path) -> None:
    path = project / "supabase" / "config.toml"
    text = path.read_text().replace("[api]\nenabled = true", "[api]\nenabled = false")
    path.write_text(text.replace("[auth]\nenabled = true", "[auth]\nenabled = false"))
    cfg = load(project)
    assert "kong" not in cfg.services and "gotrue" not in cfg.services
    assert "postgres" in cfg.services

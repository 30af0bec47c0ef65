"""devenv.toml parsing and validation: every problem at once, with file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from devenv import config, environ, postgres_spec
from devenv import services as svcs
from devenv.errors import ConfigError, UsageError
from devenv.stack import ports


def load(root: Path) -> config.Config:
    """With no DEVENV_* settings: the test command exports the harness's image overrides."""
    return config.load(root, environ.read({}))


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "devenv.toml").write_text(text)
    return tmp_path


def test_defaults_without_a_file(tmp_path: Path) -> None:
    root = tmp_path / "My App"
    root.mkdir()
    cfg = config.load(root)
    assert cfg.name == "my-app"
    assert cfg.services == svcs.default_names()
    assert cfg.ports == svcs.default_ports()
    assert cfg.source is None


def test_full_file(tmp_path: Path) -> None:
    cfg = config.load(
        write(
            tmp_path,
            """
[project]
name = "shop"
services = ["redis", "postgres"]
[ports]
postgres = 6000
[images]
registry = "mirror.internal:5000"
redis = "redis:7.2"
[auth]
jwt_expiry = 60
""",
        )
    )
    assert cfg.name == "shop"
    assert cfg.services == ("postgres", "redis")  # canonical start order
    assert cfg.ports["postgres"] == 6000
    assert cfg.auth.jwt_expiry == 60


def test_malformed_toml_names_file_line_and_column(tmp_path: Path) -> None:
    write(tmp_path, '[project]\nname = = "x"\nservices = []\n')
    with pytest.raises(ConfigError) as err:
        config.load(tmp_path)
    line = err.value.one_line()
    assert str(tmp_path / "devenv.toml") in line
    assert "line 2, column 8" in line
    assert err.value.exit_code == 2


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
[project]
name = "Bad Name"
services = ["postgres", "kafka"]
[ports]
postgres = 70000
redis = "six"
[port]
x = 1
[auth]
jwt_expiry = -5
colour = "blue"
""",
    )
    with pytest.raises(ConfigError) as err:
        config.load(tmp_path)
    problems = "\n".join(err.value.problems)
    for needle in (
        "project.name",
        "'kafka'",
        "ports.postgres",
        "ports.redis",
        "port: unknown section",
        "auth.jwt_expiry",
        "auth.colour: unknown key",
    ):
        assert needle in problems, needle
    assert len(err.value.problems) == 7
    assert all(p.startswith(str(tmp_path / "devenv.toml")) for p in err.value.problems)


def test_dependencies_and_duplicate_ports(tmp_path: Path) -> None:
    write(tmp_path, '[project]\nservices = ["gotrue"]\n[ports]\ngotrue = 54322\n')
    with pytest.raises(ConfigError) as err:
        config.load(tmp_path)
    text = "\n".join(err.value.problems)
    assert "'gotrue' needs 'postgres'" in text
    write(tmp_path, "[ports]\nredis = 54322\n")
    with pytest.raises(ConfigError) as err:
        config.load(tmp_path)
    assert "port 54322 is also given to postgres" in "\n".join(err.value.problems)


def test_image_override_order(tmp_path: Path) -> None:
    root = write(tmp_path, '[images]\nregistry = "mirror:5000/"\nredis = "redis:7.2"\n')
    cfg = config.load(root, environ.read({}))
    assert cfg.image("redis") == "mirror:5000/redis:7.2"
    # Postgres: devenv's own build FROM the registry's postgres:15 (see the test below).
    assert cfg.postgres_build() == postgres_spec.make_build(
        "mirror:5000/postgres:15", postgres_spec.DEFAULT_EXTENSIONS
    )
    # The environment wins, verbatim; it is resolved once, when the config is made.
    cfg = config.load(root, environ.read({"DEVENV_IMAGE_REDIS": "local/redis:dev"}))
    assert cfg.image("redis") == "local/redis:dev"


def test_in_memory_config_is_validated_and_takes_free_ports(tmp_path: Path) -> None:
    cfg = config.in_memory(
        tmp_path, name="eph-1", services=["postgres", "redis"], ports=ports.free_for(svcs.names()),
        env=environ.read({}), db={"seeds": "data/seeds"},
    )  # fmt: skip
    assert cfg.name == "eph-1" and cfg.services == ("postgres", "redis")
    assert cfg.db.seeds == "data/seeds" and cfg.source is None
    assert len(set(cfg.ports.values())) == len(cfg.ports)  # all distinct
    assert all(ports.is_free(p) for p in cfg.ports.values())
    with pytest.raises(ConfigError) as err:
        config.in_memory(tmp_path, name="Bad Name", db={"nope": 1}, env=environ.read({}))
    text = "\n".join(err.value.problems)
    assert "project.name" in text and "db.nope" in text


def test_unknown_and_disabled_service_names(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, '[project]\nservices = ["postgres"]\n'))
    with pytest.raises(UsageError, match="unknown service 'kafka'"):
        cfg.check_services(["kafka"])
    with pytest.raises(UsageError, match="not enabled"):
        cfg.check_services(["redis"])
    assert cfg.check_services(["postgres"]) == ("postgres",)


def test_root_found_upwards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, '[project]\nname = "up"\n')
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert config.load().name == "up"


def test_fireworks_is_a_service_with_devenvs_own_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devenv import __version__

    monkeypatch.delenv("DEVENV_IMAGE_FIREWORKS", raising=False)
    cfg = config.load(
        write(tmp_path, '[project]\nservices = ["fireworks"]\n[ports]\nfireworks = 6100\n')
    )
    assert cfg.services == ("fireworks",)
    assert cfg.ports["fireworks"] == 6100
    assert cfg.image("fireworks") == f"devenv-fireworks:{__version__}"
    assert svcs.default_ports()["fireworks"] not in {
        p for s, p in svcs.default_ports().items() if s != "fireworks"
    }


def test_postgres_image_is_built_with_the_db_extensions_unless_one_is_named(
    tmp_path: Path,
) -> None:
    cfg = config.load(tmp_path, environ.read({}))
    assert cfg.db.extensions == ("pg_cron", "vector", "postgis", "pgtap")
    default = cfg.image("postgres")
    assert default.startswith("devenv-postgres:15-") and "/" not in default  # local, not pulled
    # A different set is a different image; the same set in another order is the same one.
    other = load(write(tmp_path, '[db]\nextensions = ["pgtap", "pg_cron"]\n'))
    same = load(write(tmp_path, '[db]\nextensions = ["pg_cron", "pgtap", "pgtap"]\n'))
    assert other.image("postgres") == same.image("postgres") != default
    assert other.postgres_build() == postgres_spec.Build("postgres:15", ("pg_cron", "pgtap"))
    # The base comes from DEVENV_POSTGRES_BASE_IMAGE when set, and names the image too.
    based = config.load(tmp_path, environ.read({"DEVENV_POSTGRES_BASE_IMAGE": "local/pg:15"}))
    spec = based.postgres_build()
    assert spec is not None and spec.base == "local/pg:15"
    assert based.image("postgres") != same.image("postgres")
    # No extensions: plain postgres:15. An image named in devenv.toml or the environment runs
    # as it is, and nothing is built.
    plain = load(write(tmp_path, "[db]\nextensions = []\n"))
    assert plain.postgres_build() is None and plain.image("postgres") == "postgres:15"
    named = load(write(tmp_path, '[images]\npostgres = "supabase/postgres:15.8.1.085"\n'))
    assert named.postgres_build() is None
    assert named.image("postgres") == "supabase/postgres:15.8.1.085"
    env = environ.read({"DEVENV_IMAGE_POSTGRES": "ci/pg:1"})
    assert config.load(tmp_path, env).image("postgres") == "ci/pg:1"
    assert config.load(tmp_path, env).postgres_build() is None


def test_unknown_db_extension_is_a_config_problem(tmp_path: Path) -> None:
    write(tmp_path, '[db]\nextensions = ["vector", "pg_net", "postgis_topology"]\n')
    with pytest.raises(ConfigError) as err:
        load(tmp_path)
    [line] = err.value.problems
    assert line == (
        f"{tmp_path / 'devenv.toml'}: db.extensions: devenv cannot build 'pg_net',"
        " 'postgis_topology' (part of 'postgis') into its Postgres image; known: "
        + ", ".join(postgres_spec.CATALOGUE)
    )


def test_major_version_picks_the_base_and_the_packages(tmp_path: Path) -> None:
    cfg = load(write(tmp_path, '[db]\nmajor_version = 17\nextensions = ["vector"]\n'))
    spec = cfg.postgres_build()
    assert spec == postgres_spec.Build("postgres:17", ("vector",), major=17)
    assert spec.packages == ["postgresql-17-pgvector"]
    assert cfg.image("postgres").startswith("devenv-postgres:17-")
    write(tmp_path, "[db]\nmajor_version = 12\n")
    with pytest.raises(ConfigError) as err:
        load(tmp_path)
    [line] = err.value.problems
    assert line.endswith("db.major_version: expected one of 13, 14, 15, 16, 17, 18, got 12")

"""`devenv init` in a directory: what it writes, that it never overwrites, that a second run
changes nothing, and that what it writes loads as the defaults."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devenv import config, errors, scaffold
from devenv import services as svcs
from devenv.db import seed_files
from devenv.envfile.schema import load_schema
from tests.conftest import run_cli

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_init_in_an_empty_directory_writes_a_working_project(tmp_path: Path) -> None:
    p = scaffold.plan(tmp_path, now=NOW)
    scaffold.apply(p)
    files = sorted(str(f.relative_to(tmp_path)) for f in tmp_path.rglob("*") if f.is_file())
    assert files == [
        ".env.schema",
        ".gitignore",
        "devenv.toml",
        "fixtures/fireworks/example.yaml",
        "migrations/20260102030405_init.sql",
        "seeds/default/10_notes.csv",
        "seeds/default/auth.users.yaml",
    ]
    # devenv.toml holds every section and every key devenv knows, and loads as the defaults.
    raw = tomllib.loads((tmp_path / "devenv.toml").read_text())
    assert set(raw) == set(config.sections())
    for section, keys in config.sections().items():
        images_commented = section == "images"
        if not images_commented:
            assert set(raw[section]) == keys, section
    text = (tmp_path / "devenv.toml").read_text()
    for svc, image in svcs.default_images().items():
        assert f'# {svc} = "{image}"' in text
    cfg = config.load(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    default = config.load(empty)
    assert (cfg.ports, cfg.services, cfg.auth, cfg.db, cfg.env) == (
        default.ports, default.services, default.auth, default.db, default.env,
    )  # fmt: skip
    # The seed set and the stub file read as devenv reads them.
    s = seed_files.read_set(tmp_path / "seeds", "default")
    assert [u.email for u in s.users] == ["alice@example.com", "bob@example.com"]
    from devenv.mocks.fireworks.stubs import load

    assert [st.name for st in load(tmp_path / "fixtures" / "fireworks").stubs] == ["hello"]
    names = list(load_schema(tmp_path / ".env.schema").items)
    assert set(names) >= {"SUPABASE_URL", "SUPABASE_ANON_KEY", "DATABASE_URL", "REDIS_URL"}
    assert (tmp_path / ".gitignore").read_text().splitlines() == [".devenv/", ".env"]


def test_second_init_changes_nothing_and_existing_files_are_never_touched(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env.schema").write_text("# mine\nMY_KEY=1\n")
    (tmp_path / ".gitignore").write_text("node_modules/\n.env")  # no final newline
    scaffold.apply(scaffold.plan(tmp_path))
    assert (tmp_path / ".env.schema").read_text() == "# mine\nMY_KEY=1\n"
    assert (tmp_path / ".gitignore").read_text() == "node_modules/\n.env\n.devenv/\n"
    before = {f: f.read_bytes() for f in tmp_path.rglob("*") if f.is_file()}
    again = scaffold.plan(tmp_path)
    assert again.changes == []
    scaffold.apply(again)
    assert {f: f.read_bytes() for f in tmp_path.rglob("*") if f.is_file()} == before


def test_existing_migrations_and_seed_set_get_nothing_added(tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "001_mine.sql").write_text("select 1;\n")
    (tmp_path / "seeds" / "default").mkdir(parents=True)
    scaffold.apply(scaffold.plan(tmp_path))
    assert [f.name for f in (tmp_path / "migrations").iterdir()] == ["001_mine.sql"]
    assert list((tmp_path / "seeds" / "default").iterdir()) == []


def test_a_broken_devenv_toml_is_reported_and_nothing_written(tmp_path: Path) -> None:
    (tmp_path / "devenv.toml").write_text("[port]\nkong = 1\n")
    with pytest.raises(errors.ConfigError):
        scaffold.plan(tmp_path)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["devenv.toml"]


def test_cli_dry_run_writes_nothing_then_init_writes(tmp_path: Path) -> None:
    dry = run_cli("init", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "would create     devenv.toml" in dry.stdout and "dry run: nothing written" in dry.stdout
    assert list(tmp_path.iterdir()) == []
    done = run_cli("init", "--json", cwd=tmp_path)
    data = json.loads(done.stdout)
    assert "devenv.toml" in data["written"] and data["supabase"] is None
    again = run_cli("init", cwd=tmp_path)
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_cli_init_on_a_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    r = run_cli("init", "f", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"devenv: error: {tmp_path / 'f'} is not a directory (run `devenv init` in the repository)"
    ]

"""Throw-away test stacks take the project's migrations, seeds and Postgres from its
devenv.toml (or its Supabase CLI settings), so tests run on the Postgres `devenv up` runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devenv import environ
from devenv.errors import ConfigError
from devenv.stack.handle import Stack
from devenv.testing.ephemeral import project_tables


def test_a_projects_postgres_and_paths(tmp_path: Path) -> None:
    (tmp_path / "devenv.toml").write_text(
        '[images]\npostgres = "supabase/postgres:15.8.1.085"\nregistry = "mirror.internal"\n'
        '[db]\nmigrations = "db/migrations"\nextensions = ["pgtap"]\nmajor_version = 16\n'
    )
    tables: dict[str, Any] = project_tables(tmp_path)
    assert tables == {
        "db": {
            "migrations": str(tmp_path / "db" / "migrations"),
            "seeds": str(tmp_path / "seeds"),
            "extensions": ["pgtap"],
            "major_version": 16,
        },
        "images": {"postgres": "supabase/postgres:15.8.1.085", "registry": "mirror.internal"},
    }
    # Given paths win; the stack's config runs the project's image, as `devenv up` does.
    assert project_tables(tmp_path, "sql")["db"]["migrations"] == str(tmp_path / "sql")
    eph = Stack.ephemeral(tmp_path / "state", name="eph-t", env=environ.read({}), **tables)
    assert eph.cfg.image("postgres") == "mirror.internal/supabase/postgres:15.8.1.085"
    assert eph.cfg.path(eph.cfg.db.migrations) == tmp_path / "db" / "migrations"


def test_defaults_and_an_adopted_supabase_project(tmp_path: Path) -> None:
    assert project_tables(tmp_path)["db"]["migrations"] == str(tmp_path / "migrations")
    assert project_tables(tmp_path)["images"] == {}
    (tmp_path / "supabase").mkdir()
    (tmp_path / "supabase" / "config.toml").write_text('project_id = "shop"\n')
    assert project_tables(tmp_path)["db"]["migrations"] == str(tmp_path / "supabase" / "migrations")


def test_a_broken_devenv_toml_stops_the_test_stack(tmp_path: Path) -> None:
    (tmp_path / "devenv.toml").write_text('[db]\nextensions = ["nope"]\n')
    with pytest.raises(ConfigError):
        project_tables(tmp_path)

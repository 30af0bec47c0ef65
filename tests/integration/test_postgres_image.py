"""devenv's own Postgres image: `devenv up` builds the base (postgres:15) plus the packages of
[db] extensions when devenv.toml sets no [images] postgres, once, and runs it on the same data
volume a plain postgres:15 made.

Real builds on the real engine: the base is DEVENV_POSTGRES_BASE_IMAGE (the official postgres:15
where a registry has it, else the harness's plain Debian Postgres 15), and apt inside the build
reaches the base's own package sources. Each test builds its own image and removes it after, so
the build path runs every time.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from devenv import config, environ
from devenv.stack import engine as eng
from tests.conftest import unavailable
from tests.integration.conftest import Project

pytestmark = pytest.mark.engine


@pytest.fixture
def base(engine: None) -> Iterator[str]:
    image = os.environ.get("DEVENV_POSTGRES_BASE_IMAGE", "")
    if not image:
        unavailable("DEVENV_POSTGRES_BASE_IMAGE is not set; run the README's test command")
    yield image


def settings(base: str) -> dict[str, str]:
    # No DEVENV_IMAGE_POSTGRES: the project's devenv.toml decides, as on a developer's laptop.
    return {"DEVENV_IMAGE_POSTGRES": "", "DEVENV_POSTGRES_BASE_IMAGE": base}


def cli(p: Project, *args: str, base: str) -> Any:
    return p.cli(*args, env=settings(base), timeout=600)


def image_of(p: Project, base: str) -> str:
    """The Postgres image `devenv up` runs for ``p`` with these settings."""
    return config.load(p.root, env=environ.read({**os.environ, **settings(base)})).image("postgres")


def remove_image(tag: str) -> None:
    from docker.errors import ImageNotFound

    with contextlib.suppress(ImageNotFound):
        eng.Engine().client.images.remove(tag, force=True)


def building_line(stderr: str) -> str | None:
    return next((ln for ln in stderr.splitlines() if ln.startswith("devenv: building ")), None)


def test_up_builds_the_extensions_in_and_keeps_the_volume(
    project_factory: Any, base: str, tmp_path: Path
) -> None:
    # First the plain base, as a project that ran stock postgres:15 before this devenv.
    p: Project = project_factory(["postgres"], images=f'postgres = "{base}"')
    up = cli(p, "up", "--no-seed", base=base)
    assert up.returncode == 0, up.stderr
    with psycopg.connect(p.database_url(), autocommit=True) as c:
        c.execute("create table public.kept (id int); insert into public.kept values (42)")
        have = {r[0] for r in c.execute("select name from pg_available_extensions")}
    assert not {"pg_cron", "pgtap"} & have  # the base has the contrib set only

    # Now devenv's image: [images] postgres unset, two extensions wanted.
    toml = p.root / "devenv.toml"
    toml.write_text(
        toml.read_text().replace(f'[images]\npostgres = "{base}"\n', "")
        + '[db]\nextensions = ["pgtap", "pg_cron"]\n'
    )
    tag = image_of(p, base)  # what devenv runs: named by base + extensions
    assert tag.startswith("devenv-postgres:15-")
    remove_image(tag)
    try:
        up = cli(p, "up", "--no-seed", base=base)
        assert up.returncode == 0, up.stderr
        line = building_line(up.stderr)
        assert line is not None and tag in line and base in line, up.stderr
        assert "pg_cron, pgtap" in line  # canonical order, whatever the file's
        with psycopg.connect(p.database_url(), autocommit=True) as c:
            # The volume stayed; pg_cron is preloaded although postgresql.conf predates it.
            assert c.execute("select id from public.kept").fetchall() == [(42,)]
            assert c.execute("show shared_preload_libraries").fetchone() == ("pg_cron",)
            c.execute("create extension pg_cron")
            job = c.execute("select cron.schedule('every-5', '*/5 * * * *', 'select 1')")
            assert job.fetchone() is not None
            c.execute("create extension pgtap")
            assert c.execute("select plan(1)").fetchone() == ("1..1",)
            assert c.execute("select ok(true, 'pgTAP runs')").fetchone() == ("ok 1 - pgTAP runs",)
        labels = eng.Engine().client.images.get(tag).labels
        assert labels["dev.devenv.extensions"] == "pg_cron,pgtap"

        # Built once: the next up (a new container even) finds it.
        down = cli(p, "down", base=base)
        assert down.returncode == 0, down.stderr
        again = cli(p, "up", "--no-seed", base=base)
        assert again.returncode == 0, again.stderr
        assert building_line(again.stderr) is None, again.stderr

        # An extension left out of [db] extensions: the migration's line says what to add.
        mig = p.root / "migrations"
        mig.mkdir(exist_ok=True)
        (mig / "20250101000000_geo.sql").write_text("create extension postgis;\n")
        proc = cli(p, "db", "migrate", base=base)
        assert proc.returncode != 0
        first = proc.stderr.splitlines()[0]
        assert first.startswith("devenv: error: ") and "20250101000000_geo.sql:1:" in first
        assert "extension 'postgis' is not available in the stack's Postgres image" in first
        assert 'add "postgis" to [db] extensions' in proc.stderr
    finally:
        cli(p, "down", "--volumes", base=base)
        remove_image(tag)


def test_an_extension_the_base_cannot_install_is_one_line_and_starts_nothing(
    project_factory: Any, base: str
) -> None:
    # A package the base's apt sources do not have: Debian has no pgvector for Postgres 15; on
    # the official image (PostgreSQL's repository has it) a made-up base tag fails the same way.
    p: Project = project_factory(["postgres"], db='extensions = ["vector"]')
    tag = image_of(p, base)
    remove_image(tag)
    try:
        proc = cli(p, "up", "--no-seed", base=base)
        available = proc.returncode == 0
        if available:
            # This base packages pgvector (the official image): the build path worked; the
            # failure case is covered below with a base that cannot be had at all.
            with psycopg.connect(p.database_url(), autocommit=True) as c:
                c.execute("create extension vector")
        else:
            note = building_line(proc.stderr)
            assert note is not None and tag in note
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and ln != note]
            assert len(lines) == 1, proc.stderr
            assert lines[0].startswith(f"devenv: error: building the Postgres image {tag} from")
            assert "E: Unable to locate package postgresql-15-pgvector" in lines[0], proc.stderr
            assert "trim [db] extensions" in proc.stderr
            assert p.containers() == []  # nothing started
    finally:
        remove_image(tag)

    missing_base = f"devenv-no-such-postgres:{uuid.uuid4().hex[:8]}"
    proc = cli(p, "up", "--no-seed", base=missing_base)
    assert proc.returncode == 1
    note = building_line(proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and ln != note]
    assert len(lines) == 1, proc.stderr
    first = lines[0]
    assert first.startswith("devenv: error: cannot build the Postgres image devenv-postgres:15-")
    assert f"its base image {missing_base} is not present and could not be pulled" in first
    assert p.containers() == []


def test_both_own_images_are_built_in_one_up(project_factory: Any, base: str) -> None:
    # A new machine: neither devenv image is there. One `up` builds both (at the same time)
    # and starts the stack on them.
    fw_tag = f"devenv-it-fireworks:{uuid.uuid4().hex[:8]}"
    p: Project = project_factory(["postgres", "fireworks"], db='extensions = ["pgtap"]')
    pg_tag = image_of(p, base)
    remove_image(pg_tag)
    env = {**settings(base), "DEVENV_IMAGE_FIREWORKS": fw_tag}
    try:
        up = p.cli("up", "--no-seed", env=env, timeout=600)
        assert up.returncode == 0, up.stderr
        notes = [ln for ln in up.stderr.splitlines() if ln.startswith("devenv: building ")]
        assert len(notes) == 2 and fw_tag in notes[0] and pg_tag in notes[1], up.stderr
        client = eng.Engine().client
        client.images.get(fw_tag)
        client.images.get(pg_tag)
        with psycopg.connect(p.database_url(), autocommit=True) as c:
            c.execute("create extension pgtap")
        status = p.cli("status", "-o", "json", env=env)
        assert json.loads(status.stdout)["running"] is True
    finally:
        p.cli("down", "--volumes", env=env)
        remove_image(pg_tag)
        remove_image(fw_tag)


def test_a_test_stack_runs_the_projects_postgres(
    base: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The project names its image and keeps migrations elsewhere; a throw-away test stack
    # (the pytest plugin's) follows its devenv.toml, as `devenv up` does.
    from devenv.testing import ephemeral_stack

    monkeypatch.delenv("DEVENV_IMAGE_POSTGRES", raising=False)
    (tmp_path / "devenv.toml").write_text(
        f'[images]\npostgres = "{base}"\n[db]\nmigrations = "db/migrations"\n'
    )
    (tmp_path / "db" / "migrations").mkdir(parents=True)
    (tmp_path / "db" / "migrations" / "20250101000000_t.sql").write_text(
        "create table public.t (id int);\n"
    )
    with (
        ephemeral_stack(tmp_path, services=["postgres"], gc=False) as st,
        psycopg.connect(st.database_url, autocommit=True) as c,
    ):
        assert c.execute("select to_regclass('public.t')").fetchone() == ("t",)
        # The plain base (no pg_cron), not the devenv image the harness pins for the suite.
        have = {r[0] for r in c.execute("select name from pg_available_extensions")}
        assert "pg_cron" not in have and "pg_trgm" in have


def test_a_test_stack_runs_the_projects_migration_tool_and_seed_files(
    engine: None, tmp_path: Path
) -> None:
    # An app with its own migration tool (here a Python script reading DATABASE_URL, as Alembic
    # and Prisma do) and its seed as files: the test stack prepares its data as `devenv up` does.
    import shlex
    import sys

    (tmp_path / "migrate.py").write_text(
        "import os, psycopg\n"
        "with psycopg.connect(os.environ['DATABASE_URL'], autocommit=True) as c:\n"
        "    c.execute('create table if not exists public.notes (body text)')\n"
    )
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "seed.sql").write_text("insert into public.notes values ('seeded');\n")
    (tmp_path / "devenv.toml").write_text(
        f"[db]\nmigrate = {shlex.join([sys.executable, 'migrate.py'])!r}\n"
        'seed_paths = ["db/seed.sql"]\n'
    )
    from devenv.testing import ephemeral_stack

    with ephemeral_stack(tmp_path, services=["postgres"], gc=False) as st:
        db = st.create_database()
        with psycopg.connect(db.url, autocommit=True) as c:
            assert c.execute("select body from public.notes").fetchall() == [("seeded",)]

"""`[db] migrate`: the app's own migration tool (Alembic here, installed by the `test` extra)
run by `up`'s data step and `db reset` in place of devenv's SQL runner, on a real Postgres."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from devenv import config, environ, errors
from devenv.db import plan, reset, tool
from devenv.db.tool import ToolFailed
from tests.unit.db.conftest import Db

ALEMBIC = [sys.executable, "-m", "alembic", "upgrade", "head"]

ENV_PY = """
import os

from alembic import context
from sqlalchemy import create_engine

# As an app does: the URL from the environment, with the driver SQLAlchemy should use.
url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
with create_engine(url).connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"""

REVISION = '''
from alembic import op

revision = "{rev}"
down_revision = {down}


def upgrade():
    op.execute("""{sql}""")
'''


def alembic_project(root: Path, *revisions: str) -> Path:
    (root / "alembic" / "versions").mkdir(parents=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = alembic\n")
    (root / "alembic" / "env.py").write_text(ENV_PY)
    down = None
    for i, statement in enumerate(revisions, 1):
        rev = f"r{i:03d}"
        (root / "alembic" / "versions" / f"{rev}.py").write_text(
            REVISION.format(rev=rev, down=repr(down), sql=statement)
        )
        down = rev
    (root / "seeds" / "default").mkdir(parents=True)
    (root / "seeds" / "default" / "10_notes.csv").write_text("id,body\n1,hello\n")
    return root


def test_config_takes_a_string_or_a_list_and_rejects_the_rest(tmp_path: Path) -> None:
    env = environ.read({})
    cfg = config.in_memory(tmp_path, name="t", env=env, db={"migrate": "alembic upgrade head"})
    assert cfg.db.migrate == ("alembic", "upgrade", "head")
    cfg = config.in_memory(tmp_path, name="t", env=env, db={"migrate": ["npx", "prisma", "x y"]})
    assert cfg.db.migrate == ("npx", "prisma", "x y")
    assert config.in_memory(tmp_path, name="t", env=env).db.migrate == ()
    for bad, why in ((3, "expected a command string"), ("dbmate 'up", "cannot split")):
        with pytest.raises(errors.ConfigError) as ei:
            config.in_memory(tmp_path, name="t", env=env, db={"migrate": bad})
        assert any(f"db.migrate: {why}" in p for p in ei.value.details())


def test_up_data_step_runs_the_tool_then_seeds(db: Db, tmp_path: Path) -> None:
    root = alembic_project(tmp_path, "create table notes (id int primary key, body text)")
    data = plan.DataPlan.at(root / "migrations", root / "seeds", migrate_cmd=ALEMBIC, root=root)
    res = plan.run(data, db.dsn, ["default"])
    assert isinstance(res.migrate, tool.ToolResult)
    assert db.scalar("select version_num from alembic_version") == "r001"
    assert db.rows("select id, body from notes") == [(1, "hello")]
    # devenv's own runner did not run: no history of its own.
    assert db.scalar("select count(*) from devenv.schema_migrations") == 0
    # Idempotent, as `up` must be.
    again = plan.run(data, db.dsn, ["default"])
    assert again.seed is not None and again.seed.sets[0].status == "unchanged"


def test_reset_runs_the_tool_on_the_emptied_database(db: Db, tmp_path: Path) -> None:
    root = alembic_project(tmp_path, "create table notes (id int primary key, body text)")
    data = plan.DataPlan.at(root / "m", root / "seeds", migrate_cmd=ALEMBIC, root=root)
    plan.run(data, db.dsn, ["default"])
    with db.connect() as c:
        c.execute("insert into notes values (2, 'app row')")
    res = reset.reset(data, db.dsn, ["default"])
    assert isinstance(res.migrate, tool.ToolResult)
    assert db.rows("select id, body from notes") == [(1, "hello")]


def test_a_failing_revision_is_one_line_with_the_tools_last_lines(db: Db, tmp_path: Path) -> None:
    root = alembic_project(
        tmp_path,
        "create table notes (id int primary key, body text)",
        "alter table notes add column body text",  # already exists
    )
    with pytest.raises(ToolFailed) as ei:
        data = plan.DataPlan.at(root / "m", root / "seeds", migrate_cmd=ALEMBIC, root=root)
        plan.run(data, db.dsn, [])
    err = ei.value
    line = err.one_line()
    assert "\n" not in line
    assert line.startswith("[db] migrate: `") and "failed (exit 1)" in line
    assert 'column "body" of relation "notes" already exists' in "\n".join(err.details())
    assert len(err.details()) <= tool.TAIL_LINES
    # The password never shows, even though the tool's traceback may print the URL.
    assert db.cluster.password not in line + "\n".join(err.details())
    # Alembic ran the upgrade in one transaction: the failure left nothing behind.
    assert db.scalar(
        "select to_regclass('notes') is null and to_regclass('alembic_version') is null"
    )


def test_a_missing_tool_says_so(db: Db, tmp_path: Path) -> None:
    with pytest.raises(ToolFailed) as ei:
        tool.run(["no-such-migrator-xyz", "up"], db.dsn, tmp_path)
    assert "'no-such-migrator-xyz' not found" in ei.value.one_line()


def test_database_url_reaches_the_tool_through_its_environment_only(db: Db, tmp_path: Path) -> None:
    probe = [
        sys.executable,
        "-c",
        "import os, sys; print(len(sys.argv), os.environ['DATABASE_URL'])",
    ]
    out = tool.run(probe, db.dsn, tmp_path).output
    assert out == [f"1 {db.dsn.replace(db.cluster.password, '***')}"]

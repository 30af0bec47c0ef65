"""A Supabase CLI project's migrations and seed files, as adopted (no devenv.toml), applied by
`up`'s data step, `db reset` and `seed --force` on a real Postgres with GoTrue's auth schema."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from devenv import config, environ
from devenv.db import plan, reset, seeds
from devenv.errors import UsageError
from tests.unit.db.conftest import Db, GoTrue

pytestmark = pytest.mark.gotrue

FIXTURE = Path(__file__).parent.parent / "init" / "supabase_project"


def test_adopted_layout_migrates_and_seeds(auth_db: Db, gotrue: GoTrue, tmp_path: Path) -> None:
    root = tmp_path / "shop"
    shutil.copytree(FIXTURE, root)
    cfg = config.load(root, environ.read({}))
    data = plan.DataPlan.from_config(cfg)
    res = plan.run(data, auth_db.dsn, ["default"])
    assert [a.name for a in res.migrate.applied] == [  # type: ignore[union-attr]
        "20240101000000_todos.sql",
        "20240102000000_tags.sql",
    ]
    assert auth_db.rows("select title from public.todos order by id") == [
        ("buy milk",), ("write tests",),
    ]  # fmt: skip
    assert auth_db.rows("select name from public.tags order by name") == [("home",), ("work",)]
    # A db reset starts over from the same files.
    with auth_db.connect() as c:
        c.execute("insert into public.tags values ('extra')")
    reset.reset(data, auth_db.dsn, ["default"])
    assert auth_db.scalar("select count(*) from public.tags") == 2
    # A missing seed file is named.
    (root / "supabase" / "seed.sql").unlink()
    with pytest.raises(UsageError) as ei:
        seeds.seed(auth_db.dsn, cfg.path(cfg.db.seeds), ["default"], files=cfg.seed_files())
    assert "seed.sql (from [db] seed_paths) does not exist" in str(ei.value)

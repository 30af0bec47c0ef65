"""What ``devenv up`` (and the pytest plugin) run once the stack is healthy: migrate, then seed.

A seed set whose files changed since it was loaded is reported, not reloaded and not an error
here: ``up`` must not fail because someone edited a seed file (``devenv seed --force`` or
``devenv db reset`` reloads it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devenv.db import auth as authmod
from devenv.db import conn as dbconn
from devenv.db import migrations, seeds, tool


@dataclass
class PrepareResult:
    migrate: migrations.MigrateResult | tool.ToolResult
    seed: seeds.SeedResult | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "migrate": self.migrate.as_dict(),
            "seed": self.seed.as_dict() if self.seed else None,
        }

    def warnings(self) -> list[str]:
        if self.seed is None:
            return []
        return [
            f"seed set {s.name!r} changed since it was loaded; reload it with"
            f" `devenv seed {s.name} --force` or `devenv db reset`"
            for s in self.seed.changed
        ]


def prepare(
    dsn: str,
    migrations_dir: Path,
    seeds_dir: Path,
    sets: list[str] | tuple[str, ...] = ("default",),
    *,
    auth: authmod.AuthTarget | None = None,
    migrate_cmd: Sequence[str] = (),
    root: Path | None = None,
    files: seeds.SetFiles | None = None,
) -> PrepareResult:
    """Apply pending migrations (devenv's SQL runner, or the app's own tool when
    ``migrate_cmd`` is given, run from ``root``), then load the given seed sets (those that
    exist) — one connection, one hold of devenv's lock. A project without the default set seeds
    nothing."""
    present = [s for s in dict.fromkeys(sets) if seeds.set_exists(seeds_dir, s, files)]
    parsed = [seeds.read_set(seeds_dir, s, files) for s in present]
    with dbconn.connect(dsn) as conn, dbconn.locked(conn):
        mig: migrations.MigrateResult | tool.ToolResult
        if migrate_cmd:
            # The lock is held meanwhile, so two `up`s never run the tool at once.
            mig = tool.run(migrate_cmd, dsn, root or migrations_dir.parent)
        else:
            mig = migrations.apply_pending(conn, migrations_dir)
        seeded = seeds.load_sets(conn, parsed, auth=auth) if parsed else None
    return PrepareResult(mig, seeded)

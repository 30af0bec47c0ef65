"""What ``devenv up`` does once every service is healthy: check the project's env files, apply
pending migrations, load the default seed set.

Called by ``Stack.up`` after the services are healthy, outside the project lock, so that a stack
that is healthy stays up when the data step fails: the user fixes a migration and runs
``devenv db migrate``, without a restart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devenv.errors import DatabaseError

if TYPE_CHECKING:
    from devenv.db.prepare import PrepareResult
    from devenv.envfile.problems import Problem
    from devenv.stack.handle import Stack


@dataclass
class AfterUp:
    env_problems: list[Problem] = field(default_factory=list)
    data: PrepareResult | None = None
    hints: list[str] = field(default_factory=list)

    def warnings(self) -> list[str]:
        out = list(self.hints)
        out += [f"{p} (see `devenv env check`)" for p in self.env_problems]
        if self.data is not None:
            out += self.data.warnings()
        return out

    def summary(self) -> list[str]:
        """Lines for the end of ``devenv up``: what the data step changed."""
        if self.data is None:
            return []
        from devenv.db.tool import ToolResult

        mig = self.data.migrate
        if isinstance(mig, ToolResult):
            lines = [mig.summary()]
        else:
            lines = [
                f"migrations: applied {len(mig.applied)}"
                + (f" ({', '.join(a.name for a in mig.applied)})" if mig.applied else "")
                + f", {mig.already_applied} already applied"
            ]
        for s in self.data.seed.sets if self.data.seed else []:
            what = {
                "loaded": f"loaded {s.rows} rows, {s.users} auth users",
                "reloaded": f"reloaded {s.rows} rows, {s.users} auth users",
                "unchanged": "already loaded, unchanged",
                "changed": "changed since it was loaded (kept as loaded)",
            }.get(s.status, s.status)
            lines.append(f"seed {s.name}: {what}")
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "hints": self.hints,
            "env_problems": [p.as_dict() for p in self.env_problems],
            "data": self.data.as_dict() if self.data else None,
        }


def after_up(stack: Stack, running: Iterable[str], *, seed: bool = True) -> AfterUp:
    """Env check (warnings only), then migrations and, unless ``seed`` is false, the default seed
    set, on the stack's Postgres. Raises DatabaseError naming the file and line; the stack stays
    up either way."""
    from devenv.envfile.project import check_project

    cfg = stack.cfg
    out = AfterUp(env_problems=check_project(cfg))
    plain = [f for f in cfg.env.files if "{env}" not in f]
    if cfg.path(cfg.env.schema).is_file() and not any(cfg.path(f).exists() for f in plain):
        out.hints.append(
            f"{cfg.env.schema} is here but no {plain[0] if plain else '.env'}: run"
            " `devenv env init` to write one from the schema and the running stack"
        )
    running = set(running)
    if "postgres" not in running:
        return out
    from devenv.db.prepare import prepare

    # GoTrue's admin API creates seeded users; without gotrue a set with users fails clearly.
    auth = stack.auth_target() if "gotrue" in running else None
    try:
        out.data = prepare(
            stack.database_url(),
            cfg.path(cfg.db.migrations),
            cfg.path(cfg.db.seeds),
            [cfg.db.default_seed] if seed else [],
            auth=auth,
            migrate_cmd=cfg.db.migrate,
            root=cfg.root,
            files=cfg.seed_files(),
        )
    except DatabaseError as exc:
        # The same error object, so nothing it carries is lost; only the message says where.
        exc.message = f"the stack is up, but {exc.message}"
        exc.hint = exc.hint or "fix it, then run `devenv db migrate` and `devenv seed`"
        exc.args = (exc.message,)
        raise
    return out

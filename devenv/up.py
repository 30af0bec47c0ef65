"""``devenv up``, the use case: the stack's containers ready (devenv.stack), then the data step
(devenv.db.plan) on them, then the report. It sits above both rooms, so the stack room only
starts containers and the data step is the same one the db commands and the test stacks run.

The data step runs after the services are healthy, outside the project lock, so that a stack that
is healthy stays up when the data step fails: the user fixes a migration and runs ``devenv db
migrate``, without a restart.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devenv import interrupt
from devenv import trace as trace_mod
from devenv.errors import DatabaseError
from devenv.stack.model import ProgressFn, UpResult
from devenv.trace import Trace

if TYPE_CHECKING:
    from devenv.db.plan import DataResult
    from devenv.envfile.problems import Problem
    from devenv.stack.handle import Stack


@dataclass
class Outcome:
    """What ``devenv up`` did: the stack's part and the data step's."""

    stack: UpResult
    after: AfterUp | None
    elapsed_s: float

    def as_dict(self, show_secrets: bool = False) -> dict[str, Any]:
        data = self.stack.as_dict(show_secrets)
        data["elapsed_s"] = round(self.elapsed_s, 2)
        if self.after is not None:
            data.update(self.after.as_dict())
        return data


def up(
    stack: Stack,
    services: Iterable[str] = (),
    *,
    seed: bool = True,
    timeout: float = 180.0,
    on_progress: ProgressFn | None = None,
    on_note: Callable[[str], None] | None = None,
) -> Outcome:
    """Start the enabled services (or ``services`` and what they need) and wait until really
    healthy (Stack.up), then check .env files, migrate and (unless ``seed`` is false) load the
    default seed set. Raises a DevenvError subclass on every failure; a failing data step leaves
    the stack up."""
    t0 = time.monotonic()
    result = stack.up(services, timeout=timeout, on_progress=on_progress, on_note=on_note)
    tr = stack.trace or Trace()
    try:
        interrupt.check()  # a Ctrl-C swallowed during the last poll stops before the data step
        if "fireworks" in result.status.running_services:
            with tr.span("fireworks", "stubs"):
                _send_stubs(stack)
        t = time.monotonic()
        after = after_up(stack, result.status.running_services, seed=seed, trace=tr)
        result.phases["data"] = time.monotonic() - t
    finally:
        # The waterfall is kept also when the data step fails: where the time went is the
        # first question then (`status -o json`, `up --trace`, the dashboard).
        result.status.trace = tr
        with contextlib.suppress(OSError):
            trace_mod.save(stack.cfg.state_dir, tr)
    return Outcome(result, after, time.monotonic() - t0)


def _send_stubs(stack: Stack) -> None:
    """The project's Fireworks stubs to the running mock (every `up`: an edited file takes
    effect without a restart). A bad file leaves the stack up, as a failing migration does."""
    from devenv import fireworks_stubs
    from devenv.errors import MockError

    try:
        fireworks_stubs.push_to(stack)
    except MockError as exc:
        exc.message = f"the stack is up, but {exc.message}"
        exc.args = (exc.message,)
        raise


@dataclass
class AfterUp:
    env_problems: list[Problem] = field(default_factory=list)
    data: DataResult | None = None
    hints: list[str] = field(default_factory=list)
    data_unchanged: bool = False  # the data step was skipped: nothing it depends on changed

    def warnings(self) -> list[str]:
        out = list(self.hints)
        out += [f"{p} (see `devenv env check`)" for p in self.env_problems]
        if self.data is not None:
            out += self.data.warnings()
        return out

    def summary(self) -> list[str]:
        """Lines for the end of ``devenv up``: what the data step changed."""
        if self.data_unchanged:
            return ["migrations and seeds: files and database unchanged since the last up"]
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
            "data_unchanged": self.data_unchanged,
        }


def after_up(
    stack: Stack, running: Iterable[str], *, seed: bool = True, trace: Trace | None = None
) -> AfterUp:
    """Env check (warnings only), then migrations and, unless ``seed`` is false, the default seed
    set, on the stack's Postgres. Raises DatabaseError naming the file and line; the stack stays
    up either way."""
    from devenv.envfile.project_files import check_project

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
    stamp = _data_stamp(stack, seed)
    stamp_file = cfg.state_dir / DATA_STAMP
    if stamp is not None and stack.unchanged and _read(stamp_file) == stamp:
        # Same Postgres container, same migration and seed files as the last data step that
        # succeeded: applying "nothing pending" again costs more than the rest of `up`.
        out.data_unchanged = True
        return out
    from devenv.db import auth as authmod
    from devenv.db import plan as plan_mod

    plan = plan_mod.DataPlan.from_config(cfg)
    sets = [plan.default_seed] if seed else []
    # GoTrue's admin API creates seeded users; without gotrue a set with users fails clearly.
    auth = authmod.target_for(stack) if "gotrue" in running and plan.needs_auth(sets) else None
    try:
        out.data = plan_mod.run(plan, stack.database_url(), sets, auth=auth, trace=trace)
    except DatabaseError as exc:
        if stack.down_since_up_began():
            # Not the data's fault: `devenv down` took the stack away under the step.
            from devenv.stack.health import taken_down_error

            raise taken_down_error(stack.runner) from None
        # The same error object, so nothing it carries is lost; only the message says where.
        exc.message = f"the stack is up, but {exc.message}"
        exc.hint = exc.hint or "fix it, then run `devenv db migrate` and `devenv seed`"
        exc.args = (exc.message,)
        plan_mod.name_missing_service(
            exc,
            cfg.services,
            f'add "{{service}}" to [project] services in {cfg.source or "devenv.toml"},'
            " then run `devenv up`",
        )
        raise
    if stamp is not None:
        from devenv.stack import secrets

        secrets.write_private(stamp_file, stamp)
    return out


#: The last data step that succeeded: Postgres container + migration/seed files it ran on.
DATA_STAMP = "data-step"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _data_stamp(stack: Stack, seed: bool) -> str | None:
    """What the data step's outcome depends on, cheaply: the Postgres container (id and start
    time: a recreated or restarted one may have a new volume), the devenv version, the [db]
    settings, and every migration and seed file's name, size and mtime. None when Postgres is
    outside the stack (DEVENV_DATABASE_URL): nothing local says what changed there."""
    import hashlib

    from devenv import __version__

    if stack.env.external_database:
        return None
    containers = stack.last_containers if stack.last_containers is not None else stack.runner.ps()
    pg = next((c for c in containers if c.service == "postgres"), None)
    if pg is None or pg.state != "running":
        return None
    from devenv.db.plan import DataPlan

    cfg = stack.cfg
    h = hashlib.sha256(f"{__version__}\0{pg.id}\0{pg.started_at}\0{seed}\0{cfg.db}".encode())
    for f in DataPlan.from_config(cfg).input_files():
        st = f.stat()
        h.update(f"\0{f}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()

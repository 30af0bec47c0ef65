"""`devenv db ...` and `devenv seed`: parse, call devenv.db, render.

Which Postgres and GoTrue they talk to is the Stack handle's answer (``database_url``,
``devenv.db.auth.target_for``), the same one ``devenv up``'s data step uses: the running stack's, or
DEVENV_DATABASE_URL (and DEVENV_GOTRUE_URL with DEVENV_SERVICE_ROLE_KEY), e.g. a CI service
container.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from devenv.cli.context import stack

if TYPE_CHECKING:
    from devenv.db.auth import AuthTarget
    from devenv.db.plan import DataPlan
    from devenv.stack.handle import Stack


def register(app: typer.Typer) -> None:
    """Attach the `db` group and the top-level `seed` command to the root app."""
    db_app = typer.Typer(
        help="Migrations, reset, snapshots and a psql shell for the stack's Postgres.",
        no_args_is_help=True,
    )
    db_app.command("migrate")(migrate)
    db_app.command("new")(new)
    db_app.command("status")(status)
    db_app.command("reset")(reset)
    db_app.command("shell")(shell)
    snap = typer.Typer(help="Template-database snapshots: save, restore, list, delete.")
    snap.command("save")(snapshot_save)
    snap.command("restore")(snapshot_restore)
    snap.command("list")(snapshot_list)
    snap.command("delete")(snapshot_delete)
    db_app.add_typer(snap, name="snapshot", no_args_is_help=True)
    app.add_typer(db_app, name="db")
    app.command("seed")(seed)


# ------------------------------------------------------------------------------------------
# Where things are.


def _plan(handle: Stack) -> DataPlan:
    from devenv.db.plan import DataPlan

    return DataPlan.from_config(handle.cfg)


def _auth(handle: Stack, plan: DataPlan, sets: Sequence[str]) -> AuthTarget | None:
    """GoTrue only when a set has auth users: seeding plain data needs no running GoTrue."""
    from devenv.db import auth as authmod

    return authmod.target_for(handle) if plan.needs_auth(sets) else None


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


# ------------------------------------------------------------------------------------------
# Migrations.


def migrate(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Apply pending migrations, each file in its own transaction."""
    from devenv.db import migrations

    handle = stack(ctx)
    plan = _plan(handle)
    if plan.migrate_cmd:
        from devenv.db import conn as dbconn
        from devenv.db import tool

        dsn = handle.database_url()
        with dbconn.connect(dsn) as conn, dbconn.locked(conn):
            ran = tool.run(plan.migrate_cmd, dsn, plan.root)
        if as_json:
            _echo_json(ran.as_dict())
        else:
            for line in ran.output:
                typer.echo(line)
            typer.echo(ran.summary())
        return
    res = migrations.migrate(
        handle.database_url(),
        plan.migrations_dir,
        on_wait=lambda pid: _err(
            f"devenv: waiting for another migration run (server pid {pid}) to finish"
        ),
    )
    if as_json:
        _echo_json(res.as_dict())
        return
    for a in res.applied:
        typer.echo(f"applied  {a.name}  ({a.duration_ms} ms)")
    if not res.applied:
        typer.echo(f"up to date ({res.already_applied} applied)")
    else:
        typer.echo(f"{len(res.applied)} applied in {res.duration_s:.2f} s")


def new(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="What the migration does, e.g. add_favourites."),
) -> None:
    """Create an empty, timestamped migration file."""
    from devenv.db import migrations

    cfg = stack(ctx).cfg
    path = migrations.new_migration(cfg.path(cfg.db.migrations), name)
    try:
        shown: Path = path.relative_to(cfg.root)
    except ValueError:
        shown = path
    typer.echo(str(shown))


def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Applied, pending, changed and missing migrations (exit 1 if any changed or missing)."""
    from devenv.db import migrations

    handle = stack(ctx)
    cfg = handle.cfg
    st = migrations.status(handle.database_url(), cfg.path(cfg.db.migrations))
    if as_json:
        _echo_json(st.as_dict())
    else:
        if not st.entries:
            typer.echo(f"no migrations in {st.directory}")
        for e in st.entries:
            when = e.applied_at.strftime("%Y-%m-%d %H:%M:%S") if e.applied_at else ""
            typer.echo(f"{e.state:<8} {e.name}  {when}".rstrip())
        c = st.as_dict()["counts"]
        typer.echo(
            f"{c['applied']} applied, {c['pending']} pending, {c['changed']} changed,"
            f" {c['missing']} missing"
        )
    if not st.ok:
        if not as_json:
            _err(
                "devenv: applied migrations differ from the files; `devenv db migrate` will refuse"
                " (restore them, or `devenv db reset`)"
            )
        raise typer.Exit(1)


# ------------------------------------------------------------------------------------------
# Seeds and reset.


def seed(
    ctx: typer.Context,
    sets: list[str] = typer.Argument(None, help="Seed sets to load (default: [db] default_seed)."),
    force: bool = typer.Option(False, "--force", help="Reload sets even if loaded before."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Load seed sets: SQL files, data files and auth users, each set whole or not at all."""
    from devenv.db import plan as plan_mod

    handle = stack(ctx)
    plan = _plan(handle)
    names = list(sets or [plan.default_seed])
    auth = _auth(handle, plan, names)
    res = plan_mod.seed(plan, handle.database_url(), names, force=force, auth=auth)
    if as_json:
        _echo_json(res.as_dict())
    else:
        for s in res.sets:
            if s.status == "loaded":
                typer.echo(
                    f"{s.status:<9} {s.name}: {s.files} files, {s.rows:,} rows, {s.users} users"
                    f" ({s.duration_s:.2f} s)"
                )
            elif s.status == "reloaded":
                removed = f", {s.users_removed} removed" if s.users_removed else ""
                typer.echo(
                    f"{s.status:<9} {s.name}: {s.files} file{'s' if s.files != 1 else ''};"
                    f" rows: {s.replaced:,} replaced,"
                    f" {s.inserted:,} inserted, {s.skipped:,} skipped; {s.users} users"
                    f"{removed} ({s.duration_s:.2f} s)"
                )
            elif s.status == "unchanged":
                typer.echo(f"unchanged {s.name}: already loaded")
            else:
                typer.echo(f"changed   {s.name}: files differ from the loaded version; not loaded")
    if res.changed:
        names_changed = " ".join(s.name for s in res.changed)
        if not as_json:
            _err(
                f"devenv: seed set(s) {names_changed} changed since loaded (reload with"
                f" `devenv seed {names_changed} --force`, or start over with `devenv db reset`)"
            )
        raise typer.Exit(1)


def reset(
    ctx: typer.Context,
    no_seed: bool = typer.Option(False, "--no-seed", help="Do not load the default seed set."),
    full: bool = typer.Option(
        False, "--full", help="Replay migrations and seeds even when the kept state matches."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Back to the state right after migrations and the default seeds: from the state the last
    full reset kept when no migration or seed file changed, else by emptying the database
    (app schemas and auth users) and replaying them."""
    from devenv.db import reset as reset_mod

    handle = stack(ctx)
    plan = _plan(handle)
    sets = [] if no_seed else [plan.default_seed]
    res = reset_mod.reset(
        plan, handle.database_url(), sets, auth=_auth(handle, plan, sets), full=full
    )
    if as_json:
        _echo_json(res.as_dict())
        return
    from devenv.db.tool import ToolResult

    phases = ", ".join(f"{k} {v:.2f}s" for k, v in res.phases.items())
    if res.template == "restored":
        kept = res.summary.get("sets", {})
        rows = sum(int(s.get("rows", 0)) for s in kept.values())
        users = sum(int(s.get("users", 0)) for s in kept.values())
        migrated = res.summary.get("migrations", 0)
        typer.echo(
            f"reset: restored the state the last full reset kept ({migrated}"
            f" migrations, {len(kept)} seed set(s): {rows:,} rows, {users} users; no file changed"
            f" since) in {res.total_s:.2f} s [{phases}]"
        )
        return
    if isinstance(res.migrate, ToolResult):
        typer.echo(res.migrate.summary())
        applied = 0
    else:
        applied = len(res.migrate.applied) if res.migrate else 0
    loaded = list(res.seed.sets) if res.seed else []
    rows = sum(s.rows for s in loaded)
    users = sum(s.users for s in loaded)
    typer.echo(
        f"reset: {applied} migrations applied, {len(loaded)} seed set(s) loaded ({rows:,} rows,"
        f" {users} users) in {res.total_s:.2f} s [{phases}]"
    )


# ------------------------------------------------------------------------------------------
# Snapshots.


def snapshot_save(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Snapshot name."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Save the database as a template database NAME."""
    from devenv.db import snapshots

    res = snapshots.save(stack(ctx).database_url(), name)
    _render_snapshot(res.as_dict(), as_json)


def snapshot_restore(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Snapshot name."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Replace the database with a clone of snapshot NAME (other sessions are disconnected)."""
    from devenv.db import snapshots

    res = snapshots.restore(stack(ctx).database_url(), name)
    _render_snapshot(res.as_dict(), as_json)


def snapshot_delete(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Snapshot name."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Delete snapshot NAME."""
    from devenv.db import snapshots

    res = snapshots.delete(stack(ctx).database_url(), name)
    _render_snapshot(res.as_dict(), as_json)


def snapshot_list(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the snapshots as JSON."),
) -> None:
    """List snapshots."""
    from devenv.db import snapshots

    snaps = snapshots.list_snapshots(stack(ctx).database_url())
    if as_json:
        _echo_json({"snapshots": [s.as_dict() for s in snaps]})
        return
    if not snaps:
        typer.echo("no snapshots")
    for s in snaps:
        typer.echo(f"{s.name:<24} {s.created_at:<26} {s.size_bytes / 1e6:8.1f} MB  of {s.source}")


def _render_snapshot(d: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _echo_json(d)
        return
    typer.echo(
        f"{d['action']} snapshot {d['name']} ({d['size_bytes'] / 1e6:.1f} MB) in"
        f" {d['duration_s']:.2f} s"
    )


# ------------------------------------------------------------------------------------------
# Shell.


def shell(ctx: typer.Context) -> None:
    """Open psql on the stack's database (inside the container when no local psql exists)."""
    import os
    import shutil
    import signal
    import subprocess

    from psycopg import conninfo

    handle = stack(ctx)
    dsn = handle.database_url()
    params = conninfo.conninfo_to_dict(dsn)
    psql = shutil.which("psql")
    if not psql:
        from devenv.errors import StackError

        if handle.env.external_database:
            raise StackError(
                "psql is not installed and DEVENV_DATABASE_URL points outside the stack",
                "install the PostgreSQL client (e.g. apt-get install postgresql-client)",
            )
    # The password travels in the environment, never in argv (visible in `ps`).
    env = {**os.environ}
    for key, var in (
        ("host", "PGHOST"),
        ("port", "PGPORT"),
        ("user", "PGUSER"),
        ("dbname", "PGDATABASE"),
        ("password", "PGPASSWORD"),
    ):
        if params.get(key):
            env[var] = str(params[key])
    # psql handles Ctrl-C itself (cancels the query); devenv must not die under it.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        if psql:
            rc = subprocess.call([psql], env=env)
        else:
            # Inside the container, over its socket: no password needed at all.
            rc = handle.psql(str(params.get("dbname") or "postgres"), tty=sys.stdin.isatty())
    finally:
        signal.signal(signal.SIGINT, previous)
    raise typer.Exit(rc)

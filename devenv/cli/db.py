"""`devenv db ...` and `devenv seed`: parse, call devenv.db, render.

The database and GoTrue of the project's running stack come from devenv.stack.api;
DEVENV_DATABASE_URL (and DEVENV_GOTRUE_URL with DEVENV_SERVICE_ROLE_KEY) point the commands at
another Postgres/GoTrue instead, e.g. a CI service container.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from devenv.config import Config
    from devenv.db.auth import AuthTarget


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


def _config() -> Config:
    from devenv import config

    return config.load()


def _dsn(cfg: Config) -> str:
    env = os.environ.get("DEVENV_DATABASE_URL")
    if env:
        return env
    from devenv.stack import api

    return api.database_url(cfg)


def _auth(cfg: Config) -> AuthTarget | None:
    from devenv.db.auth import AuthTarget

    url, key = os.environ.get("DEVENV_GOTRUE_URL"), os.environ.get("DEVENV_SERVICE_ROLE_KEY")
    if url and key:
        return AuthTarget(url, key)
    if "gotrue" not in cfg.services or os.environ.get("DEVENV_DATABASE_URL"):
        return None
    from devenv.errors import StackError
    from devenv.stack import api

    try:
        return AuthTarget.from_env_values(api.env_values(cfg))
    except StackError:
        return None


def _needs_auth(seeds_dir: Path, sets: list[str]) -> bool:
    return any(
        any((seeds_dir / s).glob(f"*auth.users.{ext}"))
        for s in sets
        for ext in ("yaml", "yml", "json")
    )


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


# ------------------------------------------------------------------------------------------
# Migrations.


def migrate(
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Apply pending migrations, each file in its own transaction."""
    from devenv.db import migrations

    cfg = _config()
    res = migrations.migrate(
        _dsn(cfg),
        cfg.path(cfg.db.migrations),
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
    name: str = typer.Argument(..., help="What the migration does, e.g. add_favourites."),
) -> None:
    """Create an empty, timestamped migration file."""
    from devenv.db import migrations

    cfg = _config()
    path = migrations.new_migration(cfg.path(cfg.db.migrations), name)
    try:
        shown: Path = path.relative_to(cfg.root)
    except ValueError:
        shown = path
    typer.echo(str(shown))


def status(
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Applied, pending, changed and missing migrations (exit 1 if any changed or missing)."""
    from devenv.db import migrations

    cfg = _config()
    st = migrations.status(_dsn(cfg), cfg.path(cfg.db.migrations))
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
    sets: list[str] = typer.Argument(None, help="Seed sets to load (default: [db] default_seed)."),
    force: bool = typer.Option(False, "--force", help="Reload sets even if loaded before."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Load seed sets: SQL files, data files and auth users, each set whole or not at all."""
    from devenv.db import seeds

    cfg = _config()
    names = list(sets or [cfg.db.default_seed])
    seeds_dir = cfg.path(cfg.db.seeds)
    auth = _auth(cfg) if _needs_auth(seeds_dir, names) else None
    res = seeds.seed(_dsn(cfg), seeds_dir, names, force=force, auth=auth)
    if as_json:
        _echo_json(res.as_dict())
    else:
        for s in res.sets:
            if s.status in ("loaded", "reloaded"):
                typer.echo(
                    f"{s.status:<9} {s.name}: {s.files} files, {s.rows:,} rows, {s.users} users"
                    f" ({s.duration_s:.2f} s)"
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
    no_seed: bool = typer.Option(False, "--no-seed", help="Do not load the default seed set."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Empty the database (app schemas and auth users), re-apply migrations, load default seeds."""
    from devenv.db import reset as reset_mod

    cfg = _config()
    sets = [] if no_seed else [cfg.db.default_seed]
    seeds_dir = cfg.path(cfg.db.seeds)
    auth = _auth(cfg) if sets and _needs_auth(seeds_dir, sets) else None
    res = reset_mod.reset(_dsn(cfg), cfg.path(cfg.db.migrations), seeds_dir, sets, auth=auth)
    if as_json:
        _echo_json(res.as_dict())
        return
    applied = len(res.migrate.applied) if res.migrate else 0
    loaded = list(res.seed.sets) if res.seed else []
    rows = sum(s.rows for s in loaded)
    users = sum(s.users for s in loaded)
    phases = ", ".join(f"{k} {v:.2f}s" for k, v in res.phases.items())
    typer.echo(
        f"reset: {applied} migrations applied, {len(loaded)} seed set(s) loaded ({rows:,} rows,"
        f" {users} users) in {res.total_s:.2f} s [{phases}]"
    )


# ------------------------------------------------------------------------------------------
# Snapshots.


def snapshot_save(
    name: str = typer.Argument(..., help="Snapshot name."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Save the database as a template database NAME."""
    from devenv.db import snapshots

    res = snapshots.save(_dsn(_config()), name)
    _render_snapshot(res.as_dict(), as_json)


def snapshot_restore(
    name: str = typer.Argument(..., help="Snapshot name."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Replace the database with a clone of snapshot NAME (other sessions are disconnected)."""
    from devenv.db import snapshots

    res = snapshots.restore(_dsn(_config()), name)
    _render_snapshot(res.as_dict(), as_json)


def snapshot_delete(
    name: str = typer.Argument(..., help="Snapshot name."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Delete snapshot NAME."""
    from devenv.db import snapshots

    res = snapshots.delete(_dsn(_config()), name)
    _render_snapshot(res.as_dict(), as_json)


def snapshot_list(
    as_json: bool = typer.Option(False, "--json", help="Print the snapshots as JSON."),
) -> None:
    """List snapshots."""
    from devenv.db import snapshots

    snaps = snapshots.list_snapshots(_dsn(_config()))
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


def shell() -> None:
    """Open psql on the stack's database (inside the container when no local psql exists)."""
    import shutil
    import signal
    import subprocess

    from psycopg import conninfo

    cfg = _config()
    dsn = _dsn(cfg)
    params = conninfo.conninfo_to_dict(dsn)
    psql = shutil.which("psql")
    if psql:
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
        argv = [psql]
    else:
        from devenv.errors import StackError
        from devenv.stack import api, engine, secrets

        if os.environ.get("DEVENV_DATABASE_URL"):
            raise StackError(
                "psql is not installed and DEVENV_DATABASE_URL points outside the stack",
                "install the PostgreSQL client (e.g. apt-get install postgresql-client)",
            )
        keys = secrets.load(cfg.state_dir)
        if keys is None:
            raise StackError(f"the stack {cfg.name!r} has no keys", "start it with `devenv up`")
        argv = [
            *engine.compose_command(),
            "--project-name",
            cfg.name,
            "--file",
            str(api.compose_dir() / "compose.yaml"),
            "exec",
            # No terminal (a script piped in): no TTY, or the engine refuses the exec.
            *([] if sys.stdin.isatty() else ["-T"]),
            "postgres",
            "psql",
            "-U",
            "postgres",
            "-d",
            str(params.get("dbname") or "postgres"),
        ]
        env = {**os.environ, **api.compose_env(cfg, keys)}
    # psql handles Ctrl-C itself (cancels the query); devenv must not die under it.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        rc = subprocess.call(argv, env=env)
    finally:
        signal.signal(signal.SIGINT, previous)
    raise typer.Exit(rc)

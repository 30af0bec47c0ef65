"""`devenv env check | init | diff | example`: parse, call devenv.envfile, render.

Exit codes: 0 clean, 1 problems (or differences) found, 2 a malformed schema or bad usage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from devenv.config import Config

env_app = typer.Typer(
    name="env",
    help="Check, initialise and compare .env files against .env.schema (@env-spec).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    """Attach the `env` group to the root app."""
    app.add_typer(env_app, name="env")


def _config() -> Config:
    from devenv import config

    return config.load()


def _json(data: Any) -> None:
    import json

    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _json_error(exc: Exception) -> None:
    from devenv.errors import DevenvError

    assert isinstance(exc, DevenvError)
    _json(
        {
            "ok": False,
            "error": {"message": exc.one_line(), "details": list(exc.details())},
        }
    )
    raise typer.Exit(exc.exit_code)


@env_app.command("check")
def check(
    files: list[str] = typer.Argument(
        None, help="Env files to check, in cascade order (default: [env] files of devenv.toml)."
    ),
    env: str = typer.Option(
        None,
        "--env",
        help="The current environment, for forEnv() and .env.{env} files, when the schema has "
        "no @currentEnv item with a value (that item wins, as in varlock).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON (for CI)."),
) -> None:
    """Check env files against the schema; report every problem at once (exit 1 if any)."""
    from pathlib import Path

    from devenv import envfile
    from devenv.errors import EnvFileError, UsageError

    cfg = _config()
    for f in files or ():
        if not Path(f).is_file():
            raise UsageError(f"{f}: no such file", "name an existing env file")
    try:
        result = envfile.check_files(cfg, files or (), env_name=env)
    except EnvFileError as exc:
        if as_json:
            _json_error(exc)
        raise
    if as_json:
        _json(result.as_dict())
    else:
        for p in result.problems:
            typer.echo(str(p))
        for note in result.notes:
            typer.echo(f"note: {note}", err=True)
        where = ", ".join(result.files) or "(no env file found)"
        against = f" against {result.schema}" if result.schema else ""
        if result.ok:
            typer.echo(f"ok: {where}{against} ({result.keys} keys)")
        else:
            n = len(result.problems)
            typer.echo(f"{n} problem{'s' if n > 1 else ''} in {where}{against}", err=True)
    if not result.ok:
        raise typer.Exit(1)


@env_app.command("init")
def init(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; write nothing."),
    no_stack: bool = typer.Option(
        False, "--no-stack", help="Do not ask the running stack; use the schema's defaults only."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
) -> None:
    """Write .env from the schema's defaults and the running stack's URLs and keys, never
    overwriting a value you set."""
    from devenv import envfile
    from devenv.cli.context import stack as stack_of
    from devenv.envfile.problems import redact
    from devenv.errors import EngineError, StackError

    handle = stack_of(ctx)
    cfg = handle.cfg
    stack: dict[str, str] = {}
    if not no_stack:
        try:
            stack = handle.env_values(public_aliases=True)
        except (StackError, EngineError) as exc:
            # Same error, one more way out: nothing it carries is dropped.
            exc.hint = (
                f"{exc.hint + '; ' if exc.hint else ''}or pass --no-stack to write the schema's "
                "defaults only"
            )
            raise
    plan = envfile.init_plan(cfg, stack)
    written = False if dry_run else envfile.apply_init(plan)
    secrets = [v for c in plan.changes if c.sensitive and c.value for v in (c.value,)]
    secrets += [
        v for k, v in stack.items() if any(c.key == k and c.sensitive for c in plan.changes)
    ]
    if as_json:
        data = plan.as_dict()
        data["dry_run"] = dry_run
        data["written"] = written
        _json(data)
        return
    from devenv.envfile.project_files import display

    name = display(plan.path)
    shown = [c for c in plan.changes if c.action != "keep" or c.note]
    if not plan.changed:
        typer.echo(f"{name} is up to date: nothing to add")
    else:
        typer.echo(
            f"{'would update' if dry_run else 'updated'} {name}:"
            if plan.existed
            else f"{'would create' if dry_run else 'created'} {name}:"
        )
    for c in shown:
        typer.echo("  " + redact(c.describe(), secrets))
    kept = sum(1 for c in plan.changes if c.action == "keep")
    if kept:
        typer.echo(f"  {kept} key{'s' if kept > 1 else ''} already set, left as they are")
    needs = plan.needs_value
    if needs:
        typer.echo(f"needs a value from you: {', '.join(needs)}", err=True)


@env_app.command("diff")
def diff(
    env: str = typer.Option(None, "--env", help="The current environment (.env.{env} files)."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """Compare keys of the schema, the env files and .env.example, both ways (exit 1 on any
    difference)."""
    from devenv import envfile
    from devenv.errors import EnvFileError

    cfg = _config()
    try:
        result = envfile.diff_project(cfg, env_name=env)
    except EnvFileError as exc:
        if as_json:
            _json_error(exc)
        raise
    if as_json:
        _json(result.as_dict())
    else:
        env_name = ", ".join(result.env_files) or "(no env file)"
        if result.rows:
            width = max(len(r.key) for r in result.rows) + 2
            ew = max(len(env_name), 6) + 2
            typer.echo(f"{'key':<{width}}{'schema':<10}{env_name:<{ew}}{result.example}")
            for r in result.rows:
                env_col = "yes" if r.env else "-"
                ex_col = "yes" if r.example else "-"
                typer.echo(f"{r.key:<{width}}{r.schema:<10}{env_col:<{ew}}{ex_col}")
        if not result.example_exists:
            typer.echo(f"{result.example} does not exist: run `devenv env example`")
        elif result.example_stale:
            typer.echo(
                f"{result.example} is out of date with {result.schema}: run `devenv env example`"
            )
        if result.ok:
            typer.echo(f"no differences between {result.schema}, {env_name} and {result.example}")
    if not result.ok:
        raise typer.Exit(1)


@env_app.command("example")
def example(
    check_only: bool = typer.Option(
        False, "--check", help="Write nothing; exit 1 if .env.example is out of date (for CI)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Regenerate .env.example from the schema (sensitive values blank, examples kept)."""
    from devenv.envfile import project_files as project

    cfg = _config()
    if check_only:
        path, want, have = project.example_text(cfg)
        stale = have != want
        if as_json:
            _json({"path": project.display(path), "stale": stale, "written": False})
        else:
            name = project.display(path)
            typer.echo(
                f"{name} is out of date: run `devenv env example`"
                if stale
                else f"{name} is up to date"
            )
        if stale:
            raise typer.Exit(1)
        return
    path, changed = project.write_example(cfg)
    if as_json:
        _json({"path": project.display(path), "stale": False, "written": changed})
    else:
        name = project.display(path)
        typer.echo(f"wrote {name}" if changed else f"{name} is up to date")

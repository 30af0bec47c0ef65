"""`devenv test ...`: run the project's tests against the stack.

`test db` runs pgTAP files (devenv.db.pgtap) as `supabase test db` does; `test contracts` joins
this group later. Heavy imports (psycopg) happen inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import typer

from devenv.cli.context import stack

test_app = typer.Typer(
    name="test",
    help="Run the project's tests against the stack.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    """Attach the `test` group to the root app."""
    app.add_typer(test_app, name="test")


@test_app.command("db")
def db(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(
        None,
        help="Test files or folders. Default: tests/db, or supabase/tests/database in an "
        "adopted Supabase project.",
    ),
    output: str = typer.Option("tap", "--output", "-o", help="tap (default) or json."),
    junit: Path = typer.Option(None, "--junit", help="Also write a JUnit XML report here."),
) -> None:
    """Run pgTAP tests against the stack's Postgres, each file in a transaction rolled back after.
    Exit 0 when all pass, 1 when any fails. DEVENV_DATABASE_URL points it at another database."""
    import json

    from devenv.db import pgtap
    from devenv.errors import UsageError

    if output not in ("tap", "json"):
        raise UsageError(f"--output {output!r} is not a format", "use tap or json")
    handle = stack(ctx)
    dsn = handle.database_url()  # DEVENV_DATABASE_URL, else the stack's Postgres
    result = pgtap.run(dsn, handle.cfg.root, list(paths) if paths else None)
    if junit is not None:
        try:
            junit.write_text(pgtap.junit(result), encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                f"--junit {junit}: cannot write: {exc.strerror}", "give a writable path"
            ) from None
    if output == "json":
        typer.echo(json.dumps(result.as_dict(), indent=2))
    else:
        typer.echo(pgtap.tap(result), nl=False)
    if not result.passed:
        raise typer.Exit(1)

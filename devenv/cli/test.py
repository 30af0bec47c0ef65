"""`devenv test ...`: run the project's tests against the stack.

`test db` runs pgTAP files (devenv.db.pgtap) as `supabase test db` does; `test contracts` joins
this group later. Heavy imports (psycopg) happen inside the commands.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

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

    from devenv import config
    from devenv.db import pgtap
    from devenv.errors import UsageError

    if output not in ("tap", "json"):
        raise UsageError(f"--output {output!r} is not a format", "use tap or json")
    cfg = config.load()
    dsn = os.environ.get("DEVENV_DATABASE_URL")
    if not dsn:
        from devenv.stack import api

        dsn = api.database_url(cfg)
    result = pgtap.run(dsn, cfg.root, list(paths) if paths else None)
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

"""`devenv test ...`: the project's tests against the stack.

`test db` runs pgTAP files (devenv.db.pgtap) as `supabase test db` does. `test contracts` runs the
contract suites against the stack or a given target.

With no target option the running stack's URLs and keys are used (from the Stack handle). With
``--env-file`` (an app's .env, e.g. for a hosted environment; names as ``devenv status -o env``
prints them) and/or the URL options, the suites run against that instead, and no project is
read. Keys can be given as options too, but an env file keeps them out of the process list and
the shell's history.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from devenv.cli.context import stack

test_app = typer.Typer(
    name="test",
    help="Run tests against the stack: pgTAP files, contract suites per service.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    """Attach the `test` group to the root app."""
    app.add_typer(test_app, name="test")


@test_app.command("contracts")
def contracts(
    ctx: typer.Context,
    services: list[str] = typer.Argument(
        None, help="Suites to run: postgres, gotrue, kong, redis, mail, fireworks (default: all)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the outcomes as JSON."),
    junit: Path = typer.Option(
        None, "--junit", help="Also write JUnit XML to FILE.", metavar="FILE"
    ),
    env_file: Path = typer.Option(
        None,
        "--env-file",
        help="Run against the URLs and keys in this env file (SUPABASE_URL, SUPABASE_ANON_KEY, "
        "SUPABASE_SERVICE_ROLE_KEY, SUPABASE_JWT_SECRET, GOTRUE_URL, DATABASE_URL, REDIS_URL, "
        "FIREWORKS_BASE_URL, FIREWORKS_API_KEY, MAILPIT_URL) instead of the local stack.",
    ),
    api_url: str = typer.Option(None, "--api-url", help="The gateway (SUPABASE_URL)."),
    gotrue_url: str = typer.Option(None, "--gotrue-url", help="GoTrue itself (GOTRUE_URL)."),
    redis_url: str = typer.Option(None, "--redis-url", help="Redis (REDIS_URL)."),
    fireworks_url: str = typer.Option(
        None, "--fireworks-url", help="Fireworks base URL (FIREWORKS_BASE_URL)."
    ),
    mail_url: str = typer.Option(
        None, "--mail-url", help="The mail catcher, Mailpit (MAILPIT_URL)."
    ),
    database_url: str = typer.Option(None, "--database-url", help="Postgres (DATABASE_URL)."),
    anon_key: str = typer.Option(None, "--anon-key", help="SUPABASE_ANON_KEY (prefer --env-file)."),
    service_role_key: str = typer.Option(
        None, "--service-role-key", help="SUPABASE_SERVICE_ROLE_KEY (prefer --env-file)."
    ),
    jwt_secret: str = typer.Option(
        None, "--jwt-secret", help="SUPABASE_JWT_SECRET (prefer --env-file)."
    ),
    fireworks_key: str = typer.Option(
        None, "--fireworks-key", help="FIREWORKS_API_KEY (prefer --env-file)."
    ),
) -> None:
    """Run the contract suites; exit 1 if any check fails."""
    from devenv.contracts import catalog, core, report
    from devenv.contracts.target import Target

    chosen = [cls.service for cls in catalog.select(services or [])]
    overrides = {
        "api_url": api_url,
        "gotrue_url": gotrue_url,
        "redis_url": redis_url,
        "fireworks_url": fireworks_url,
        "mail_url": mail_url,
        "database_url": database_url,
        "anon_key": anon_key,
        "service_role_key": service_role_key,
        "jwt_secret": jwt_secret,
        "fireworks_key": fireworks_key,
    }
    if env_file is not None:
        target = Target.from_env_file(env_file).with_values(overrides)
    elif any(overrides.values()):
        target = Target.from_env({}, label="the given URLs").with_values(overrides)
    else:
        handle = stack(ctx)
        if not handle.status().running_services:
            from devenv.errors import StackError

            raise StackError(
                f"the stack {handle.cfg.name!r} is not running",
                "start it with `devenv up`, or point the suites elsewhere with --env-file",
            )
        target = Target.from_stack(handle)

    live = not as_json and sys.stderr.isatty()

    def progress(o: core.Outcome) -> None:
        sys.stderr.write(f"\r\033[K{o.service}.{o.check}: {o.status}")
        sys.stderr.flush()

    t0 = time.perf_counter()
    outcomes = catalog.run(target, chosen, on_outcome=progress if live else None)
    elapsed = time.perf_counter() - t0
    if live:
        sys.stderr.write("\r\033[K")
    if junit is not None:
        report.write_junit(junit, outcomes, elapsed)
    if as_json:
        typer.echo(report.as_json(outcomes, elapsed, target.label))
    else:
        typer.echo(report.table(outcomes, elapsed, target.label))
    if any(o.status == core.FAIL for o in outcomes):
        raise typer.Exit(1)


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

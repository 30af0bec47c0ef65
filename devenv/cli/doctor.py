"""`devenv doctor [CHECK...] [--json]`: what is wrong with the engine, the project and the stack,
and how to fix it. Works outside a project and with a broken devenv.toml (itself a finding).

Every import beyond typer happens inside the command, so `devenv --help` stays fast."""

from __future__ import annotations

import time

import typer


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(
    ctx: typer.Context,
    checks: list[str] = typer.Argument(
        None,
        help="Groups (engine, project, stack, reach, ports) or check ids (engine.daemon). "
        "Default: all.",
        metavar="[CHECK]...",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
    list_: bool = typer.Option(False, "--list", help="List the checks and exit."),
) -> None:
    """Check the engine, the project, the stack and its reach; exit 1 if anything fails."""
    from devenv.doctor import catalog, core, render

    chosen = catalog.select(checks or [])
    if list_:
        for c in chosen:
            typer.echo(f"{c.id:<18} {c.title}")
        return
    t0 = time.perf_counter()
    # The doctor makes its own handle (not the invocation's): a broken devenv.toml or a corrupt
    # .devenv/ is a finding here, not the error that ends the command.
    findings = core.run(chosen, core.Context())
    elapsed = time.perf_counter() - t0
    typer.echo(render.as_json(findings, elapsed) if as_json else render.text(findings, elapsed))
    if any(f.status == core.FAIL for f in findings):
        raise typer.Exit(1)

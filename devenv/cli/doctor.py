"""`devenv doctor [CHECK...] [--json | -o json] [--list]`: what is wrong with the engine, the
project and the stack, and how to fix it. Works outside a project and with a broken devenv.toml
(itself a finding).

The command itself is devenv.doctor.command (the entry point runs it without Typer when the
arguments are plain); this is its Typer face: help, and errors worded as for every command.
Every import beyond typer happens inside the command, so `devenv --help` stays fast."""

from __future__ import annotations

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
    output: str = typer.Option(
        "text", "--output", "-o", help="text (default) or json (the same as --json)."
    ),
    list_: bool = typer.Option(False, "--list", help="List the checks and exit."),
) -> None:
    """Check the engine, the project, the stack and its reach; exit 1 if anything fails."""
    from devenv.doctor import command

    if output not in command.OUTPUTS:
        raise typer.BadParameter(f"{output!r} is not one of text, json", param_hint="'--output'")
    code = command.run(checks or [], as_json=as_json or output == "json", list_only=list_)
    if code:
        raise typer.Exit(code)

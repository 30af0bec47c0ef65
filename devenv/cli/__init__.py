"""The `devenv` command: a thin Typer layer over the library API, with the one error boundary.

Command modules parse arguments, call ``devenv.<subsystem>`` and render. They import only typer
at module level; docker, httpx, psycopg and rich are imported inside commands so that
``devenv --help`` and ``devenv --version`` stay fast.
"""

from __future__ import annotations

import typer

from devenv import __version__
from devenv.cli import stack as _stack
from devenv.cli.context import Invocation

app = typer.Typer(
    name="devenv",
    help="Local Supabase-style development stacks: Postgres, GoTrue, Kong, Redis, Fireworks mock, "
    "mail catcher.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"devenv {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Local Supabase-style development stacks."""
    # One Stack handle per invocation, made on first use (see devenv.cli.context).
    ctx.obj = Invocation()


_stack.register(app)


def _register_groups() -> None:
    # Each module only defines commands; the heavy work is imported inside them, so registering
    # every group keeps `devenv --help` fast.
    from devenv.cli import db, doctor, env, gc, init, mail, mock, test, ui

    for mod in (db, doctor, env, gc, init, mail, mock, test, ui):
        mod.register(app)


_register_groups()


def main() -> None:
    """Entry point: run the app inside the single error boundary (devenv.boundary)."""
    from devenv import boundary

    boundary.run(lambda: app(prog_name="devenv"))

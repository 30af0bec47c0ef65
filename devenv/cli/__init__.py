"""The `devenv` command: a thin Typer layer over the library API, with the one error boundary.

Command modules parse arguments, call ``devenv.<subsystem>`` and render. They import only typer
at module level; docker, httpx, psycopg and rich are imported inside commands so that
``devenv --help`` and ``devenv --version`` stay fast.
"""

from __future__ import annotations

import os
import sys

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


def _on_sigint(signum: int, frame: object) -> None:
    from devenv import interrupt

    interrupt.note()  # kept even where Python swallows the exception below (see interrupt)
    interrupt.check()


def main() -> None:
    """Entry point: run the app inside the single error boundary."""
    import signal

    from devenv.errors import DevenvError

    # Respect an inherited "ignore" (e.g. a background job), as Python itself does.
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _on_sigint)
    debug = os.environ.get("DEVENV_DEBUG") == "1"
    if not debug:
        # Libraries' own warnings (psycopg: "error ignored terminating <Copy>" after a lost
        # connection) would print beside the one line the boundary writes; DEVENV_DEBUG shows them.
        import logging

        logging.getLogger().addHandler(logging.NullHandler())
    try:
        try:
            app(prog_name="devenv")
        except SystemExit as done:
            from devenv import interrupt

            if done.code in (0, None) and interrupt.seen():
                interrupt.check()  # a Ctrl-C Python swallowed still ends the command as one
            raise
    except DevenvError as exc:
        if debug:
            raise
        sys.stderr.write(f"devenv: error: {exc.one_line()}\n")
        for line in exc.details():
            sys.stderr.write(f"  {line}\n")
        sys.exit(exc.exit_code)
    except Exception as exc:  # the boundary: anything unexpected is still one line
        if debug:
            raise
        sys.stderr.write(
            f"devenv: internal error: {type(exc).__name__}: {exc} "
            "(re-run with DEVENV_DEBUG=1 for a traceback and report it)\n"
        )
        sys.exit(1)

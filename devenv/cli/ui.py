"""`devenv ui`: the stack on a local page (services, the startup waterfall, logs, mail, the mock's
journal, data, the doctor). Parses, calls ``devenv.ui``; uvicorn and Starlette are imported
inside the command, so `devenv --help` stays fast."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from devenv.cli.context import stack

if TYPE_CHECKING:
    from devenv.stack.handle import Stack


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)


def ui(
    ctx: typer.Context,
    port: int = typer.Option(
        0, "--port", "-p", min=0, max=65535, help="Port (default: a free one)."
    ),
    no_open: bool = typer.Option(False, "--no-open", help="Do not open the page in a browser."),
) -> None:
    """Serve the stack on a local page (127.0.0.1 only) until Ctrl-C; the URL carries a token."""
    from devenv.ui.server import require_running

    handle = stack(ctx)
    require_running(handle)
    run(handle, port=port, open_browser=not no_open)


def run(handle: Stack, *, port: int = 0, open_browser: bool = True) -> None:
    """Serve ``handle``'s page in the foreground (also what `devenv up --ui` calls)."""
    from devenv.ui.server import serve

    def announce(url: str) -> None:
        typer.echo(f"devenv ui: {url}")
        sys.stderr.write("devenv: serving the page until Ctrl-C (only on 127.0.0.1)\n")
        sys.stdout.flush()

    serve(handle, port=port, open_browser=open_browser, announce=announce)

"""The one error boundary every `devenv` command runs inside: a DevenvError is one line on
stderr (what, where, what to do) and its exit code; anything unexpected is one line too;
DEVENV_DEBUG=1 shows the traceback instead. Typer-free, so the entry point's fast paths
(devenv._entry) end exactly as the Typer app does."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import NoReturn


def _on_sigint(signum: int, frame: object) -> None:
    from devenv import interrupt

    interrupt.note()  # kept even where Python swallows the exception below (see interrupt)
    interrupt.check()


def run(command: Callable[[], object]) -> NoReturn:
    """Run ``command`` (which ends by returning or by SystemExit) and exit as devenv exits."""
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
            command()
        except SystemExit as done:
            from devenv import interrupt

            if done.code in (0, None) and interrupt.seen():
                interrupt.check()  # a Ctrl-C Python swallowed still ends the command as one
            raise
        from devenv import interrupt

        if interrupt.seen():
            interrupt.check()
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
    sys.exit(0)

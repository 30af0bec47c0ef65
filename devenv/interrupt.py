"""Ctrl-C that is never lost.

The CLI's SIGINT handler raises :class:`~devenv.errors.Interrupted` where the main thread happens
to be. Python swallows an exception raised inside some callbacks (a weakref callback of the
import system, a ``__del__``: "Exception ignored in ..."), so a Ctrl-C early in `devenv up`,
while modules are still being imported, could vanish and `up` would run to the end. The handler
therefore also sets a flag, and every wait loop calls :func:`check`, which raises again if an
interrupt was seen: the command stops at the next poll at the latest.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

_seen = threading.Event()


def note() -> None:
    """Record an interrupt (called from the SIGINT handler)."""
    _seen.set()


def seen() -> bool:
    return _seen.is_set()


def check() -> None:
    """Raise Interrupted if an interrupt was seen and perhaps swallowed."""
    if _seen.is_set():
        from devenv.errors import Interrupted

        raise Interrupted("interrupted", "every step is idempotent: run the same command again")


@contextlib.contextmanager
def watching() -> Iterator[None]:
    """For library callers (``ephemeral_stack``, the pytest plugin), which run without the CLI's
    handler: while the block runs, a Ctrl-C is recorded as well as raised, so one that Python
    swallows (raised inside a ``__del__`` or a weakref callback) is raised again by the next
    :func:`check` instead of letting a stack start run to its end. Outside the main thread, or
    where the program has its own SIGINT handler, it changes nothing."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        note()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
        check()  # one swallowed after the block's last poll
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _seen.clear()

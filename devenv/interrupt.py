"""Ctrl-C that is never lost.

The CLI's SIGINT handler raises :class:`~devenv.errors.Interrupted` where the main thread happens
to be. Python swallows an exception raised inside some callbacks (a weakref callback of the
import system, a ``__del__``: "Exception ignored in ..."), so a Ctrl-C early in `devenv up`,
while modules are still being imported, could vanish and `up` would run to the end. The handler
therefore also sets a flag, and every wait loop calls :func:`check`, which raises again if an
interrupt was seen: the command stops at the next poll at the latest.
"""

from __future__ import annotations

import threading

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

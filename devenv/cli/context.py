"""What one `devenv` invocation shares between its commands: the Stack handle.

The root callback puts an :class:`Invocation` on the Typer context (hatch's Application is the
model); commands take ``ctx`` and call :func:`stack`. The handle is made on first use, so
commands that need no project (``--help``, ``mock fireworks``) never read devenv.toml, and a
broken devenv.toml is reported by the first command that needs it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from devenv.config import Config
    from devenv.stack.handle import Stack


class Invocation:
    def __init__(self) -> None:
        self._stack: Stack | None = None

    @property
    def stack(self) -> Stack:
        if self._stack is None:
            from devenv.stack.handle import Stack

            self._stack = Stack.load()
            self._stack.on_wait = _say
        return self._stack


def _say(line: str) -> None:
    sys.stderr.write(f"devenv: {line}\n")


def stack(ctx: typer.Context) -> Stack:
    """The invocation's Stack handle (made on first use)."""
    obj = ctx.find_root().obj
    if not isinstance(obj, Invocation):  # a command module invoked on its own, as in tests
        obj = Invocation()
        ctx.find_root().obj = obj
    return obj.stack


def config(ctx: typer.Context) -> Config:
    return stack(ctx).cfg

"""Ephemeral stacks for tests and CI: ``ephemeral_stack()`` from Python, and a pytest plugin
(``devenv.testing.plugin``, registered through the ``pytest11`` entry point) with the
``devenv_stack``, ``devenv_db`` and ``fireworks_mock`` fixtures.

This package is imported by pytest at start-up (the entry point names its plugin module), so it
imports nothing heavy: docker, psycopg, httpx and testcontainers are imported when a stack is
actually started. The names below resolve lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devenv.testing.ephemeral import StackStartError, ephemeral_stack
    from devenv.testing.handles import FireworksScope, TestDatabase, TestStack

__all__ = [
    "FireworksScope",
    "StackStartError",
    "TestDatabase",
    "TestStack",
    "ephemeral_stack",
]


def __getattr__(name: str) -> Any:
    if name in ("StackStartError", "ephemeral_stack"):
        from devenv.testing import ephemeral

        return getattr(ephemeral, name)
    if name in __all__:
        from devenv.testing import handles

        return getattr(handles, name)
    raise AttributeError(f"module 'devenv.testing' has no attribute {name!r}")

"""Stack commands: up, down, status, logs, restart."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the stack commands to the root app."""

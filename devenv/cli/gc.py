"""`devenv gc`: remove ephemeral stacks (test runs, CI jobs) whose owner process is gone.

Parses, calls ``devenv.stack.gc.collect``, renders. Needs no project: it works from the labels
on the engine, across every checkout.
"""

from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    """Attach `gc` to the root app."""
    app.command("gc")(gc)


def gc(
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Only list what would be removed."),
    prefix: str = typer.Option(
        "", "--prefix", help="Only stacks whose project name starts with this."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Remove ephemeral stacks (containers, networks, volumes) whose owner process is gone."""
    from devenv.stack import gc as gc_mod

    result = gc_mod.collect(dry_run=dry_run, prefix=prefix)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    verb = "would remove" if dry_run else "removed"
    for o in result.removed:
        typer.echo(
            f"{verb} {o.project} (owner {o.owner} is gone): {len(o.containers)} containers,"
            f" {len(o.networks)} networks, {len(o.volumes)} volumes"
        )
    for o in result.kept:
        typer.echo(f"kept {o.project}: owner {o.owner} {gc_mod.owner_state(o.owner, o.created)}")
    if not result.removed and not result.kept:
        typer.echo("no ephemeral stacks")

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
    caches: bool = typer.Option(
        False,
        "--caches",
        help="Also remove the cache of initialised Postgres clusters (made again when needed).",
    ),
    kept: bool = typer.Option(
        False,
        "--kept",
        help="Also remove this machine's kept test stacks (pytest --devenv-keep) no run is using.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Remove ephemeral stacks (containers, networks, volumes) whose owner process is gone."""
    from devenv.stack import gc as gc_mod

    result = gc_mod.collect(dry_run=dry_run, prefix=prefix)
    cache_note = gc_mod.remove_caches(dry_run=dry_run) if caches else ""
    kept_gone: list[str] = []
    if kept:
        from devenv.testing import kept as kept_mod

        kept_gone = kept_mod.remove_unused(dry_run=dry_run)
        result.kept = [o for o in result.kept if o.project not in kept_gone]
    if as_json:
        out = result.as_dict()
        if caches:
            out["caches"] = cache_note
        if kept:
            out["kept_stacks_removed"] = kept_gone
        typer.echo(json.dumps(out, indent=2))
        return
    if cache_note:
        typer.echo(cache_note)
    verb = "would remove" if dry_run else "removed"
    for name in kept_gone:
        typer.echo(f"{verb} the kept test stack {name}")
    for o in result.removed:
        typer.echo(
            f"{verb} {o.project} (owner {o.owner} is gone): {len(o.containers)} containers,"
            f" {len(o.networks)} networks, {len(o.volumes)} volumes"
        )
    for o in result.kept:
        state = gc_mod.owner_state(o.owner, o.created)
        if state == "kept":
            typer.echo(f"kept {o.project}: a kept test stack (`devenv gc --kept` removes it)")
        else:
            typer.echo(f"kept {o.project}: owner {o.owner} {state}")
    if not result.removed and not result.kept and not kept_gone:
        typer.echo("no ephemeral stacks")

"""`devenv init`: parse, call devenv.scaffold, render."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(
    directory: Path = typer.Argument(
        Path("."), help="The repository to set up (default: the current directory)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would be written; write nothing."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the plan (and what was done) as JSON."
    ),
) -> None:
    """Make this repository a devenv project (devenv.toml, a first migration, example seeds,
    .env.schema, a Fireworks stub), or adopt its Supabase CLI project. Never overwrites a file."""
    from devenv import scaffold

    p = scaffold.plan(directory)
    done = [] if dry_run else scaffold.apply(p)
    if as_json:
        data = p.as_dict()
        data["dry_run"] = dry_run
        data["written"] = [scaffold._rel(a.path, p.root) for a in done]
        typer.echo(json.dumps(data, indent=2))
        return
    verb = {"create": "would create", "append": "would append to"} if dry_run else {
        "create": "created", "append": "appended to"
    }  # fmt: skip
    a = p.adoption
    if a is not None:
        typer.echo(f"adopting the Supabase CLI project in {scaffold._rel(a.source, p.root)}:")
        for line in a.taken:
            typer.echo(f"  taken: {line}")
        for line in a.not_taken:
            typer.echo(f"  no counterpart: {line}")
    for act in p.actions:
        what = verb.get(act.action, "kept" if act.action == "keep" else "skipped")
        rel = scaffold._rel(act.path, p.root)
        typer.echo(f"{what:<16} {rel}" + (f"  ({act.why})" if act.why else ""))
    if dry_run:
        typer.echo("dry run: nothing written")
    elif not p.changes:
        typer.echo("nothing to do: this repository is set up already")
    else:
        typer.echo("next: `devenv up`, then `devenv env init` to write .env")

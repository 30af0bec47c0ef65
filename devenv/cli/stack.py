"""Stack commands: up, down, status, logs, restart. Parse, call the Stack handle, render."""

from __future__ import annotations

import json
from enum import StrEnum

import typer

from devenv.cli.context import stack
from devenv.up_command import err as _err
from devenv.up_command import print_status


class Output(StrEnum):
    table = "table"
    json = "json"
    env = "env"


def register(app: typer.Typer) -> None:
    """Attach the stack commands to the root app."""
    app.command("up")(up)
    app.command("down")(down)
    app.command("status")(status)
    app.command("logs")(logs)
    app.command("restart")(restart)


def up(
    ctx: typer.Context,
    services: list[str] = typer.Argument(None, help="Services to start (default: all enabled)."),
    no_seed: bool = typer.Option(False, "--no-seed", help="Do not load the default seed set."),
    timeout: float = typer.Option(180.0, "--timeout", help="Overall deadline in seconds."),
    show_secrets: bool = typer.Option(
        False, "--show-secrets", help="Print the service_role key, JWT secret and DB password."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the final status as JSON."),
    ui: bool = typer.Option(False, "--ui", help="Then serve `devenv ui` until Ctrl-C."),
    trace: bool = typer.Option(
        False,
        "--trace",
        help="Then draw where the time went: each service's phases, the data step.",
    ),
) -> None:
    """Start the stack, wait until it is really healthy, and print URLs and keys."""
    from devenv import up_command

    st = stack(ctx)
    opts = up_command.Options(
        no_seed=no_seed, show_secrets=show_secrets, as_json=as_json, trace=trace
    )
    up_command.run(st, services or (), opts, timeout)
    if ui:
        from devenv.cli.ui import run as run_ui

        run_ui(st)


def down(
    ctx: typer.Context,
    volumes: bool = typer.Option(
        False, "--volumes", "-v", help="Also delete the data volumes (Postgres, Redis)."
    ),
) -> None:
    """Stop the stack. Data survives unless --volumes."""
    handle = stack(ctx)
    removed = handle.down(volumes=volumes)
    what = "containers and data volumes" if volumes else "containers (data kept)"
    typer.echo(f"stopped {handle.cfg.name}: removed {len(removed)} {what}")


def status(
    ctx: typer.Context,
    output: Output = typer.Option(Output.table, "--output", "-o", help="table, json or env."),
    show_secrets: bool = typer.Option(False, "--show-secrets", help="Unmask secrets."),
) -> None:
    """Services, health, ports, URLs and keys. `-o env` prints lines for an app's .env."""
    handle = stack(ctx)
    if output is Output.env:
        values = handle.env_values()
    else:
        st = handle.status(show_secrets=show_secrets)
    if handle.keys_how == "recovered":
        _err(f"devenv: {handle.cfg.state_dir} was missing; keys recovered from the running stack")
    if output is Output.env:
        for key, value in values.items():
            typer.echo(f"{key}={value}")
        return
    if output is Output.json:
        typer.echo(json.dumps(st.as_dict(show_secrets), indent=2))
        return
    print_status(st, show_secrets)
    if not st.running or any(s.health == "unhealthy" for s in st.services):
        raise typer.Exit(1)


def logs(
    ctx: typer.Context,
    service: str = typer.Argument(None, help="One service (default: all)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep streaming."),
    tail: int = typer.Option(None, "--tail", "-n", help="Only the last N lines per service."),
) -> None:
    """Show service logs."""
    raise typer.Exit(stack(ctx).logs(service, follow=follow, tail=tail))


def restart(
    ctx: typer.Context,
    services: list[str] = typer.Argument(None, help="Services to restart (default: all enabled)."),
    timeout: float = typer.Option(120.0, "--timeout", help="Deadline for healthy, in seconds."),
) -> None:
    """Restart services and wait until they are healthy again."""
    st = stack(ctx).restart(services or (), timeout=timeout)
    print_status(st, False)

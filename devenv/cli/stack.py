"""Stack commands: up, down, status, logs, restart. Parse, call the Stack handle, render."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer

from devenv.cli.context import stack

if TYPE_CHECKING:
    from devenv.stack.model import ServiceState, Status


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
    from devenv.up import up as run_up

    st = stack(ctx)
    progress = _Progress(enabled=not as_json)
    try:
        outcome = run_up(
            st,
            services or (),
            seed=not no_seed,
            timeout=timeout,
            on_progress=progress.update,
            on_note=lambda text: _err(f"devenv: {text}"),
        )
    finally:
        progress.stop()
    result, after = outcome.stack, outcome.after
    if result.recovered_keys:
        _err(f"devenv: {st.cfg.state_dir} was missing; keys recovered from the running stack")
    for w in after.warnings() if after else []:
        _err(f"devenv: warning: {w}")
    if as_json:
        typer.echo(json.dumps(outcome.as_dict(show_secrets), indent=2))
        return
    _print_status(result.status, show_secrets)
    typer.echo("")
    for line in after.summary() if after else []:
        typer.echo(line)
    typer.echo(f"ready in {outcome.elapsed_s:.1f} s")
    if trace and result.status.trace is not None:
        from devenv.trace import render

        typer.echo("")
        for line in render(result.status.trace):
            typer.echo(line)
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
    _print_status(st, show_secrets)
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
    _print_status(st, False)


# ----------------------------------------------------------------------------------------------


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


class _Progress:
    """A live table (service, state, elapsed) on a terminal; one line per change otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.live: Any = None
        self.seen: dict[str, str] = {}
        self.tty = sys.stderr.isatty()

    def update(self, states: Mapping[str, ServiceState], elapsed: float) -> None:
        if not self.enabled:
            return
        if not self.tty:
            for name, st in states.items():
                if self.seen.get(name) != st.state:
                    self.seen[name] = st.state
                    _err(f"  {name:<10} {st.state:<10} {elapsed:5.1f}s")
            return
        from rich.console import Console
        from rich.live import Live
        from rich.table import Table

        table = Table(box=None, show_header=True, header_style="bold")
        table.add_column("service")
        table.add_column("state")
        table.add_column("elapsed", justify="right")
        for name, st in states.items():
            if self.seen.get(name) != st.state:
                self.seen[name] = st.state
            colour = {"healthy": "green", "unhealthy": "red", "exited": "red"}.get(
                st.state, "yellow"
            )
            table.add_row(name, f"[{colour}]{st.state}[/]", f"{elapsed:.1f}s")
        if self.live is None:
            self.live = Live(
                table, console=Console(stderr=True), refresh_per_second=8, transient=True
            )
            self.live.start()
        else:
            self.live.update(table)

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def _print_status(st: Status, show_secrets: bool) -> None:
    # Plain columns with click's styling rather than a rich table: rich's import alone would be a
    # tenth of a warm `devenv up`, and these lines are meant to be copied.
    rows = [("service", "state", "port", "url", "startup")]
    ok_flags = [True]
    for s in st.services:
        state = f"{s.state} ({s.health})" if s.health else s.state
        startup = f"{s.startup_s:.1f}s" if s.startup_s is not None else "-"
        rows.append((s.name, state, str(s.port), s.url, startup))
        ok_flags.append(s.state == "running" and s.health in ("healthy", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    typer.echo(typer.style(f"devenv stack {st.project}", bold=True))
    for i, (r, ok) in enumerate(zip(rows, ok_flags, strict=True)):
        cells = [
            c.rjust(w) if j == 4 else c.ljust(w)
            for j, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        if i == 0:
            typer.echo(typer.style("  ".join(cells).rstrip(), bold=True))
            continue
        cells[1] = typer.style(cells[1], fg="green" if ok else "red")
        typer.echo("  ".join(cells))
    keys = st.as_dict(show_secrets)["keys"]
    # The API URL and JWTs only mean something with the gateway or auth in the stack.
    if keys and {s.name for s in st.services} & {"kong", "gotrue"}:
        typer.echo("")
        typer.echo(f"API URL          {st.api_url}")
        typer.echo(f"anon key         {keys['anon_key']}")
        typer.echo(f"service_role key {keys['service_role_key']}")
        typer.echo(f"JWT secret       {keys['jwt_secret']}")
        if not show_secrets:
            typer.echo("(secrets masked: --show-secrets, or `devenv status -o env` for .env)")
    for s in st.services:
        if s.why:
            _err(f"devenv: {s.name} is unhealthy: {s.why} (`devenv doctor` says more)")

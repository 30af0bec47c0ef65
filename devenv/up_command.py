"""`devenv up` and the stack's status table without Typer: parse the plain forms, run the use case
(devenv.up), print.

A second `devenv up` on a running stack is meant to answer in under 0.2 s, and importing Typer
(with click) is a fifth of that. So the entry point (devenv._entry) hands `devenv up` here first;
whatever is not parsed plainly (``--help``, ``--ui``, a bad option, services, a value Typer would
check) goes on to Typer (devenv.cli.stack), which runs the same :func:`run`. The status table
is printed here for `up`, `status` and `restart` alike.

Not in devenv.cli: importing any module there imports the Typer app.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devenv.stack.handle import Stack
    from devenv.stack.model import ServiceState, Status

FLAGS = ("--no-seed", "--show-secrets", "--json", "--trace")


@dataclass(frozen=True)
class Options:
    no_seed: bool = False
    show_secrets: bool = False
    as_json: bool = False
    trace: bool = False


def parse(argv: Sequence[str]) -> Options | None:
    """`devenv up`'s arguments when they are only its plain flags, else None (Typer's)."""
    if any(a not in FLAGS for a in argv):
        return None
    return Options(
        no_seed="--no-seed" in argv,
        show_secrets="--show-secrets" in argv,
        as_json="--json" in argv,
        trace="--trace" in argv,
    )


def main(argv: Sequence[str]) -> None:
    """`devenv up ARGV` inside the CLI's error boundary; returns only when Typer must take it."""
    opts = parse(argv)
    if opts is None:
        return
    from devenv import boundary
    from devenv.stack.handle import Stack

    def command() -> None:
        st = Stack.load()
        st.on_wait = lambda line: err(f"devenv: {line}")
        run(st, (), opts)

    boundary.run(command)


def run(st: Stack, services: Sequence[str], opts: Options, timeout: float = 180.0) -> None:
    """Start the stack (devenv.up) and print what `devenv up` prints."""
    from devenv.up import up as run_up

    progress = Progress(enabled=not opts.as_json)
    try:
        outcome = run_up(
            st,
            services,
            seed=not opts.no_seed,
            timeout=timeout,
            on_progress=progress.update,
            on_note=lambda text: err(f"devenv: {text}"),
        )
    finally:
        progress.stop()
    result, after = outcome.stack, outcome.after
    if result.recovered_keys:
        err(f"devenv: {st.cfg.state_dir} was missing; keys recovered from the running stack")
    for w in after.warnings() if after else []:
        err(f"devenv: warning: {w}")
    if opts.as_json:
        out(json.dumps(outcome.as_dict(opts.show_secrets), indent=2))
        return
    print_status(result.status, opts.show_secrets)
    out("")
    for line in after.summary() if after else []:
        out(line)
    out(f"ready in {outcome.elapsed_s:.1f} s")
    if opts.trace and result.status.trace is not None:
        from devenv.trace import render

        out("")
        for line in render(result.status.trace):
            out(line)


def out(text: str) -> None:
    sys.stdout.write(text + "\n")


def err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _style(text: str, *, bold: bool = False, fg: str = "") -> str:
    """ANSI styling on a terminal only, as click's echo strips it elsewhere."""
    if not sys.stdout.isatty():
        return text
    codes = (["1"] if bold else []) + ([{"green": "32", "red": "31"}[fg]] if fg else [])
    return f"\x1b[{';'.join(codes)}m{text}\x1b[0m" if codes else text


def print_status(st: Status, show_secrets: bool) -> None:
    # Plain columns rather than a rich table: rich's import alone would be a tenth of a warm
    # `devenv up`, and these lines are meant to be copied.
    rows = [("service", "state", "port", "url", "startup")]
    ok_flags = [True]
    for s in st.services:
        state = f"{s.state} ({s.health})" if s.health else s.state
        startup = f"{s.startup_s:.1f}s" if s.startup_s is not None else "-"
        rows.append((s.name, state, str(s.port), s.url, startup))
        ok_flags.append(s.state == "running" and s.health in ("healthy", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out(_style(f"devenv stack {st.project}", bold=True))
    for i, (r, ok) in enumerate(zip(rows, ok_flags, strict=True)):
        cells = [
            c.rjust(w) if j == 4 else c.ljust(w)
            for j, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        if i == 0:
            out(_style("  ".join(cells).rstrip(), bold=True))
            continue
        cells[1] = _style(cells[1], fg="green" if ok else "red")
        out("  ".join(cells))
    keys = st.as_dict(show_secrets)["keys"]
    # The API URL and JWTs only mean something with the gateway or auth in the stack.
    if keys and {s.name for s in st.services} & {"kong", "gotrue"}:
        out("")
        out(f"API URL          {st.api_url}")
        out(f"anon key         {keys['anon_key']}")
        out(f"service_role key {keys['service_role_key']}")
        out(f"JWT secret       {keys['jwt_secret']}")
        if not show_secrets:
            out("(secrets masked: --show-secrets, or `devenv status -o env` for .env)")
    for s in st.services:
        if s.why:
            err(f"devenv: {s.name} is unhealthy: {s.why} (`devenv doctor` says more)")


class Progress:
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
                    err(f"  {name:<10} {st.state:<10} {elapsed:5.1f}s")
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

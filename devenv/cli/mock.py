"""`devenv mock fireworks`: run the Fireworks API mock outside Docker.

Parses options, calls ``devenv.mocks.fireworks.server.run``; the server code (uvicorn, orjson,
yaml) is imported inside the command so `devenv --help` stays fast.
"""

from __future__ import annotations

import typer

mock_app = typer.Typer(
    name="mock",
    help="Service mocks: run one outside Docker, or reload the stack's Fireworks stubs.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    """Attach the `mock` group to the root app."""
    app.add_typer(mock_app, name="mock")


@mock_app.command("fireworks")
def fireworks(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port to listen on."),
    stubs: str = typer.Option(
        None,
        "--stubs",
        envvar="DEVENV_FIREWORKS_STUBS",
        help="Directory of stub files (*.yaml, *.yml, *.json). Default: fixtures/fireworks "
        "in the current directory if it exists, else none.",
    ),
    keys: list[str] = typer.Option(
        None,
        "--keys",
        envvar="DEVENV_FIREWORKS_KEYS",
        help="API keys to accept (repeat, or separate with commas). Default: any non-empty key.",
    ),
    journal_size: int = typer.Option(
        1000, "--journal-size", min=1, help="Requests kept in the journal (a ring buffer)."
    ),
    latency_ms: int = typer.Option(0, "--latency-ms", min=0, help="Delay before every answer."),
    ttft_ms: int = typer.Option(0, "--ttft-ms", min=0, help="Streaming: time to first token."),
    chunk_delay_ms: int = typer.Option(
        0, "--chunk-delay-ms", min=0, help="Streaming: delay between chunks."
    ),
    retry_after_ms: int = typer.Option(
        50, "--retry-after-ms", min=0, help="retry-after-ms sent with injected 429s."
    ),
    log_level: str = typer.Option(
        "warning", "--log-level", help="uvicorn log level (debug, info, warning, error)."
    ),
) -> None:
    """Serve the Fireworks AI API mock (routes under /inference/v1 and /v1; control under
    /__devenv/). Runs until Ctrl-C or SIGTERM."""
    from pathlib import Path

    from devenv.errors import UsageError
    from devenv.mocks.fireworks.app import MockConfig, Timing
    from devenv.mocks.fireworks.server import run

    if log_level not in ("critical", "error", "warning", "info", "debug", "trace"):
        raise UsageError(
            f"--log-level {log_level!r} is not a log level",
            "use one of debug, info, warning, error",
        )
    key_set = None
    if keys:
        cleaned = [k.strip() for item in keys for k in item.split(",")]
        if not all(cleaned):
            raise UsageError("--keys: an empty key", "pass non-empty keys, or leave --keys out")
        key_set = frozenset(cleaned)
    if stubs is not None:
        stubs_dir: Path | None = Path(stubs)
    else:
        default = Path("fixtures/fireworks")
        stubs_dir = default if default.is_dir() else None
    config = MockConfig(
        keys=key_set,
        stubs_dir=stubs_dir,
        journal_size=journal_size,
        timing=Timing(
            latency_ms=latency_ms,
            ttft_ms=ttft_ms,
            chunk_delay_ms=chunk_delay_ms,
            retry_after_ms=retry_after_ms,
        ),
    )

    def announce(url: str) -> None:
        typer.echo(
            f"devenv: Fireworks mock on {url} (openai SDK base_url {url}/inference/v1, "
            f"fireworks-ai SDK base_url {url}; stubs: {stubs_dir or 'none'}; "
            f"keys: {'configured' if key_set else 'any non-empty'})",
            err=True,
        )

    run(config, host=host, port=port, log_level=log_level, announce=announce)


@mock_app.command("reload")
def reload(ctx: typer.Context) -> None:
    """Send the project's Fireworks stub files (fixtures/fireworks) to the running stack's mock:
    an edited stub takes effect without a restart. A bad file is refused with its file and line,
    and the mock keeps the stubs it had. `devenv up` does the same on every run."""
    from devenv import fireworks_stubs
    from devenv.cli.context import stack
    from devenv.errors import StackError
    from devenv.stack import project

    st = stack(ctx)
    if "fireworks" not in st.cfg.services:
        raise StackError(
            "the fireworks service is not enabled in this project",
            'add "fireworks" to [project] services in devenv.toml, then run `devenv up`',
        )
    folder = project.fireworks_stubs(st.cfg)
    n = fireworks_stubs.push_to(st, folder)
    where = folder.relative_to(st.cfg.root) if folder is not None else "no stub folder"
    typer.echo(f"fireworks: {n} stubs loaded from {where}")

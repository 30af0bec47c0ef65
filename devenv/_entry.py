"""The `devenv` executable's entry point: `--version` and `--help` without importing Typer.

Typer and click cost more than Python's own start-up, and `devenv --help` is what a new user runs
first (and shells run for completion). `--version` needs nothing; the top-level help is rendered
by the real Typer app once and kept in the user's cache, keyed by devenv's version, the CLI
modules' sizes and mtimes, the Python version and the terminal width, so any change to a command
renders it anew. Everything else goes straight to the Typer app (devenv.cli.main).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HELP_ARGS = (["--help"], ["-h"])


def _cache_file() -> Path:
    import hashlib
    import shutil

    from devenv import __version__

    cli = Path(__file__).resolve().parent / "cli"
    h = hashlib.sha256(f"{__version__}\0{sys.version}".encode())
    for f in sorted(cli.glob("*.py")):
        st = f.stat()
        h.update(f"\0{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    h.update(f"\0{shutil.get_terminal_size().columns}".encode())
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "devenv"
    return base / f"help-{h.hexdigest()[:16]}.txt"


def render_help() -> str:
    """The top-level help exactly as the Typer app prints it."""
    import typer

    from devenv.cli import app

    cmd = typer.main.get_command(app)
    # The command's own context class (Typer vendors its click): the same one `devenv --help`
    # builds, with the same settings (-h, --help).
    with cmd.context_class(cmd, info_name="devenv", **cmd.context_settings) as ctx:
        return cmd.get_help(ctx) + "\n"


def _help() -> None:
    try:
        path = _cache_file()
        text = path.read_text(encoding="utf-8")
    except OSError:
        text = render_help()
        try:  # a cache that cannot be written (read-only home) only costs speed
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass
    sys.stdout.write(text)


def main() -> None:
    args = sys.argv[1:]
    if args == ["--version"]:
        from devenv import __version__

        sys.stdout.write(f"devenv {__version__}\n")
        return
    if args in HELP_ARGS:
        _help()
        return
    if args[:1] == ["doctor"]:
        # The doctor without Typer (whose import alone costs 4x `docker info`); anything it does
        # not parse plainly (--help, a bad option, an unknown check) falls through to Typer.
        from devenv.doctor.command import main as doctor

        code = doctor(args[1:])
        if code is not None:
            sys.exit(code)
    if args[:1] == ["up"]:
        # The plain forms of `devenv up` without Typer: a second `up` on a running stack
        # answers in about the time Typer's import takes (devenv.up_command).
        from devenv.up_command import main as up

        up(args[1:])  # exits, unless Typer has to parse these arguments
    try:
        from devenv.cli import main as cli_main
    except KeyboardInterrupt:
        # Ctrl-C before the CLI (and its SIGINT handling) is even loaded, as on a busy machine:
        # the same quiet exit code as a Ctrl-C anywhere else, with nothing started.
        sys.stderr.write("devenv: interrupted\n")
        raise SystemExit(130) from None
    cli_main()

"""The `devenv doctor` command without Typer: parse its arguments, run the checks, print.

Typer (with click, and pydantic, which it validates parameters with) costs about 0.25 s of CPU
before a command runs: three times what `docker info` takes in all, while `devenv doctor
engine` is meant to answer about as fast as `docker info`. So `devenv doctor ...` is meant to
reach :func:`main` straight from the entry point (devenv._entry), before Typer is imported;
whatever it does not parse plainly (``--help``, an option Typer would reject, an unknown check)
goes on to Typer (devenv.cli.doctor), which parses and reports it as for every other command,
and runs the same :func:`run`.

Not in devenv.cli: importing any module there imports the Typer app.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

OUTPUTS = ("text", "json")


def run(checks: Sequence[str], *, as_json: bool = False, list_only: bool = False) -> int:
    """Select ``checks``, run them, print the findings; the exit code (1 if any fails). Raises
    UsageError for a name that is no check."""
    from devenv.doctor import catalog, core, render

    chosen = catalog.select(checks)
    if list_only:
        for c in chosen:
            sys.stdout.write(f"{c.id:<18} {c.title}\n")
        return 0
    t0 = time.perf_counter()
    # The doctor makes its own handle (not the invocation's): a broken devenv.toml or a corrupt
    # .devenv/ is a finding here, not the error that ends the command.
    findings = core.run(chosen, core.Context())
    elapsed = time.perf_counter() - t0
    text = render.as_json(findings, elapsed) if as_json else render.text(findings, elapsed)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return 1 if any(f.status == core.FAIL for f in findings) else 0


def parse(argv: Sequence[str]) -> tuple[list[str], bool, bool] | None:
    """``devenv doctor``'s arguments as (checks, as_json, list_only), or None when Typer has to
    parse them (help, an option it would reject, a value it would report)."""
    checks: list[str] = []
    as_json = list_only = False
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            checks.extend(args[i:])
            break
        if arg == "--json":
            as_json = True
        elif arg == "--list":
            list_only = True
        elif arg in ("-o", "--output") or arg.startswith(("--output=", "-o")):
            if arg in ("-o", "--output"):
                if i >= len(args):
                    return None
                value, i = args[i], i + 1
            else:
                value = arg.split("=", 1)[1] if arg.startswith("--output=") else arg[2:]
            if value not in OUTPUTS:
                return None
            as_json = as_json or value == "json"
        elif arg.startswith("-"):
            return None
        else:
            checks.append(arg)
    return checks, as_json, list_only


def main(argv: Sequence[str]) -> int | None:
    """`devenv doctor ARGV` without Typer: the exit code, or None when Typer must take it."""
    parsed = parse(argv)
    if parsed is None:
        return None
    from devenv.errors import UsageError

    checks, as_json, list_only = parsed
    try:
        return run(checks, as_json=as_json, list_only=list_only)
    except UsageError:
        return None  # Typer's run says it, through the CLI's one error boundary
    except KeyboardInterrupt:
        # As the CLI ends on a Ctrl-C: one line, 130. The checks only read, so nothing is left
        # half done (their threads are daemons and end with the process).
        sys.stderr.write("devenv: interrupted\n")
        return 130

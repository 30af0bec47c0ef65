"""The app's own migration tool (``[db] migrate``): Prisma's ``migrate deploy``, Alembic's
``upgrade head``, dbmate's ``up``... run in place of devenv's SQL runner by ``up``,
``db migrate`` and ``db reset``.

The command runs from the project root, without a shell, with ``DATABASE_URL`` (the stack's
superuser DSN) added to its environment — never on its command line, where any local user could
read it in the process list. A failure is reported like a failing migration: one line naming the
command and its exit code, with the tool's last lines (its own error) under it; the database URL's
password is masked in them should the tool print it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psycopg import conninfo

from devenv.db.migrations import MigrationError

#: Lines of the tool's output kept for the report.
TAIL_LINES = 12


@dataclass
class ToolResult:
    """What `[db] migrate` did: the command, how long it took and its last lines of output."""

    command: tuple[str, ...]
    duration_s: float = 0.0
    output: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tool": shlex.join(self.command),
            "duration_s": round(self.duration_s, 3),
            "output": self.output,
        }

    def summary(self) -> str:
        return f"migrations: `{shlex.join(self.command)}` ran in {self.duration_s:.1f} s"


class ToolFailed(MigrationError):
    """``[db] migrate`` exited non-zero (or could not start); its last lines are the details."""

    def __init__(self, message: str, hint: str, lines: Sequence[str]):
        super().__init__(message, hint)
        self.lines = list(lines)

    def details(self) -> Sequence[str]:
        return self.lines


def _mask(text: str, dsn: str) -> str:
    try:
        password = str(conninfo.conninfo_to_dict(dsn).get("password") or "")
    except Exception:  # an unparsable DSN has no password to find
        return text
    return text.replace(password, "***") if len(password) >= 4 else text


def run(
    command: Sequence[str],
    dsn: str,
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 900.0,
) -> ToolResult:
    """Run the migration tool once with DATABASE_URL=``dsn``; raise ToolFailed on failure."""
    shown = shlex.join(command)
    where = "[db] migrate"
    base = dict(os.environ if env is None else env)
    base["DATABASE_URL"] = dsn
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            list(command),
            cwd=cwd,
            env=base,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise ToolFailed(
            f"{where}: `{shown}`: {command[0]!r} not found (looked on PATH from {cwd})",
            "install the tool, or fix [db] migrate in devenv.toml",
            [],
        ) from None
    except PermissionError:
        raise ToolFailed(
            f"{where}: `{shown}`: {command[0]!r} is not executable",
            "fix its permissions, or [db] migrate in devenv.toml",
            [],
        ) from None
    except subprocess.TimeoutExpired as exc:
        out = exc.output if isinstance(exc.output, str) else ""
        raise ToolFailed(
            f"{where}: `{shown}` still ran after {timeout:.0f} s and was stopped",
            "is it waiting for input or for another database? run it by hand to see",
            _tail(_mask(out, dsn)),
        ) from None
    lines = _tail(_mask(proc.stdout or "", dsn))
    if proc.returncode != 0:
        last = lines[-1] if lines else "no output"
        raise ToolFailed(
            f"{where}: `{shown}` failed (exit {proc.returncode}): {last}",
            "fix the migration; the tool's last lines are below",
            lines,
        )
    return ToolResult(tuple(command), time.perf_counter() - t0, lines)


def _tail(text: str) -> list[str]:
    return [ln.rstrip() for ln in text.strip().splitlines() if ln.strip()][-TAIL_LINES:]

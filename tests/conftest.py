"""Shared test policy.

Engine tests (everything under tests/integration/, marked ``engine``) need a Docker engine, compose
v2 and the stack's images. On a laptop without them they skip with the reason; in CI (CI=true)
that is a failure, never a skip. The one skip CI allows is GoTrue's, with the hermetic harness's
exact reason when the GoTrue module cannot be had on the machine (see tests/hermetic/setup).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REPO = Path(__file__).resolve().parent.parent


def unavailable(reason: str) -> None:
    """Skip locally; fail in CI."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def run_cli(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run the real `devenv` entry point in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("DEVENV_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "devenv", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"devenv {' '.join(args)} exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc

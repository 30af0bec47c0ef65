"""Reference implementations from the npm registry (whatever registry npm is configured with),
installed once per version into ~/.cache/devenv-tests/ and shared by test runs and xdist
workers. Without Node and npm a test using one skips locally and fails in CI."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import unavailable


def installed(package: str, folder: str, marker: str) -> Path:
    """The folder ``~/.cache/devenv-tests/<folder>`` holding ``package`` (``name@version``),
    installed on first use; ``marker`` (a path inside it) says the install is complete."""
    if shutil.which("node") is None or (npm := shutil.which("npm")) is None:
        unavailable(f"node and npm are needed to run {package}")
        raise AssertionError("unreachable")  # unavailable() skips or fails
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    root = Path(base) / "devenv-tests" / folder
    if not (root / marker).is_file():
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root.parent, prefix=".install-"))
        proc = subprocess.run(
            [npm, "install", "--prefix", str(tmp), "--no-audit", "--no-fund", package],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            pytest.fail(f"npm install {package} failed: {proc.stderr.strip()[-2000:]}")
        try:
            tmp.rename(root)
        except OSError:  # another run (an xdist worker) got there first
            shutil.rmtree(tmp, ignore_errors=True)
            if not (root / marker).is_file():
                raise
    return root

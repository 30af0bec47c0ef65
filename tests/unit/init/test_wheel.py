"""`pip install devenv-stack` then `devenv init` in another repository: the wheel carries the
templates, and init run from the unpacked wheel (not this checkout) writes a project that loads."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from devenv import config

REPO = Path(__file__).resolve().parents[3]


def test_init_from_the_built_wheel(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = out.glob("devenv_stack-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        z.extractall(site)
    for t in ("devenv.toml", "env.schema", "first_migration.sql", "auth.users.yaml"):
        assert f"devenv/_templates/{t}" in names
    assert not any(n.startswith("tests/") for n in names)
    app = tmp_path / "app"
    app.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    r = subprocess.run(
        [sys.executable, "-c", "import devenv, sys; sys.argv[0] = 'devenv'; "
         "print(devenv.__file__); from devenv.cli import main; sys.argv[1:] = ['init']; main()"],
        cwd=app, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith(str(site))  # the wheel's code, not this checkout
    assert "created          devenv.toml" in r.stdout
    assert config.load(app).source == app / "devenv.toml"

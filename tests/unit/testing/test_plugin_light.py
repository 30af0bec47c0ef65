"""The plugin costs nothing when unused: importing it pulls in no engine or database client, and
a session that asks for no fixture starts nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from tests.conftest import REPO

HEAVY = ("docker", "psycopg", "httpx", "testcontainers", "redis")


def plugin_args() -> list[str]:
    names = {ep.name for ep in metadata.entry_points(group="pytest11")}
    return [] if "devenv" in names else ["-p", "devenv.testing.plugin"]


def _env() -> dict[str, str]:
    env = {**os.environ}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("PYTEST_ADDOPTS", None)
    return env


def test_importing_the_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys, devenv.testing, devenv.testing.plugin;"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_a_session_without_the_fixtures_starts_nothing(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text(
        textwrap.dedent(
            """
            import sys

            def test_plain():
                assert not [m for m in ("docker", "psycopg", "testcontainers") if m in sys.modules]
            """
        )
    )
    # DOCKER_HOST points nowhere: had the plugin touched the engine, the run would fail.
    env = {**_env(), "DOCKER_HOST": "unix:///nonexistent.sock"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *plugin_args(), "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
    assert "devenv:" not in proc.stdout


def test_options_and_marker_are_registered(tmp_path: Path) -> None:
    (tmp_path / "test_marked.py").write_text(
        "import pytest\n\n@pytest.mark.devenv(services=['redis'])\ndef test_m():\n    pass\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *plugin_args(), "-p", "no:cacheprovider", "--help"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
    )
    for opt in (
        "--devenv-reuse",
        "--devenv-keep",
        "--devenv-services",
        "--devenv-prefix",
        "--devenv-no-gc",
    ):
        assert opt in proc.stdout
    # --strict-markers: the marker is known, so the marked test runs.
    argv = [sys.executable, "-m", "pytest", *plugin_args(), "-p", "no:cacheprovider"]
    proc = subprocess.run(
        [*argv, "-q", "--strict-markers"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("ini", "ci", "flag", "kept"),
    [
        ("", "", False, False),
        ("", "", True, True),
        ("devenv_keep = true", "", False, True),
        ("devenv_keep = true", "true", False, False),  # the ini key is for developers' machines
        ("devenv_keep = true", "true", True, True),  # the flag is asked for here and now
    ],
)
def test_keep_from_the_flag_or_the_ini_key_off_ci(
    tmp_path: Path, ini: str, ci: str, flag: bool, kept: bool
) -> None:
    (tmp_path / "pytest.ini").write_text(f"[pytest]\n{ini}\n")
    (tmp_path / "test_keep.py").write_text(
        "from devenv.testing import plugin\n\n"
        "def test_keep(request):\n"
        "    print('KEEP', plugin._keep(request.config))\n"
    )
    env = {k: v for k, v in _env().items() if k != "CI"} | ({"CI": ci} if ci else {})
    argv = [sys.executable, "-m", "pytest", *plugin_args(), "-p", "no:cacheprovider", "-s", "-q"]
    proc = subprocess.run(
        [*argv, *(["--devenv-keep"] if flag else [])],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"KEEP {kept}" in proc.stdout

"""`devenv up` without Typer (devenv.up_command): the entry point runs its plain forms itself,
inside the CLI's one error boundary, and hands everything else to Typer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devenv.up_command import Options, parse
from tests.conftest import run_cli

#: `python -m devenv ARGS`, saying at exit whether Typer was imported.
PROBE = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write('typer:%s\\n' % ('typer' in sys.modules)))\n"
    "sys.argv = ['devenv', *sys.argv[1:]]\n"
    "from devenv._entry import main\n"
    "main()\n"
)


def entry(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": f"unix://{cwd}/none.sock"}
    env.pop("DEVENV_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("argv", "parsed"),
    [
        ([], Options()),
        (["--no-seed", "--json"], Options(no_seed=True, as_json=True)),
        (["--trace", "--show-secrets"], Options(show_secrets=True, trace=True)),
        (["postgres"], None),
        (["--ui"], None),
        (["--timeout", "5"], None),
        (["--help"], None),
        (["--jsn"], None),
    ],
)
def test_plain_forms_are_parsed_without_typer(argv: list[str], parsed: Options | None) -> None:
    assert parse(argv) == parsed


def test_errors_end_as_the_typer_app_ends_them(tmp_path: Path) -> None:
    (tmp_path / "devenv.toml").write_text("[project\nname = 'x'\n")
    plain = entry("up", cwd=tmp_path)
    typed = run_cli(
        "up", "--timeout", "5", cwd=tmp_path, env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"}
    )
    assert plain.returncode == 2 and "typer:False" in plain.stderr
    line = plain.stderr.splitlines()[0]
    assert line.startswith("devenv: error: ") and "devenv.toml" in line
    # The same one line as the Typer command's, which parsed --timeout itself.
    assert typed.returncode == 2 and typed.stderr.splitlines()[0] == line


def test_what_it_does_not_parse_is_typers(tmp_path: Path) -> None:
    bad = entry("up", "--jsn", cwd=tmp_path)
    assert bad.returncode == 2 and "No such option: --jsn" in bad.stderr
    assert "typer:True" in bad.stderr
    helped = entry("up", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "--no-seed" in helped.stdout

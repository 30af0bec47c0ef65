"""The CLI shell: fast start (heavy imports stay lazy), one error boundary, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import run_cli

HEAVY = ("docker", "httpx", "psycopg", "rich", "starlette", "uvicorn", "jwt", "psutil")


def test_help_and_version_import_nothing_heavy() -> None:
    code = (
        "import sys; import devenv.cli as c\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported at start-up: {out.stdout.strip()}"


def test_version(tmp_path: Path) -> None:
    proc = run_cli("--version", cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.startswith("devenv ")


def test_help_lists_the_commands(tmp_path: Path) -> None:
    proc = run_cli("--help", cwd=tmp_path)
    assert proc.returncode == 0
    for cmd in ("up", "down", "status", "logs", "restart"):
        assert cmd in proc.stdout


def test_config_error_is_one_clear_block_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "devenv.toml").write_text("[project\n")
    proc = run_cli("status", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("devenv: error: ")
    assert "devenv.toml" in proc.stderr and "line 1" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_service_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_cli("up", "kafka", cwd=tmp_path)
    assert proc.returncode == 2
    assert "unknown service 'kafka'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_engine_not_running(tmp_path: Path) -> None:
    sock = tmp_path / "no-engine.sock"
    proc = run_cli("status", cwd=tmp_path, env={"DOCKER_HOST": f"unix://{sock}"})
    assert proc.returncode == 1
    assert "Docker engine is not running or not reachable" in proc.stderr
    assert str(sock) in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_engine_socket_not_readable(tmp_path: Path) -> None:
    """A real socket we may not open: as root, drop the capabilities that bypass file modes."""
    import os
    import socket

    path = tmp_path / "engine.sock"
    with socket.socket(socket.AF_UNIX) as srv:
        srv.bind(str(path))
        srv.listen()
        os.chmod(path, 0o600)
        prefix: list[str] = []
        if os.geteuid() == 0:
            os.chown(path, 65534, 65534)  # owned by nobody: root without DAC override is "other"
            prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
        else:
            os.chmod(path, 0)
        proc = subprocess.run(
            [*prefix, sys.executable, "-m", "devenv", "status"],
            cwd=tmp_path,
            env={**os.environ, "DOCKER_HOST": f"unix://{path}"},
            capture_output=True,
            text=True,
        )
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"devenv: error: cannot read the Docker socket unix://{path}: permission denied "
        "(add your user to the `docker` group (then log in again) or run with sudo)"
    )


def test_help_fast_path_prints_exactly_what_typer_prints(tmp_path: Path) -> None:
    """`devenv --help` is served from a cache the real app rendered; it must never drift."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "COLUMNS": "100"}
    first = run_cli("--help", cwd=tmp_path, env=env)  # renders and caches
    second = run_cli("--help", cwd=tmp_path, env=env)  # from the cache
    real = subprocess.run(
        [sys.executable, "-c", "import sys; sys.argv=['devenv','--help']\n"
         "from devenv.cli import main\ntry: main()\nexcept SystemExit as e: sys.exit(e.code)"],
        capture_output=True, text=True, env={**__import__("os").environ, **env}, cwd=tmp_path,
    )  # fmt: skip
    assert real.returncode == 0 and real.stdout
    assert first.stdout == second.stdout == real.stdout
    assert len(list((tmp_path / "cache" / "devenv").glob("help-*.txt"))) == 1
    code = "import sys; import devenv._entry as e; sys.argv=['devenv','--help']; e.main()\n"
    code += f"heavy = [m for m in {(*HEAVY, 'typer', 'click')!r} if m in sys.modules]\n"
    code += "print(','.join(heavy), file=sys.stderr)"
    cached = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**__import__("os").environ, **env},
    )  # fmt: skip
    assert cached.stderr.strip() == "", f"imported for a cached --help: {cached.stderr}"

"""`devenv env ...` end to end through the real entry point: exit codes, --json, files written,
and no secret on stdout or stderr."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "fixtures" / "env"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "devenv.toml").write_text('[project]\nname = "envcli"\n')
    shutil.copy(REPO / ".env.schema", tmp_path / ".env.schema")
    return tmp_path


def test_check_clean_problems_and_json(project: Path) -> None:
    shutil.copy(FIXTURES / "good.env", project / ".env")
    proc = run_cli("env", "check", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok: .env against .env.schema (15 keys)"

    shutil.copy(FIXTURES / "many-problems.env", project / ".env")
    proc = run_cli("env", "check", cwd=project)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert len(lines) == 11 and lines[0].startswith(".env:1: APP_ENV: must be one of")
    assert "11 problems in .env against .env.schema" in proc.stderr
    proc = run_cli("env", "check", "--json", cwd=project)
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["ok"] is False and data["counts"]["type"] == 5
    assert {"file", "line", "key", "code", "message"} == set(data["problems"][0])
    for secret in ("not-a-jwt-but-very-secret-value-7731", "hunter2-db-password",
                   "sk_live_fixture_unknown_key_998877"):  # fmt: skip
        assert secret not in proc.stdout + proc.stderr


def test_check_named_files_in_cascade_order(project: Path) -> None:
    shutil.copy(FIXTURES / "good.env", project / "base.env")
    (project / "override.env").write_text("RATE_LIMIT_REQUESTS=many\n")
    proc = run_cli("env", "check", "base.env", "override.env", cwd=project)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0].startswith("override.env:1: RATE_LIMIT_REQUESTS: expected")
    proc = run_cli("env", "check", "nope.env", cwd=project)
    assert proc.returncode == 2 and "nope.env: no such file" in proc.stderr


def test_malformed_schema_exits_2_with_a_caret(project: Path) -> None:
    shutil.copy(FIXTURES / "bad-unknown-type.schema", project / ".env.schema")
    shutil.copy(FIXTURES / "good.env", project / ".env")
    proc = run_cli("env", "check", cwd=project)
    assert proc.returncode == 2
    err = proc.stderr.splitlines()
    assert err[0].startswith("devenv: error: .env.schema:4:19: unknown type 'strnig'")
    assert err[1:] == ["    # @required @type=strnig(minLength=3)", "    " + " " * 18 + "^"]
    assert "Traceback" not in proc.stderr
    proc = run_cli("env", "check", "--json", cwd=project)
    assert proc.returncode == 2
    data = json.loads(proc.stdout)
    assert data["ok"] is False and data["error"]["message"].startswith(".env.schema:4:19:")


def test_init_no_stack_dry_run_then_write(project: Path) -> None:
    proc = run_cli("env", "init", "--no-stack", "--dry-run", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("would create .env:")
    assert 'add   APP_ENV="development"  (the schema\'s default)' in proc.stdout
    assert "needs a value from you: SUPABASE_URL" in proc.stderr
    assert not (project / ".env").exists()
    proc = run_cli("env", "init", "--no-stack", "--json", cwd=project)
    data = json.loads(proc.stdout)
    assert data["written"] is True and data["exists"] is False
    assert (project / ".env").is_file()
    proc = run_cli("env", "init", "--no-stack", cwd=project)
    assert proc.stdout.startswith(".env is up to date: nothing to add")


def test_init_without_a_running_stack_says_what_to_do(project: Path) -> None:
    # No stack runs for this throwaway project: with or without a Docker engine on the machine,
    # init fails with one line that names the way out.
    proc = run_cli("env", "init", cwd=project, timeout=120)
    assert proc.returncode == 1
    assert "--no-stack" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (project / ".env").exists()


def test_example_and_diff(project: Path) -> None:
    proc = run_cli("env", "example", "--check", cwd=project)
    assert proc.returncode == 1 and "out of date" in proc.stdout
    proc = run_cli("env", "example", cwd=project)
    assert proc.returncode == 0 and proc.stdout.strip() == "wrote .env.example"
    assert (project / ".env.example").read_text() == (REPO / ".env.example").read_text()
    assert run_cli("env", "example", "--check", cwd=project).returncode == 0

    shutil.copy(FIXTURES / "good.env", project / ".env")
    proc = run_cli("env", "diff", cwd=project)
    assert proc.returncode == 0, proc.stdout
    with (project / ".env").open("a") as fh:
        fh.write("EXTRA=1\n")
    proc = run_cli("env", "diff", "--json", cwd=project)
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["not_in_schema"] == ["EXTRA"] and data["missing_from_example"] == []
    proc = run_cli("env", "diff", cwd=project)
    assert proc.stdout.splitlines()[1].split() == ["EXTRA", "-", "yes", "-"]


def test_help_lists_the_group() -> None:
    proc = run_cli("env", "--help", cwd=REPO)
    assert proc.returncode == 0
    for cmd in ("check", "init", "diff", "example"):
        assert cmd in proc.stdout

"""devenv doctor without a Docker engine: each bad input reported precisely, never a crash.

The engine is made unreachable with DOCKER_HOST pointing at a socket that does not exist (the
shared engine is never stopped); ports are held by real listening sockets."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devenv.doctor import catalog, core
from devenv.doctor.core import FAIL, OK, SKIP, Check, Context, Finding
from devenv.errors import UsageError
from tests.conftest import run_cli


def doctor(cwd: Path, *args: str, sock: Path | None = None) -> tuple[int, dict[str, dict]]:
    # No image overrides (the test command exports the harness's): devenv.toml decides.
    env = {"DOCKER_HOST": f"unix://{sock or cwd / 'no-engine.sock'}", "DEVENV_IMAGE_POSTGRES": ""}
    proc = run_cli("doctor", "--json", *args, cwd=cwd, env=env, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    data = json.loads(proc.stdout)
    return proc.returncode, {f["id"]: f for f in data["findings"]}


def test_engine_stopped(tmp_path: Path) -> None:
    rc, f = doctor(tmp_path)
    assert rc == 1
    daemon = f["engine.daemon"]
    assert daemon["status"] == FAIL
    assert "not running or not reachable" in daemon["summary"]
    assert str(tmp_path / "no-engine.sock") in daemon["summary"]
    assert "DOCKER_HOST" in daemon["fix"]
    # What needs the engine says so once, pointing at the finding that has the fix.
    for cid in ("engine.version", "engine.memory", "stack.health", "reach.api"):
        assert f[cid]["status"] == SKIP and "see engine.daemon" in f[cid]["summary"], cid
    # Outside a project: defaults, and that is fine.
    assert f["project.config"]["status"] == OK
    assert "no devenv.toml" in f["project.config"]["summary"]


def test_every_failure_names_a_fix(tmp_path: Path) -> None:
    (tmp_path / "devenv.toml").write_text('[project]\nname = "Bad Name"\n')
    _rc, f = doctor(tmp_path)
    for finding in f.values():
        if finding["status"] in ("fail", "warn"):
            assert finding["fix"], finding


def test_broken_devenv_toml(tmp_path: Path) -> None:
    (tmp_path / "devenv.toml").write_text('[project]\nname = "Bad Name"\n[ports]\nredis = 99999\n')
    rc, f = doctor(tmp_path)
    assert rc == 1
    cfg = f["project.config"]
    assert cfg["status"] == FAIL
    assert "2 problems" in cfg["summary"]
    assert "ports.redis: expected a port number 1-65535, got 99999" in cfg["detail"]
    assert cfg["fix"].startswith(f"edit {tmp_path / 'devenv.toml'}: project.name")
    assert f["stack.ports"]["status"] == SKIP
    assert "see project.config" in f["stack.ports"]["summary"]


def test_toml_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "devenv.toml").write_text("[project\n")
    rc, f = doctor(tmp_path, "project")
    assert rc == 1
    assert "not valid TOML" in f["project.config"]["summary"]
    assert "line 1" in f["project.config"]["summary"]
    assert set(f) == {
        "project.config",
        "project.state",
        "project.env",
        "project.git",
        "project.images",
    }


def test_corrupt_state_dir(tmp_path: Path) -> None:
    state = tmp_path / ".devenv"
    state.mkdir(mode=0o700)
    (state / ".gitignore").write_text("*\n")
    (state / "secrets.json").write_text('{"jwt_secret": "half a fi')
    os.chmod(state / "secrets.json", 0o600)
    rc, f = doctor(tmp_path, "project.state", "reach.api")
    assert rc == 1
    st = f["project.state"]
    assert st["status"] == FAIL
    assert "secrets.json: unreadable or incomplete" in st["summary"]
    assert st["fix"].startswith(f"rm {state / 'secrets.json'}")
    assert "half a fi" not in json.dumps(f)


def test_state_dir_readable_by_others(tmp_path: Path) -> None:
    state = tmp_path / ".devenv"
    state.mkdir()
    os.chmod(state, 0o755)
    _rc, f = doctor(tmp_path, "project.state")
    assert f["project.state"]["status"] == FAIL
    assert f["project.state"]["fix"] == f"chmod 700 {state}"


def test_state_dir_is_a_file(tmp_path: Path) -> None:
    (tmp_path / ".devenv").write_text("oops")
    _rc, f = doctor(tmp_path, "project.state")
    assert f["project.state"]["status"] == FAIL
    assert "is not a directory" in f["project.state"]["summary"]


@pytest.fixture
def held_port() -> Iterator[int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


def test_port_held_by_another_process(tmp_path: Path, held_port: int) -> None:
    (tmp_path / "devenv.toml").write_text(
        f'[project]\nservices = ["redis"]\n[ports]\nredis = {held_port}\n'
    )
    rc, f = doctor(tmp_path, "ports")  # the alias hints use
    assert rc == 1
    p = f["stack.ports"]
    assert p["status"] == FAIL
    assert f"port {held_port} (redis) is held by process" in p["summary"]
    assert f"(pid {os.getpid()})" in p["summary"]  # this test process holds it
    assert "under [ports] in devenv.toml" in p["fix"] and "`redis = " in p["fix"]


def test_env_tracked_by_git(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".env").write_text("A=1\n")
    subprocess.run(["git", "-C", str(tmp_path), "add", ".env"], check=True)
    _rc, f = doctor(tmp_path, "project.git")
    assert f["project.git"]["status"] == FAIL
    assert f["project.git"]["fix"].startswith("git rm --cached .env")


def test_env_problems_against_the_schema(tmp_path: Path) -> None:
    (tmp_path / ".env.schema").write_text("# @required @type=port\nPORT=\n")
    (tmp_path / ".env").write_text("PORT=not-a-port\n")
    _rc, f = doctor(tmp_path, "project.env")
    env = f["project.env"]
    assert env["status"] == "warn"
    assert "PORT" in env["detail"] and ".env:1" in env["detail"]


def test_text_output_is_grouped_with_symbols_and_a_summary(tmp_path: Path) -> None:
    proc = run_cli(
        "doctor",
        "engine",
        "project.config",
        cwd=tmp_path,
        env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock", "PYTHONIOENCODING": "utf-8"},
    )
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == "engine"
    assert any(line.startswith("  ✗ engine.daemon") for line in lines)
    assert any(line.strip().startswith("fix: start Docker") for line in lines)
    assert "project" in lines
    assert lines[-1].startswith("7 checks: ") and " 1 fail" in lines[-1]


def test_unknown_check_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_cli("doctor", "engin", cwd=tmp_path)
    assert proc.returncode == 2
    assert "no doctor check 'engin'" in proc.stderr
    with pytest.raises(UsageError):
        catalog.select(["stack.nope"])


def test_selection_by_group_id_and_alias() -> None:
    assert [c.id for c in catalog.select(["ports"])] == ["stack.ports"]
    assert [c.id for c in catalog.select(["engine.daemon"])] == ["engine.daemon"]
    engine = [c.id for c in catalog.select(["engine"])]
    assert engine[:2] == ["engine.cli", "engine.daemon"] and len(engine) == 6
    groups = {c.group for c in catalog.select([])}
    assert groups == {"engine", "project", "stack", "reach"}


def test_a_hanging_check_times_out_and_a_crashing_one_is_a_finding() -> None:
    def hang(ctx: Context) -> Finding:
        time.sleep(30)
        raise AssertionError("unreachable")

    def crash(ctx: Context) -> Finding:
        raise KeyError("surprise")

    def fine(ctx: Context) -> Finding:
        return Finding("t.fine", OK, "fine")

    checks = [
        Check("t.hang", "hangs", hang, 0.3),
        Check("t.crash", "crashes", crash, 1.0),
        Check("t.fine", "fine", fine, 1.0),
    ]
    t = time.monotonic()
    out = core.run(checks, Context(root=Path("/")))
    assert time.monotonic() - t < 2.0
    assert [f.id for f in out] == ["t.hang", "t.crash", "t.fine"]
    assert out[0].status == FAIL and "no answer within 0.3 s" in out[0].summary and out[0].fix
    assert out[1].status == FAIL and "KeyError" in out[1].summary
    assert out[2].status == OK


def test_every_doctor_hint_in_devenv_names_a_real_check() -> None:
    """Errors elsewhere say `devenv doctor X`; X must select checks here."""
    import re

    pkg = Path(__file__).resolve().parents[3] / "devenv"
    named = set()
    for path in pkg.rglob("*.py"):
        named.update(re.findall(r"devenv doctor ([a-z][a-z._]*)", path.read_text()))
    assert {"engine", "ports", "stack", "reach"} <= named
    for name in named:
        assert catalog.select([name]), name


@pytest.mark.parametrize("offset", [0, 90, -45])
def test_clock_skew_is_read_from_the_date_header(offset: int) -> None:
    import threading
    from email.utils import formatdate
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from devenv.doctor.checks import clock_skew

    class Skewed(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)  # sends Date from date_time_string below
            self.send_header("Content-Length", "0")
            self.end_headers()

        def date_time_string(self, timestamp: float | None = None) -> str:
            return formatdate(time.time() + offset, usegmt=True)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Skewed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        skew = clock_skew(f"http://127.0.0.1:{server.server_port}/health")
    finally:
        server.shutdown()
    assert skew is not None and abs(skew - offset) < 1.6


def test_extensions_missing_from_db_extensions_with_the_stack_down(tmp_path: Path) -> None:
    (tmp_path / "devenv.toml").write_text('[db]\nextensions = ["pg_cron"]\n')
    mig = tmp_path / "migrations"
    mig.mkdir()
    (mig / "001_init.sql").write_text(
        "create extension if not exists pg_cron;\n/* create extension rum;\n */\n"
        "create extension hstore;\n"
    )
    (mig / "002_ai.sql").write_text("\n\nCREATE EXTENSION IF NOT EXISTS vector;\n")
    (mig / "003_geo.sql").write_text("create extension postgis_topology cascade;\n")
    rc, f = doctor(tmp_path, "stack.extensions")
    e = f["stack.extensions"]
    assert rc == 1 and e["status"] == FAIL, e
    assert e["summary"] == (
        "migrations/002_ai.sql:3 creates extension 'vector' (and postgis_topology), which the"
        " Postgres image [db] extensions builds lacks"
    )
    assert e["fix"].startswith('add "vector" to [db] extensions in devenv.toml')
    # With both in the list: fine, and contrib's (hstore) wait for the running server.
    (tmp_path / "devenv.toml").write_text('[db]\nextensions = ["pg_cron", "vector", "postgis"]\n')
    rc, f = doctor(tmp_path, "stack.extensions")
    e = f["stack.extensions"]
    assert e["status"] == OK, e
    assert e["summary"].startswith("pg_cron, hstore, vector, postgis_topology: in the Postgres")
    assert "contrib's are checked once it runs" in e["summary"]
    # An image devenv did not build: only its server can tell, and it is not running.
    (tmp_path / "devenv.toml").write_text('[images]\npostgres = "postgres:15"\n')
    _rc, f = doctor(tmp_path, "stack.extensions")
    assert f["stack.extensions"]["status"] == SKIP


def test_seeds_follow_seed_paths_as_up_does(tmp_path: Path) -> None:
    """[db] seed_paths is the default set (as `up` loads it), not "no seed set 'default'"."""
    (tmp_path / "devenv.toml").write_text('[db]\nseed_paths = ["supabase/seed.sql"]\n')
    _rc, f = doctor(tmp_path, "stack.seeds")
    s = f["stack.seeds"]
    assert s["status"] == FAIL, s
    assert s["summary"] == (
        f"seed file {tmp_path / 'supabase' / 'seed.sql'} (from [db] seed_paths) does not exist"
    )
    (tmp_path / "supabase").mkdir()
    (tmp_path / "supabase" / "seed.sql").write_text("insert into t values (1);\n")
    _rc, f = doctor(tmp_path, "stack.seeds")
    assert "no seed set" not in f["stack.seeds"]["summary"]
    (tmp_path / "devenv.toml").write_text("")
    _rc, f = doctor(tmp_path, "stack.seeds")
    assert f["stack.seeds"]["status"] == SKIP
    assert f["stack.seeds"]["summary"] == "no seed set 'default' (seeds/default/)"

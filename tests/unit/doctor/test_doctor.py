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
from typing import Any

import pytest

from devenv.doctor import catalog, core
from devenv.doctor.core import FAIL, OK, SKIP, Check, Context, Finding
from devenv.errors import UsageError
from tests.conftest import run_cli


def doctor(
    cwd: Path, *args: str, sock: Path | None = None, env: dict[str, str] | None = None
) -> tuple[int, dict[str, dict[str, Any]]]:
    # No image overrides (the test command exports the harness's): devenv.toml decides.
    env = {
        "DOCKER_HOST": f"unix://{sock or cwd / 'no-engine.sock'}",
        "DEVENV_IMAGE_POSTGRES": "",
        "DEVENV_HOST": "",
        **(env or {}),
    }
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
    assert lines[-1].startswith("9 checks: ") and " 1 fail" in lines[-1]


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
    assert engine[:4] == ["engine.cli", "engine.daemon", "engine.kind", "engine.host"]
    assert len(engine) == 8
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


# -- the engine: which one, where its ports are, the docker context ---------------------------


def test_engine_host_without_an_engine(tmp_path: Path) -> None:
    """Where published ports are reached needs no engine for a local one: 127.0.0.1, or what
    DEVENV_HOST or [project] host says."""
    _rc, f = doctor(tmp_path, "engine.host", "engine.kind")
    h = f["engine.host"]
    assert h["status"] == OK, h
    assert h["data"]["host"] == "127.0.0.1" and h["data"]["bind"] == "127.0.0.1"
    assert "published ports are reached at 127.0.0.1" in h["summary"]
    assert f["engine.kind"]["status"] == SKIP and "see engine.daemon" in f["engine.kind"]["summary"]
    _rc, f = doctor(tmp_path, "engine.host", env={"DEVENV_HOST": "127.0.0.2"})
    assert f["engine.host"]["data"] == {
        "host": "127.0.0.2",
        "source": "DEVENV_HOST",
        "bind": "127.0.0.2",
        "engine": f"unix://{tmp_path / 'no-engine.sock'}",
    }
    (tmp_path / "devenv.toml").write_text('[project]\nhost = "localhost"\n')
    _rc, f = doctor(tmp_path, "engine.host")
    h = f["engine.host"]
    assert h["status"] == OK and h["data"]["host"] == "localhost"
    assert h["data"]["source"] == f"[project] host in {tmp_path / 'devenv.toml'}"


def test_a_remote_engine_whose_host_does_not_resolve(tmp_path: Path) -> None:
    # .invalid never resolves (RFC 2606): the CI runner's `docker` service name, gone wrong.
    env = {"DOCKER_HOST": "tcp://docker.invalid:2375"}
    rc, f = doctor(tmp_path, "engine.host", env=env)
    h = f["engine.host"]
    assert rc == 1 and h["status"] == FAIL, h
    assert h["summary"].startswith(
        "the stack's host 'docker.invalid' (the engine's host, from DOCKER_HOST) does not resolve"
    )
    assert "set DEVENV_HOST" in h["fix"] and "fix DOCKER_HOST" in h["fix"]
    # Named by DEVENV_HOST instead: that is the setting to fix.
    _rc, f = doctor(tmp_path, "engine.host", env={**env, "DEVENV_HOST": "stack.invalid"})
    h = f["engine.host"]
    assert h["status"] == FAIL and "'stack.invalid' (DEVENV_HOST) does not resolve" in h["summary"]
    assert h["fix"].startswith("set DEVENV_HOST to the address")


def test_a_remote_engine_that_does_not_answer(tmp_path: Path) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    rc, f = doctor(tmp_path, "engine", env={"DOCKER_HOST": f"tcp://127.0.0.1:{port}"})
    assert rc == 1
    assert f["engine.daemon"]["status"] == FAIL
    h = f["engine.host"]
    assert h["status"] == FAIL, h
    assert h["summary"].startswith(f"nothing answers at 127.0.0.1:{port} (DOCKER_HOST)")
    assert h["fix"].startswith("fix DOCKER_HOST") and "DEVENV_HOST" in h["fix"]
    assert f["engine.kind"]["status"] == SKIP and f["engine.disk"]["status"] == SKIP


def _context(home: Path, name: str, host: str) -> None:
    import hashlib

    meta = home / ".docker" / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    endpoints = {"docker": {"Host": host, "SkipTLSVerify": False}}
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Endpoints": endpoints}))


def test_the_docker_context_names_the_engine(tmp_path: Path) -> None:
    home = tmp_path / "home"
    sock = tmp_path / "ctx-engine.sock"
    _context(home, "ci", f"unix://{sock}")
    (home / ".docker" / "config.json").write_text('{"currentContext": "ci"}')
    env = {"HOME": str(home), "DOCKER_HOST": ""}
    rc, f = doctor(tmp_path, "engine.daemon", "engine.host", env=env)
    d = f["engine.daemon"]
    assert rc == 1 and d["status"] == FAIL, d
    assert f"not reachable at unix://{sock}" in d["summary"]
    assert f["engine.host"]["data"]["engine"] == f"unix://{sock}"
    # A context that does not exist fails as the docker CLI does, and says how to leave it.
    rc, f = doctor(tmp_path, "engine", env={**env, "DOCKER_CONTEXT": "gone"})
    d = f["engine.daemon"]
    assert d["status"] == FAIL
    assert d["summary"].startswith("docker context 'gone' (named by DOCKER_CONTEXT) does not exist")
    assert d["fix"].startswith("unset DOCKER_CONTEXT")
    assert f["engine.host"]["status"] == SKIP and "see engine.daemon" in f["engine.host"]["summary"]
    # DOCKER_HOST wins over any context, as in the docker CLI.
    _rc, f = doctor(
        tmp_path,
        "engine.daemon",
        env={**env, "DOCKER_CONTEXT": "gone", "DOCKER_HOST": f"unix://{sock}x"},
    )
    assert f"unix://{sock}x" in f["engine.daemon"]["summary"]


def test_compose_version_is_cached_by_the_binarys_path_size_and_mtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devenv.doctor import checks

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    binary = tmp_path / "docker-compose"
    binary.write_text("#!/bin/sh\necho 2.40.3\n")
    other = tmp_path / "other-compose"
    other.write_text("#!/bin/sh\necho 2.39.0\n")
    assert checks.cached_compose_version(binary) is None
    checks.remember_compose_version(binary, "2.40.3")
    checks.remember_compose_version(other, "2.39.0")
    assert checks.cached_compose_version(binary) == "2.40.3"
    assert checks.cached_compose_version(other) == "2.39.0"
    binary.write_text("#!/bin/sh\necho 2.41.0\n")  # a new build: another size
    assert checks.cached_compose_version(binary) is None
    os.utime(other, ns=(0, 0))  # the same size, another mtime
    assert checks.cached_compose_version(other) is None
    checks.remember_compose_version(binary, "2.41.0")
    data = json.loads((tmp_path / "cache" / "devenv" / checks.COMPOSE_CACHE).read_text())
    assert sum(k.startswith(f"{binary}:") for k in data) == 1  # one entry per binary


# -- the command without Typer ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "parsed"),
    [
        ([], ([], False, False)),
        (["engine", "ports"], (["engine", "ports"], False, False)),
        (["engine", "--json"], (["engine"], True, False)),
        (["-o", "json", "engine"], (["engine"], True, False)),
        (["-ojson"], ([], True, False)),
        (["--output=json"], ([], True, False)),
        (["--output", "text", "--list"], ([], False, True)),
        (["--", "-odd"], (["-odd"], False, False)),
        (["--help"], None),
        (["-h"], None),
        (["-o"], None),
        (["-o", "yaml"], None),
        (["--jsn"], None),
    ],
)
def test_plain_arguments_are_parsed_without_typer(
    argv: list[str], parsed: tuple[list[str], bool, bool] | None
) -> None:
    from devenv.doctor.command import parse

    assert parse(argv) == parsed


def test_the_command_without_typer_prints_what_typer_prints(tmp_path: Path) -> None:
    import sys

    def plain(*args: str) -> subprocess.CompletedProcess[str]:
        code = "import sys; from devenv.doctor.command import main; r = main(sys.argv[1:]);"
        code += " sys.exit(99 if r is None else r)"
        env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/none.sock"}
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    typer_list = run_cli("doctor", "--list", cwd=tmp_path)
    assert plain("--list").stdout == typer_list.stdout and typer_list.returncode == 0
    out = plain("-o", "json", "engine.daemon", "engine.host")
    assert out.returncode == 1
    ids = [f["id"] for f in json.loads(out.stdout)["findings"]]
    assert ids == ["engine.daemon", "engine.host"]
    # What it does not parse (or an unknown check) is Typer's to report.
    assert plain("--help").returncode == 99 and plain("engin").returncode == 99
    assert plain("engin").stdout == ""
    bad = run_cli("doctor", "-o", "yaml", cwd=tmp_path)
    assert bad.returncode == 2 and "'yaml' is not one of text, json" in bad.stderr
    ok = run_cli(
        "doctor",
        "-o",
        "json",
        "engine.host",
        cwd=tmp_path,
        env={"DOCKER_HOST": "", "DEVENV_HOST": ""},
    )
    assert json.loads(ok.stdout)["findings"][0]["data"]["host"] == "127.0.0.1"

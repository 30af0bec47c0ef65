"""The pytest plugin end to end: an example app's own test suite (tests/fixtures/testing_app) run
by a real `python -m pytest` in a subprocess, as a user's CI would, against real stacks.

Each run gets its own project-name prefix, so the start-up clean-up (`devenv gc`) of one test
can only ever touch stacks of that test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from importlib import metadata
from pathlib import Path

import pytest

from devenv.stack import gc
from devenv.stack.engine import Engine
from tests.conftest import REPO

pytestmark = pytest.mark.engine

APP = REPO / "tests" / "fixtures" / "testing_app"


def plugin_args() -> list[str]:
    """-p for the plugin unless the installed metadata already registers it (pytest11)."""
    names = {ep.name for ep in metadata.entry_points(group="pytest11")}
    return [] if "devenv" in names else ["-p", "devenv.testing.plugin"]


class App:
    def __init__(self, base: Path) -> None:
        self.root = base / "app"
        shutil.copytree(APP, self.root)
        (self.root / "pytest.ini").write_text(
            "[pytest]\npython_files = example_app.py\ntestpaths = app_tests\n"
        )
        self.log = base / "log.jsonl"
        self.prefix = f"it-tp{uuid.uuid4().hex[:6]}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {**os.environ, "DEVENV_EXAMPLE_LOG": str(self.log), **extra}
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        env.pop("PYTEST_ADDOPTS", None)
        env.pop("PYTEST_XDIST_WORKER", None)
        return env

    def argv(self, *args: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "pytest",
            *plugin_args(),
            "-p",
            "no:cacheprovider",
            "--devenv-prefix",
            self.prefix,
            "-rA",
            *args,
        ]

    def run(self, *args: str, timeout: float = 400, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args),
            cwd=self.root,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def entries(self) -> list[dict[str, object]]:
        if not self.log.is_file():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def leftovers(self) -> list[gc.Orphan]:
        return [o for o in gc.find(Engine()) if o.project.startswith(self.prefix)]

    def cleanup(self) -> None:
        for o in self.leftovers():
            from devenv import config
            from devenv.stack.handle import Stack

            Stack(config.in_memory(Path("/"), name=o.project, services=())).down(volumes=True)


@pytest.fixture
def app(engine: None, tmp_path: Path):  # type: ignore[no-untyped-def]
    a = App(tmp_path)
    yield a
    a.cleanup()


def _out(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\nstdout:\n{proc.stdout[-6000:]}\nstderr:\n{proc.stderr[-3000:]}"


def test_database_per_test_kept_on_failure_dropped_with_open_connections(app: App) -> None:
    proc = app.run(DEVENV_EXAMPLE_FAIL="1")
    assert proc.returncode == 1, _out(proc)
    assert "1 failed, 5 passed, 1 skipped" in proc.stdout, _out(proc)
    seen = {str(e["test"]): e for e in app.entries()}
    dbs = [seen[t]["db"] for t in ("seeded", "write_a", "write_b", "open_conn", "fails")]
    assert len(set(dbs)) == 5  # one database per test
    # The failed test's database is named in the summary; the stack itself is gone.
    assert "devenv: databases kept for failed tests" in proc.stdout, _out(proc)
    assert str(seen["fails"]["db"]) in proc.stdout
    # The drop worked although a test left a connection open inside a transaction (the last
    # test checked pg_database while the stack was still up).
    assert str(seen["open_conn"]["db"]) not in seen["dropped"]["names"]  # type: ignore[operator]
    assert app.leftovers() == []
    # Secrets never reach the output.
    assert "postgresql://postgres:" not in proc.stdout + proc.stderr


def test_crash_mid_session_is_cleaned_by_the_next_session(app: App) -> None:
    crashed = app.run("-k", "crash", DEVENV_EXAMPLE_CRASH="1")
    assert crashed.returncode == 3, _out(crashed)
    left = app.leftovers()
    assert len(left) == 1 and left[0].containers, left  # os._exit ran no teardown
    assert gc.owner_state(left[0].owner, left[0].created) == "gone"
    dry = subprocess.run(
        [sys.executable, "-m", "devenv", "gc", "--dry-run", "--json", "--prefix", app.prefix],
        cwd=app.root,
        env=app.env(),
        capture_output=True,
        text=True,
    )
    assert dry.returncode == 0, dry.stderr
    assert [o["project"] for o in json.loads(dry.stdout)["removed"]] == [left[0].project]
    assert app.leftovers() == left  # a dry run removes nothing

    nxt = app.run("-k", "seeded")
    assert nxt.returncode == 0, _out(nxt)
    assert f"removed {left[0].project} (its owner process is gone)" in nxt.stdout, _out(nxt)
    assert app.leftovers() == []


def test_failing_migration_is_one_error_and_the_stack_is_removed(app: App) -> None:
    (app.root / "migrations" / "20240101000200_broken.sql").write_text(
        "-- a typo on line 2\nCREATE TABLE broken (id int PRIMARY KEY, note txet);\n"
    )
    proc = app.run()
    assert proc.returncode != 0, _out(proc)
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "could not start" in ln]
    assert len(lines) == 1, _out(proc)
    assert "20240101000200_broken.sql:2" in lines[0] and "txet" in lines[0], lines[0]
    assert "(it was removed)" in lines[0]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert app.leftovers() == []


def test_two_sessions_at_once(app: App, tmp_path: Path) -> None:
    other = App(tmp_path / "second")
    other.prefix = app.prefix  # the same prefix: each session's gc must spare the other's stack
    procs = [
        subprocess.Popen(
            a.argv("-k", "seeded or leak"),
            cwd=a.root,
            env=a.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for a in (app, other)
    ]
    outs = [p.communicate(timeout=500) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"
    stacks = {str(a.entries()[0]["stack"]) for a in (app, other)}
    assert len(stacks) == 2
    assert app.leftovers() == []


def test_xdist_workers_share_one_stack_with_their_own_databases(app: App) -> None:
    pytest.importorskip("xdist")
    proc = app.run("-n", "2", "-p", "xdist")
    assert proc.returncode == 0, _out(proc)
    entries = app.entries()
    stacks = {e["stack"] for e in entries if "stack" in e}
    assert len(stacks) == 1, entries  # one stack for both workers
    dbs = [str(e["db"]) for e in entries if "db" in e]
    assert len(dbs) == len(set(dbs)) == 4
    workers = {d.split("_")[3] for d in dbs}  # devenv_t_<session>_<worker>_<n>
    assert workers <= {"gw0", "gw1"} and len(workers) == 2, dbs
    assert app.leftovers() == []  # the controller removed it


def test_full_stack_clients_and_fireworks_scoped_per_test(app: App, gotrue: None) -> None:
    proc = app.run("app_tests/example_full.py")
    assert proc.returncode == 0, _out(proc)
    assert "3 passed" in proc.stdout, _out(proc)
    assert app.leftovers() == []


def test_reuse_uses_the_running_devenv_up_stack(app: App) -> None:
    from devenv.stack import ports
    from tests.conftest import run_cli

    name = f"{app.prefix}-up"
    (app.root / "devenv.toml").write_text(
        f'[project]\nname = "{name}"\nservices = ["postgres"]\n'
        f"[ports]\npostgres = {ports.free_port()}\n"
    )
    run_cli("up", cwd=app.root, check=True)
    try:
        proc = app.run("--devenv-reuse", "-k", "seeded or leak or dropped")
        assert proc.returncode == 0, _out(proc)
        assert f"devenv: test stack {name}" in proc.stdout, _out(proc)
        with _pg(app.root) as conn:
            left = [
                r[0]
                for r in conn.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE 'devenv\\_%'"
                )
            ]
        assert left == []  # the session's template and every test database are gone
    finally:
        run_cli("down", "--volumes", cwd=app.root)


def _pg(root: Path):  # type: ignore[no-untyped-def]
    import psycopg

    from devenv.stack.handle import Stack

    return psycopg.connect(Stack.load(root).database_url(), autocommit=True)


def test_reuse_without_a_running_stack_is_one_error(app: App) -> None:
    (app.root / "devenv.toml").write_text(f'[project]\nname = "{app.prefix}-none"\n')
    proc = app.run("--devenv-reuse", "-k", "seeded")
    assert proc.returncode != 0
    assert "--devenv-reuse: the stack" in proc.stdout + proc.stderr, _out(proc)
    assert "is not running" in proc.stdout + proc.stderr


SCRIPT = """
import sys
from devenv.testing import ephemeral_stack
with ephemeral_stack(sys.argv[1], services=["postgres", "redis"], prefix=sys.argv[2]):
    print("started", flush=True)
"""


def test_ctrl_c_during_stack_start_leaves_nothing(app: App) -> None:
    # A migration that takes 10 s holds the start open, so the Ctrl-C below lands inside it
    # however fast the containers come up on this machine.
    (app.root / "migrations" / "20240101000200_slow.sql").write_text("select pg_sleep(10);\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(app.root), app.prefix],
        cwd=app.root,
        env=app.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As a terminal would: pytest-xdist's workers (and some CI runners) run with SIGINT
        # ignored, which a child inherits, and Python then leaves it ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if any(o.containers for o in app.leftovers()):
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the stack started before Ctrl-C could interrupt it"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode != 0, f"stdout:\n{out}\nstderr:\n{err}"
    assert "started" not in out
    assert "KeyboardInterrupt" in err
    assert app.leftovers() == [], err


def test_keep_the_second_run_starts_from_the_first_runs_stack(app: App, tmp_path: Path) -> None:
    """--devenv-keep (devenv.testing.kept; the cleaning itself: tests/integration/
    test_kept_stacks.py): the first run keeps its stack, with a failed test's database; the
    second starts from it cleaned, and its tests see exactly what a new stack has."""
    cache = str(tmp_path / "cache")
    first = app.run("--devenv-keep", DEVENV_EXAMPLE_FAIL="1", XDG_CACHE_HOME=cache)
    assert first.returncode == 1, _out(first)
    assert "kept for the next run" in first.stdout, _out(first)
    assert "until the next run starts" in first.stdout, _out(first)
    name = str(app.entries()[0]["stack"])
    try:
        assert name.startswith("devenv-kept-")
        assert any(o.project == name for o in gc.find(Engine()))
        second = app.run("--devenv-keep", XDG_CACHE_HOME=cache)
        assert second.returncode == 0, _out(second)
        assert "kept: cleaned from the last run" in second.stdout, _out(second)
        assert "5 passed, 2 skipped" in second.stdout, _out(second)
        # The failed test's database of the first run is gone; this run's were dropped.
        dropped = [e for e in app.entries() if e["test"] == "dropped"][-1]
        assert dropped["stack"] == name and dropped["names"] == ["devenv_snap__pytest-kept"]
    finally:
        for o in gc.find(Engine()):
            if o.project == name:
                gc.remove(o)

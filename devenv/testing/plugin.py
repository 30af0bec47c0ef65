"""The pytest plugin (entry point ``pytest11: devenv``): ephemeral stacks for an app's tests.

Fixtures:

- ``devenv_stack`` (session): a started, migrated and seeded stack (:class:`TestStack`);
  ``--devenv-reuse`` attaches to the project's `devenv up` stack instead, and ``--devenv-keep``
  keeps the stack for the next run, which starts from it cleaned (devenv.testing.kept).
- ``devenv_db`` (function): a fresh database cloned from the session's template, dropped after
  the test; kept when the test failed, its name printed at the end of the run.
- ``fireworks_mock`` (function): the Fireworks mock scoped to the test (journal, faults).

Costs nothing unless used: this module imports only pytest and the standard library; the stack
starts when a test first asks for one of the fixtures. Services: ``--devenv-services`` (or the
``devenv_services`` ini key) plus those named by ``@pytest.mark.devenv(services=[...])`` on any
collected test.

pytest-xdist: the workers share one stack. The first worker to need it starts it under a file
lock and writes its description (no secrets) to a state file in a folder the controller made;
the others attach. The controller owns the stack (its pid is the owner label, so `devenv gc`
leaves it alone while the run lives) and removes it when the run ends. Each worker gets its own
databases (the worker id is in their names).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from devenv.testing.handles import FireworksScope, StackSpec, TestDatabase, TestStack

_SHARED = "devenv_shared"
_OWNER = "devenv_owner"
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
#: The test stack's services: those the options name, else None (the project's own, as `devenv
#: up` runs them); and what markers add to them.
_SERVICES = pytest.StashKey[list[str] | None]()
_EXTRA = pytest.StashKey[list[str]]()
_CONTROLLER_DIR = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("devenv", "devenv ephemeral stacks")
    group.addoption(
        "--devenv-reuse",
        action="store_true",
        default=False,
        help="Use the stack `devenv up` started for this project instead of an ephemeral one.",
    )
    group.addoption(
        "--devenv-keep",
        action="store_true",
        default=None,
        help="Keep the test stack running after the run and start the next run from it,"
        " cleaned (default: the devenv_keep ini key, else off). `devenv gc --kept` removes it.",
    )
    group.addoption(
        "--devenv-services",
        default=None,
        help="Comma-separated services of the test stack (default: the devenv_services ini "
        "key, else the project's own, as `devenv up` runs them); devenv markers add to them.",
    )
    group.addoption(
        "--devenv-project",
        default=None,
        help="The app's root (migrations/, seeds/, fixtures/fireworks); default: rootdir.",
    )
    group.addoption(
        "--devenv-seed",
        default=None,
        help="Comma-separated seed sets loaded before the template is made (default: default).",
    )
    group.addoption(
        "--devenv-timeout",
        type=float,
        default=300.0,
        help="Seconds the stack may take to get healthy.",
    )
    group.addoption(
        "--devenv-prefix",
        default="devenv-eph",
        help="Project-name prefix of ephemeral stacks; the clean-up at start (`devenv gc`) "
        "only removes stacks with this prefix whose owner is gone.",
    )
    group.addoption(
        "--devenv-no-gc",
        action="store_true",
        default=False,
        help="Do not remove orphaned ephemeral stacks at start.",
    )
    parser.addini(
        "devenv_services",
        "Services of the test stack (comma-separated; default: the project's own).",
    )
    parser.addini(
        "devenv_keep",
        "Keep the test stack for the next run (see --devenv-keep).",
        type="bool",
        default=False,
    )
    parser.addini("devenv_project", "The app's root, relative to rootdir.")
    parser.addini("devenv_seed", "Seed sets of the test stack (comma-separated).")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "devenv(services=[...]): the test needs these services in the devenv test stack (added"
        " to the project's own, or to --devenv-services)",
    )


def _split(text: str | None) -> list[str]:
    return [s.strip() for s in (text or "").split(",") if s.strip()]


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    named = _split(config.getoption("--devenv-services")) or _split(
        str(config.getini("devenv_services") or "")
    )
    extra: list[str] = []
    for item in items:
        for mark in item.iter_markers("devenv"):
            extra += list(mark.kwargs.get("services", ())) + [str(a) for a in mark.args]
    config.stash[_SERVICES] = list(dict.fromkeys(named)) or None
    config.stash[_EXTRA] = list(dict.fromkeys(extra))


# -- pytest-xdist: the controller makes the shared folder and owns the stack ------------------


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller, per worker: where the shared state lives, and who owns the stack."""
    config = node.config
    if _CONTROLLER_DIR not in config.stash:
        config.stash[_CONTROLLER_DIR] = tempfile.mkdtemp(prefix="devenv-xdist-")
    node.workerinput[_SHARED] = config.stash[_CONTROLLER_DIR]
    node.workerinput[_OWNER] = f"{os.getpid()}@{socket.gethostname()}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    shared = config.stash.get(_CONTROLLER_DIR, None)
    if shared is None:
        return
    state = Path(shared) / "stack.json"
    try:
        if state.is_file():
            from devenv.testing.ephemeral import stop
            from devenv.testing.handles import StackSpec

            text = state.read_text(encoding="utf-8")
            if text.startswith("{"):
                stop(StackSpec.from_json(text))
    finally:
        shutil.rmtree(shared, ignore_errors=True)


# -- reports: which tests failed (to keep their databases), and the summary --------------------


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    # Old-style wrapper: the plugin loads in every pytest run where devenv is installed, so it
    # must work with any pluggy a supported pytest brings.
    outcome = yield
    rep: pytest.TestReport = outcome.get_result()
    item.stash.setdefault(_REPORTS, {})[rep.when or ""] = rep


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Runs in the controller under xdist too: user_properties travel with the report.
    for key, value in report.user_properties:
        if key == "devenv_kept_database" and report.when == "teardown":
            _kept_list.append((report.nodeid, str(value)))


_kept_list: list[tuple[str, str]] = []


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not _kept_list:
        return
    terminalreporter.section("devenv: databases kept for failed tests")
    for nodeid, name in _kept_list:
        terminalreporter.write_line(f"{name}  ({nodeid})")
    terminalreporter.write_line(
        "they live as long as the test stack (with --devenv-reuse: until you drop them;"
        " with --devenv-keep: until the next run starts; `devenv db shell` then `\\c NAME`)"
    )
    _kept_list.clear()


# -- fixtures -----------------------------------------------------------------------------------


def _project_root(config: pytest.Config) -> Path:
    opt = config.getoption("--devenv-project") or str(config.getini("devenv_project") or "")
    return (config.rootpath / opt).resolve() if opt else config.rootpath


def _start_kwargs(config: pytest.Config) -> dict[str, Any]:
    seeds = _split(config.getoption("--devenv-seed")) or _split(
        str(config.getini("devenv_seed") or "")
    )
    return {
        "services": config.stash.get(_SERVICES, None),
        "extra_services": config.stash.get(_EXTRA, []),
        "seed_sets": seeds or ["default"],
        "reuse": bool(config.getoption("--devenv-reuse")),
        "keep": _keep(config),
        "timeout": float(config.getoption("--devenv-timeout")),
        "prefix": str(config.getoption("--devenv-prefix")),
        "gc": not config.getoption("--devenv-no-gc"),
    }


def _keep(config: pytest.Config) -> bool:
    opt = config.getoption("--devenv-keep")
    if opt is not None:
        return bool(opt)
    if not config.getini("devenv_keep"):
        return False
    # A kept stack outlives the run: on a CI runner the ini key (the project's choice, made for
    # developers' machines) asks for nothing; the flag still does. testcontainers keeps its
    # reusable containers to developer machines the same way.
    return os.environ.get("CI", "").strip().lower() not in ("1", "true", "yes")


def _fail_start(exc: BaseException) -> None:
    from devenv.errors import DevenvError

    if isinstance(exc, DevenvError):
        # One line for the whole session, not one traceback per test.
        pytest.exit(f"devenv: {exc.one_line()}", returncode=pytest.ExitCode.INTERNAL_ERROR)
    raise exc


def _say(config: pytest.Config, line: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capman = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        sys.stderr.write(f"devenv: {line}\n")
        return
    # Fixtures run with output captured; this line is for the person watching the run.
    ctx = capman.global_and_fixture_disabled() if capman else contextlib.nullcontext()
    with ctx:
        reporter.write_line(f"devenv: {line}")


@pytest.fixture(scope="session")
def devenv_stack(request: pytest.FixtureRequest) -> Iterator[TestStack]:
    """The session's stack: URLs, keys and clients (psycopg, httpx through Kong, redis)."""
    config = request.config
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and _SHARED in workerinput:
        yield from _shared_stack(config, Path(workerinput[_SHARED]), workerinput[_OWNER])
        return
    from devenv.testing import ephemeral

    kwargs = _start_kwargs(config)
    try:
        ts = ephemeral.start(
            _project_root(config),
            on_gc=lambda name: _say(config, f"removed {name} (its owner process is gone)"),
            on_note=lambda text: _say(config, text),  # a first run builds devenv's images
            **kwargs,
        )
    except BaseException as exc:
        _fail_start(exc)
        raise
    _say(config, f"test stack {ts.name} ({', '.join(ts.services)}){_kept_words(ts)}")
    try:
        yield ts
    finally:
        ephemeral.stop(ts)


def _kept_words(ts: TestStack) -> str:
    if not ts.spec.kept:
        return ""
    if ts.kept_again:
        return ", kept: cleaned from the last run"
    return ", kept for the next run (`devenv gc --kept` removes it)"


def _shared_stack(config: pytest.Config, shared: Path, owner: str) -> Iterator[TestStack]:
    """xdist worker: attach to the run's stack, starting it if this worker is the first."""
    import fcntl

    from devenv.errors import StackError
    from devenv.testing import ephemeral, handles

    state = shared / "stack.json"
    fd = os.open(shared / "stack.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel if this worker dies
        if state.is_file():
            text = state.read_text(encoding="utf-8")
            if not text.startswith("{"):  # another worker's start failed: the same error
                _fail_start(StackError(text.strip()))
            spec: StackSpec = handles.StackSpec.from_json(text)
            ts = handles.TestStack(handles.attach(spec), spec)
        else:
            try:
                ts = ephemeral.start(
                    _project_root(config),
                    owner=owner,
                    on_note=lambda text: _say(config, text),
                    **_start_kwargs(config),
                )
            except BaseException as exc:
                state.write_text(getattr(exc, "message", str(exc)), encoding="utf-8")
                _fail_start(exc)
                raise
            tmp = state.with_suffix(".tmp")
            tmp.write_text(ts.spec.to_json(), encoding="utf-8")
            tmp.replace(state)
    finally:
        os.close(fd)
    try:
        yield ts
    finally:
        ts.close()  # the controller removes the stack once every worker is done


@pytest.fixture
def devenv_db(devenv_stack: TestStack, request: pytest.FixtureRequest) -> Iterator[TestDatabase]:
    """A fresh database for this test (migrations and seeds done), dropped afterwards; kept
    when the test failed."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    db = devenv_stack.create_database(worker)
    yield db
    reports = request.node.stash.get(_REPORTS, {})
    failed = any(r.failed for r in reports.values())
    if failed:
        request.node.user_properties.append(("devenv_kept_database", db.name))
        return
    devenv_stack.drop_database(db.name)


_TEST_ID_UNSAFE = re.compile(r"[^\x21-\x7e]+")


@pytest.fixture
def fireworks_mock(
    devenv_stack: TestStack, request: pytest.FixtureRequest
) -> Iterator[FireworksScope]:
    """The Fireworks mock for this test: send ``headers`` (or use ``openai_kwargs()``) and the
    journal and faults are this test's alone."""
    test_id = _TEST_ID_UNSAFE.sub("_", request.node.nodeid)[:200]
    scope = devenv_stack.fireworks(test_id)
    with contextlib.ExitStack() as stack:
        stack.callback(scope.close)
        yield scope

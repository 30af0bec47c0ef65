"""Kept test stacks' bookkeeping (devenv.testing.kept), without an engine: names, the claim
another process cannot take while one holds it, what is saved, and gc's view of the owner."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from devenv.stack import gc
from devenv.testing import kept

IMPORT = "from devenv.testing import kept"


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path


def test_one_name_per_project_services_and_seed_sets(tmp_path: Path) -> None:
    a = kept.name_for(tmp_path / "a", ["postgres", "redis"], ["default"])
    assert a == kept.name_for(tmp_path / "a", ["redis", "postgres"], ["default"])  # any order
    assert a.startswith(kept.NAME_PREFIX) and len(a) == len(kept.NAME_PREFIX) + 10
    assert a != kept.name_for(tmp_path / "b", ["postgres", "redis"], ["default"])
    assert a != kept.name_for(tmp_path / "a", ["postgres"], ["default"])
    assert a != kept.name_for(tmp_path / "a", ["postgres", "redis"], ["demo"])


def test_folder_is_private_and_under_the_cache(cache: Path) -> None:
    c = kept.claim("devenv-kept-x")
    assert c is not None
    assert c.state == cache / "devenv" / "test-stacks" / "devenv-kept-x"
    assert (c.state.stat().st_mode & 0o777) == 0o700
    c.release()


def test_a_claim_is_exclusive_across_processes_until_released() -> None:
    c = kept.claim("devenv-kept-x")
    assert c is not None
    assert kept.claim("devenv-kept-x") is None  # another open file: as another process
    assert kept.in_use(c.state)
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            "from devenv.testing import kept; print(kept.claim('devenv-kept-x'))",
        ],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    assert other.stdout.strip() == "None", other.stderr
    c.release()
    c.release()  # twice is harmless
    assert not kept.in_use(c.state)
    again = kept.claim("devenv-kept-x")
    assert again is not None
    again.release()


def test_a_dead_holder_lets_go() -> None:
    code = (
        "from devenv.testing import kept; import os; c = kept.claim('devenv-kept-y'); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})
    c = kept.claim("devenv-kept-y")
    assert c is not None
    c.release()


def test_ports_only_for_the_same_fingerprint() -> None:
    c = kept.claim("devenv-kept-x")
    assert c is not None
    assert c.saved_ports("f1") is None  # nothing kept yet
    c.save("f1", {"postgres": 6000, "redis": 6001}, ["postgres", "anon"])
    assert c.saved_ports("f1") == {"postgres": 6000, "redis": 6001}
    assert c.saved_roles() == ["anon", "postgres"]
    assert c.saved_ports("f2") is None  # other migrations, images...: made anew
    (c.state / kept.SPEC_FILE).write_text("{not json")
    assert c.saved_ports("f1") is None  # a damaged file is nothing kept, not an error
    c.save("f1", {"postgres": 6000}, [])
    c.forget()
    assert c.saved_ports("f1") is None
    c.release()


def test_gc_never_takes_a_kept_stack_for_orphaned() -> None:
    assert gc.owner_state(kept.owner()) == "kept"
    assert kept.owner() == f"kept@{socket.gethostname()}"
    assert gc.owner_state("kept@another-host") == "other-host"

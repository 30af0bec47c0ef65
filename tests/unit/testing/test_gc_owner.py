"""`devenv gc`'s judgement of owners: real processes, no engine."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import psutil

from devenv.stack import gc


def test_parse_owner() -> None:
    assert gc.parse_owner("123@box") == (123, "box")
    assert gc.parse_owner("") is None
    assert gc.parse_owner("abc@box") is None
    assert gc.parse_owner("123") is None


def test_this_process_is_alive() -> None:
    assert gc.owner_state(f"{os.getpid()}@{socket.gethostname()}") == "alive"


def test_an_exited_process_is_gone() -> None:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    assert gc.owner_state(f"{p.pid}@{socket.gethostname()}") == "gone"


def test_a_reused_pid_is_gone() -> None:
    # A process that started after the stack was made cannot be the stack's owner.
    me = psutil.Process(os.getpid())
    created_before = me.create_time() - 60
    assert gc.owner_state(f"{os.getpid()}@{socket.gethostname()}", created_before) == "gone"
    assert gc.owner_state(f"{os.getpid()}@{socket.gethostname()}", time.time()) == "alive"


def test_other_hosts_and_foreign_labels_are_left_alone() -> None:
    assert gc.owner_state("1@some-other-host.invalid") == "other-host"
    assert gc.owner_state("not-devenv") == "unknown"


def test_creation_times() -> None:
    assert gc._ts(1700000000) == 1700000000.0
    assert gc._ts("2023-11-14T22:13:20Z") == 1700000000.0
    assert abs(gc._ts("2023-11-14T22:13:20.123456789Z") - 1700000000.123456) < 1e-5  # type: ignore[operator]
    assert gc._ts("") is None and gc._ts("garbage") is None

"""Ctrl-C in the Python API (ephemeral_stack, the pytest plugin): one that Python swallows is not
lost (devenv.interrupt.watching)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from devenv import interrupt
from devenv.errors import Interrupted


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """Python's own handler, as a program that installs none has it (test runners may not)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class CtrlCInDel:
    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs here, inside __del__, where Python ignores it


# What these two provoke on purpose: Python's "Exception ignored in ... __del__".
swallowed = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@swallowed
def test_a_ctrl_c_swallowed_by_a_del_is_raised_again_at_the_next_check(
    default_sigint: None,
) -> None:
    with pytest.raises(Interrupted), interrupt.watching():
        CtrlCInDel()  # "Exception ignored in ... KeyboardInterrupt"
        interrupt.check()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert not interrupt.seen()


@swallowed
def test_one_swallowed_after_the_last_check_stops_the_block_too(default_sigint: None) -> None:
    with pytest.raises(Interrupted), interrupt.watching():
        CtrlCInDel()
    assert not interrupt.seen()


def test_a_plain_ctrl_c_is_still_keyboard_interrupt(default_sigint: None) -> None:
    with pytest.raises(KeyboardInterrupt), interrupt.watching():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)
    assert not interrupt.seen()


def test_a_program_with_its_own_handler_keeps_it() -> None:
    def mine(signum: int, frame: object) -> None:
        pass

    previous = signal.signal(signal.SIGINT, mine)
    try:
        with interrupt.watching():
            assert signal.getsignal(signal.SIGINT) is mine
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, previous)

"""devenv's image builds and the pull run at the same time, and their errors reach the caller in
a fixed order (the first job's first), whatever finished first."""

from __future__ import annotations

import threading
import time

import pytest

from devenv.errors import ImageMissing
from devenv.stack.images import together


def test_jobs_run_at_the_same_time() -> None:
    # Each job waits for the other at a barrier: run one after the other, they could not pass.
    barrier = threading.Barrier(3, timeout=5)
    passed: list[int] = []

    def job(i: int) -> None:
        barrier.wait()
        passed.append(i)

    together([lambda: job(0), lambda: job(1), lambda: job(2)])
    assert sorted(passed) == [0, 1, 2]


def test_the_first_jobs_error_wins_and_every_job_finishes() -> None:
    finished: list[str] = []

    def slow_failure() -> None:
        time.sleep(0.3)
        finished.append("postgres")
        raise ImageMissing("postgres build failed", "trim [db] extensions")

    def quick_failure() -> None:
        finished.append("pull")
        raise ImageMissing("redis:7 could not be pulled", "docker pull redis:7")

    def fine() -> None:
        finished.append("fireworks")

    with pytest.raises(ImageMissing, match="postgres build failed"):
        together([slow_failure, fine, quick_failure])
    assert sorted(finished) == ["fireworks", "postgres", "pull"]


def test_one_job_runs_in_the_callers_thread() -> None:
    seen: list[str] = []
    together([lambda: seen.append(threading.current_thread().name)])
    assert seen == [threading.current_thread().name]
    together([])

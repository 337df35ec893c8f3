"""WorkerPool: started on first use, restarted for another size, paused after a break."""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pytest

from tests.pool_workers import kill_workers
from verifier import worker_pool
from verifier.worker_pool import WorkerPool

log = logging.getLogger("tests.worker_pool")


def _start(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"))


@pytest.fixture
def pool() -> Any:
    made = WorkerPool(_start, "test workers", "working in the test's process", log)
    yield made
    made.close()


def test_a_pool_starts_when_first_wanted_and_again_for_another_size(pool: WorkerPool):
    assert pool.current is None and pool.running_workers() == 0
    first = pool.get(2)
    assert first is not None and pool.get(2) is first
    assert first.submit(os.getpid).result() != os.getpid()
    resized = pool.get(1)
    assert resized is not None and resized is not first
    with pytest.raises(RuntimeError):  # the pool of the old size is shut down
        first.submit(os.getpid)
    assert resized.submit(os.getpid).result() != os.getpid()
    assert pool.running_workers() == 1


def test_a_broken_pool_is_paused_warned_of_once_and_then_started_afresh(
        pool: WorkerPool, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch):
    broken = pool.get(2)
    assert broken is not None
    broken.submit(os.getpid).result()
    kill_workers(broken)
    with pytest.raises(BrokenProcessPool):
        broken.submit(os.getpid).result()
    with caplog.at_level(logging.WARNING, logger=log.name):
        pool.broke(broken)
        pool.broke(broken)  # a second thread that found it broken too
    assert [r.getMessage() for r in caplog.records] == [
        "test workers ended; working in the test's process for 30 s, then on fresh workers"]
    assert pool.current is None and pool.get(2) is None  # within the pause
    assert pool.running_workers() == 0
    monkeypatch.setattr(worker_pool, "PAUSE_AFTER_BREAK_SECONDS", 0.0)
    fresh = pool.get(2)
    assert fresh is not None and fresh is not broken
    assert fresh.submit(os.getpid).result() != os.getpid()


def test_a_stale_break_leaves_the_pool_started_since_alone(pool: WorkerPool):
    old = pool.get(1)
    assert old is not None
    new = pool.get(2)  # another size: the old one is shut down and replaced
    pool.broke(old)
    assert pool.current is new and pool.get(2) is new


def test_the_break_hook_runs_once_while_the_pool_still_knows_its_workers() -> None:
    seen: list[int] = []

    def on_break(broken: ProcessPoolExecutor) -> None:
        table: Any = broken
        seen.append(len(table._processes))

    pool = WorkerPool(_start, "test workers", "here", log, on_break=on_break)
    try:
        started = pool.get(2)
        assert started is not None
        started.submit(os.getpid).result()
        pool.broke(started)
        pool.broke(started)
        assert len(seen) == 1 and seen[0] >= 1  # shutdown would have emptied the table
    finally:
        pool.close()


def test_close_ends_the_pause(pool: WorkerPool):
    started = pool.get(1)
    assert started is not None
    pool.broke(started)
    assert pool.get(1) is None
    pool.close()
    again = pool.get(1)
    assert again is not None and again.submit(os.getpid).result() != os.getpid()

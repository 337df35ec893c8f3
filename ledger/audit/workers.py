"""The audit's worker processes: one starter for every pool the audit uses.

The replay's decoding of stored proof batches (``ledger.audit.stored_batches``) and the
parallel ``audit verify`` (``ledger.audit.parallel``) both take their processes from here:
forkserver processes (an audit may run inside a threaded server, and forking a threaded
process can copy held locks into the child), each killed when the process that started
its pool ends (``ledger.lifetime.pool_worker_dies_with``), all stopped at exit.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor

from ledger.lifetime import pool_worker_dies_with

PRELOAD = ["ledger.audit.parallel"]
"""Modules the fork server imports once, before it forks any worker (it imports the
``ledger`` package, hence every module a worker of the audit or of the signature checker
runs): a worker then starts in milliseconds instead of importing for a second or more."""

_POOLS: dict[str, tuple[ProcessPoolExecutor, int]] = {}
_POOLS_LOCK = threading.Lock()


def cpu_count() -> int:
    """Returns the number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def process_pool(workers: int, role: str = "decode") -> ProcessPoolExecutor:
    """Returns the pool of ``role``, (re)created with ``workers`` processes. A pool of
    one process runs its tasks one after the other, in the order they were submitted."""
    with _POOLS_LOCK:
        found = _POOLS.get(role)
        if found is not None and found[1] == workers:
            return found[0]
        if found is not None:
            found[0].shutdown(wait=True)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)  # no effect once the fork server runs
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                   initializer=pool_worker_dies_with,
                                   initargs=(os.getpid(),))
        _POOLS[role] = (pool, workers)
        return pool


def shutdown_pools() -> None:
    """Stops every pool started here."""
    with _POOLS_LOCK:
        pools = [pool for pool, _ in _POOLS.values()]
        _POOLS.clear()
    for pool in pools:
        pool.shutdown(wait=True)


atexit.register(shutdown_pools)

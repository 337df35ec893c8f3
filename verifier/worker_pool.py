"""WorkerPool: a process pool started on first use and left alone for a while after it
breaks.

A pool breaks when one of its workers ends unasked: the kernel's OOM killer, or a signal
to a server's whole process group (a service manager stopping every process of the
service, ``kill -TERM -PGID``), which reaches the workers as soon as the server. Its
users then work in the calling process, and for ``PAUSE_AFTER_BREAK_SECONDS`` after the
break no fresh pool starts: none within a stopping server's grace, and workers killed
over and over are not restarted for every batch.

The one owner of that rule. Relied on by ``verifier.cpu`` (share hashing) and
``ledger.signatures`` (Ed25519 checks).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

PAUSE_AFTER_BREAK_SECONDS = 30.0
"""How long after a pool broke its users work in the calling process before a fresh pool
is started (read at each start, so a test may shorten it)."""


class WorkerPool:
    """One process pool, started by ``start(workers)`` when first wanted, restarted when
    another size is wanted, and paused after it breaks.

    ``on_break`` runs once for a broken pool, before the pool is shut down (while its
    table of processes is still there: a user whose workers write into shared memory
    kills those that may still run). The warning of a break goes to ``logger`` (the
    user's own), naming the pool ``what`` and saying where the work goes meanwhile
    (``meanwhile``)."""

    def __init__(self, start: Callable[[int], ProcessPoolExecutor], what: str,
                 meanwhile: str, logger: logging.Logger,
                 on_break: Callable[[ProcessPoolExecutor], None] | None = None) -> None:
        self._start = start
        self.what = what
        self.meanwhile = meanwhile
        self.logger = logger
        self.on_break = on_break
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._size = 0
        self._broken_at: float | None = None

    @property
    def current(self) -> ProcessPoolExecutor | None:
        """Returns the pool now started, or None."""
        return self._pool

    def get(self, workers: int) -> ProcessPoolExecutor | None:
        """Returns the pool of ``workers`` processes (started now, or restarted when it has
        another size), or None within ``PAUSE_AFTER_BREAK_SECONDS`` of a break: work in
        the calling process then. Precondition: ``workers`` ≥ 1."""
        with self._lock:
            if (self._broken_at is not None
                    and time.monotonic() - self._broken_at < PAUSE_AFTER_BREAK_SECONDS):
                return None
            if self._pool is None or workers != self._size:
                if self._pool is not None:
                    self._pool.shutdown(wait=True)
                    self._pool, self._size = None, 0
                self._pool, self._size = self._start(workers), workers
            return self._pool

    def broke(self, pool: ProcessPoolExecutor) -> None:
        """Forgets ``pool``, whose call raised ``BrokenProcessPool``, and starts the pause;
        warns once per broken pool (a second thread that finds it broken does nothing)."""
        with self._lock:
            if self._pool is not pool:
                return  # another thread got here first
            self._pool, self._size, self._broken_at = None, 0, time.monotonic()
        if self.on_break is not None:
            self.on_break(pool)
        pool.shutdown(wait=False)
        self.logger.warning("%s ended; %s for %.0f s, then on fresh workers", self.what,
                            self.meanwhile, PAUSE_AFTER_BREAK_SECONDS)

    def running_workers(self) -> int:
        """Returns how many worker processes are started and alive."""
        with self._lock:
            pool: Any = self._pool  # the executor's own table of its processes
            if pool is None:
                return 0
            return sum(1 for process in dict(pool._processes or {}).values()
                       if process.is_alive())

    def close(self) -> None:
        """Stops the pool, if one was started, and ends any pause (a later ``get``
        starts a fresh pool). No other pool starts while it stops."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            self._pool, self._size, self._broken_at = None, 0, None

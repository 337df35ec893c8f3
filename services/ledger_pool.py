"""What every servicer holds: the ledger, its history index and a pool for blocking calls.

The ledger (eventsourcing on SQLite or PostgreSQL) is synchronous; servicers run each
ledger call on a bounded thread pool so the asyncio loop keeps serving other calls.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, ParamSpec, TypeVar

from ledger import AuditLog, Follower, HistoryIndex, Ledger
from services.log_signal import LogSignal
from services.metrics import ServerMetrics

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_WORKERS = 8
DEFAULT_TRADE_BATCH = 500
DEFAULT_POLL_SECONDS = 0.05


@dataclass
class LedgerPool:
    """The ledger and the means to call it from asyncio servicers."""

    ledger: Ledger
    history: HistoryIndex
    executor: ThreadPoolExecutor
    trade_batch_size: int = DEFAULT_TRADE_BATCH
    poll_seconds: float = DEFAULT_POLL_SECONDS
    audit: AuditLog | None = None
    metrics: ServerMetrics | None = None
    """Set by ``ServerMetrics.attach`` when the server exports Prometheus metrics."""
    log_signal: LogSignal | None = None
    """Wakes live streams when the log grows (LISTEN/NOTIFY on PostgreSQL)."""
    follower: Follower | None = None
    """What follows the audit log while the pool is open (a thread or a process)."""

    def __post_init__(self) -> None:
        if self.log_signal is None:
            self.log_signal = LogSignal(self.ledger.recorder, self.ledger.config.is_postgres,
                                        self.poll_seconds)

    async def wait_for_log(self) -> None:
        """Returns when the log may have grown."""
        assert self.log_signal is not None
        self.log_signal.poll_seconds = self.poll_seconds
        await self.log_signal.wait()

    @classmethod
    def open(cls, ledger: Ledger, workers: int = DEFAULT_WORKERS,
             trade_batch_size: int = DEFAULT_TRADE_BATCH,
             poll_seconds: float = DEFAULT_POLL_SECONDS,
             audit: AuditLog | None = None, signature_workers: int = 0,
             follower: Follower | Literal["thread"] | None = "thread") -> LedgerPool:
        """Returns a backend over ``ledger`` with its history index caught up; ``audit``
        (when given) serves AuditService and is followed in the background by
        ``follower`` ("thread": its own follower in a thread; None: not here);
        ``signature_workers`` processes check the signatures of streamed trades."""
        history = HistoryIndex(ledger)
        history.catch_up()
        ledger.signatures.workers = signature_workers
        ledger.signatures.start()
        if follower == "thread":
            follower = audit.follower if audit is not None else None
        if follower is not None:
            follower.start()
        return cls(ledger, history, ThreadPoolExecutor(workers, "valedger-ledger"),
                   trade_batch_size, poll_seconds, audit, follower=follower)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Returns ``fn(*args, **kwargs)`` computed on the pool (the caller's context
        variables, such as its grant, go along)."""
        context = contextvars.copy_context()
        call = functools.partial(context.run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self.executor, call)

    def expect_stop(self) -> None:
        """Says the server is shutting down (``close`` follows): an audit follower in a
        child process that ends from now on ended with the server, not on its own."""
        if self.follower is not None:
            self.follower.expect_stop()

    def close(self) -> None:
        """Waits for running ledger calls, then closes the store."""
        self.ledger.calendar.stop()
        self.executor.shutdown(wait=True)
        self.ledger.signatures.close()
        if self.log_signal is not None:
            self.log_signal.close()
        if self.follower is not None:
            self.follower.stop()
        self.ledger.close()

"""Wakes live streams when the log grows: PostgreSQL LISTEN/NOTIFY, polling elsewhere.

eventsourcing's PostgreSQL recorder sends ``NOTIFY <events table>`` in every insert
transaction. One thread per server listens on that channel (one connection, however many
streams are open) and wakes every waiting stream; a stream still re-reads the log on a
slow timer, so a lost notification only delays it. On SQLite, streams poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

from psycopg import sql

log = logging.getLogger(__name__)

LISTEN_TIMEOUT_SECONDS = 0.5
SAFETY_POLL_SECONDS = 1.0
"""How often a waiting stream on PostgreSQL re-reads the log without a notification."""


class LogSignal:
    """Lets asyncio streams wait until the log may have grown."""

    def __init__(self, recorder: Any, is_postgres: bool, poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds
        self.safety_poll_seconds = SAFETY_POLL_SECONDS
        self.listening = False
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if is_postgres and hasattr(recorder, "channel_name"):
            self._thread = threading.Thread(target=self._listen, args=(recorder,),
                                            name="valedger-listen", daemon=True)
            self._thread.start()

    def _listen(self, recorder: Any) -> None:
        try:
            with recorder.datastore.get_connection() as conn:
                conn.execute(sql.SQL("LISTEN {0}").format(sql.Identifier(recorder.channel_name)))
                conn.commit()
                self.listening = True
                while not self._stop.is_set():
                    for _ in conn.notifies(timeout=LISTEN_TIMEOUT_SECONDS, stop_after=1):
                        self.wake()
        except Exception:
            log.warning("LISTEN on the event log failed; streams fall back to polling",
                        exc_info=True)
        finally:
            self.listening = False

    def wake(self) -> None:
        """Wakes every waiting stream (any thread may call it)."""
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(event.set)

    async def wait(self) -> None:
        """Returns when the log may have grown: on a notification, or after the poll time."""
        timeout = self.safety_poll_seconds if self.listening else self.poll_seconds
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._lock:
            self._waiters.add(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout)
        finally:
            with self._lock:
                self._waiters.discard(waiter)

    def close(self) -> None:
        """Stops listening."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(LISTEN_TIMEOUT_SECONDS * 4)

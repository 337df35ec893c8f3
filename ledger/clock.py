"""The ledger's clock: the server's time, never the client's.

A ledger is given a clock (a callable returning an aware UTC datetime) when it is
constructed; ``recorded_at`` on every event and every time window of DESIGN §3 read it.
Tests and demos inject a :class:`ManualClock` to control time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]
"""Returns the current time as an aware UTC datetime."""


def system_clock() -> datetime:
    """Returns the machine's current UTC time."""
    return datetime.now(UTC)


class ManualClock:
    """A clock that shows the time it is set to (thread-safe)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock's time must be timezone-aware")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        """Sets the time (aware datetimes only)."""
        if when.tzinfo is None:
            raise ValueError("a clock's time must be timezone-aware")
        with self._lock:
            self._now = when.astimezone(UTC)

    def advance(self, by: timedelta) -> datetime:
        """Moves the time on by ``by``; returns the new time."""
        with self._lock:
            self._now += by
            return self._now

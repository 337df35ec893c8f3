"""Time windows: how far the time a client claims may lie from the server's clock.

Every write has ``at`` (the client's time, inside its signed payload) and
``recorded_at`` (the server's clock). ``at`` may lie at most ``clock_skew_seconds``
after ``recorded_at`` and at most the window of its kind before it (DESIGN §3; all of
them versioned policy). The one owner of that rule: every use case calls
:func:`check_window` before deciding anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from functools import cached_property

from ledger.domain.policy import PolicyView
from ledger.errors import RuleViolation, amount


class WindowKind(Enum):
    """Kinds of write with a window of their own, and the policy parameter of each."""

    TRADE = "trade_window_hours"
    METER_READING = "meter_reading_window_hours"
    OUTPUT_REPORT = "output_report_window_hours"
    PROOF_BATCH = "proof_batch_window_hours"
    REGULATOR = "regulator_window_hours"


@dataclass(frozen=True)
class Window:
    """The window of one kind of write under one policy: how far after and before the
    server's time a client's time may lie."""

    skew_seconds: Decimal
    hours: Decimal

    @cached_property
    def skew(self) -> timedelta:
        """Returns how far after the server's time a client's time may lie."""
        return timedelta(seconds=float(self.skew_seconds))

    @cached_property
    def span(self) -> timedelta:
        """Returns how far before the server's time a client's time may lie."""
        return timedelta(hours=float(self.hours))

    @classmethod
    def of(cls, kind: WindowKind, policy: PolicyView) -> Window:
        """Returns the window of ``kind`` under ``policy`` (read at the server's time)."""
        return cls(policy.decimal("clock_skew_seconds"), policy.decimal(kind.value))

    def fault(self, at: datetime, recorded_at: datetime
              ) -> tuple[str, dict[str, str]] | None:
        """Returns (message, figures) when ``at`` lies outside the window around
        ``recorded_at``, or None when it lies inside."""
        early = at > recorded_at + self.skew
        late = at < recorded_at - self.span
        if not (early or late):
            return None
        figures = {"at": at.isoformat(), "recorded_at": recorded_at.isoformat(),
                   "clock_skew_seconds": amount(self.skew_seconds),
                   "window_hours": amount(self.hours)}
        if early:
            return (f"at {at.isoformat()} is more than {amount(self.skew_seconds)} s after "
                    f"the server's time {recorded_at.isoformat()}", figures)
        return (f"at {at.isoformat()} is more than {amount(self.hours)} h before the "
                f"server's time {recorded_at.isoformat()}", figures)


def check_window(kind: WindowKind, at: datetime, recorded_at: datetime,
                 policy: PolicyView) -> None:
    """Raises RuleViolation TIME_OUTSIDE_WINDOW when ``at`` lies outside its window
    (``policy`` read at the server's time)."""
    fault = Window.of(kind, policy).fault(at, recorded_at)
    if fault is not None:
        raise RuleViolation("TIME_OUTSIDE_WINDOW", fault[0], fault[1])

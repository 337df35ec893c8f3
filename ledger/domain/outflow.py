"""OutflowAccount: one participant's transfers in one month, for the outflow cap and the
structuring rule.

Keeping the running total in an aggregate (rather than summing a read model) makes the cap
exact under concurrency: two servers racing on the same account conflict on its version,
and the loser retries against the new total. A near-threshold transfer whose structuring
window reaches into the month before or after also takes that month's version
(:meth:`OutflowAccount.note_neighbour`), so a pattern across a month's edge is decided
the same way.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate, derived_id


def period_of(at: datetime) -> str:
    """Returns the outflow period (calendar month, UTC) of a time, e.g. ``2026-03``."""
    return f"{at.year:04d}-{at.month:02d}"


def next_period(period: str) -> str:
    """Returns the month after ``period``."""
    year, month = map(int, period.split("-"))
    return f"{year + 1:04d}-01" if month == 12 else f"{year:04d}-{month + 1:02d}"


def previous_period(period: str) -> str:
    """Returns the month before ``period``."""
    year, month = map(int, period.split("-"))
    return f"{year - 1:04d}-12" if month == 1 else f"{year:04d}-{month - 1:02d}"


class OutflowAccount(LedgerAggregate):
    """Outflows and near-threshold transfers of one participant in one month."""

    @staticmethod
    def create_id(participant_id: UUID, period: str) -> UUID:
        return derived_id("OutflowAccount", participant_id, period)

    @event("Opened")
    def __init__(self, participant_id: UUID, period: str) -> None:
        self.participant_id = participant_id
        self.period = period
        self.outflow_usd = Decimal(0)
        self.near_threshold: list[tuple[datetime, UUID]] = []

    @event("OutflowDebited")
    def debit(self, request_id: str, at: datetime, trade_id: UUID, value_usd: Decimal) -> None:
        self.outflow_usd += value_usd

    @event("NearThresholdTransfer")
    def note_near_threshold(self, request_id: str, at: datetime, trade_id: UUID,
                            value_usd: Decimal) -> None:
        self.near_threshold.append((at, trade_id))

    @event("NeighbourNearThreshold")
    def note_neighbour(self, request_id: str, at: datetime, trade_id: UUID) -> None:
        """Records that a near-threshold transfer of the month before or after, whose
        structuring window reaches into this month, was checked against this account. It
        changes nothing the rules read; it takes a version, so two transfers on either
        side of a month's edge deciding at once collide, and the second decides again
        seeing the first (``ledger.trading`` relies on it)."""

    def near_threshold_between(self, start: datetime, end: datetime) -> list[UUID]:
        """Returns the near-threshold trades with start < time ≤ end."""
        return [trade for at, trade in self.near_threshold if start < at <= end]

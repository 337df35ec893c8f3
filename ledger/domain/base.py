"""Shared pieces of every aggregate: request-id bookkeeping, deterministic ids, intervals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

LEDGER_NAMESPACE = UUID("6f1d2c3e-5a4b-4c8d-9e7f-0a1b2c3d4e5f")
"""Namespace of every deterministic aggregate id (uuid5)."""


def derived_id(kind: str, *parts: object) -> UUID:
    """Returns the deterministic id of an aggregate of ``kind`` named by ``parts``."""
    return uuid5(LEDGER_NAMESPACE, ":".join([kind, *map(str, parts)]))


def utc(value: datetime) -> datetime:
    """Returns ``value`` as an aware UTC datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def now() -> datetime:
    """Returns the current UTC time."""
    return datetime.now(UTC)


class LedgerAggregate(Aggregate):
    """Base aggregate: every event carries ``request_id`` and ``at`` (its own UTC time).

    Each applied event records its request id with the version it produced, so a retried
    command finds its first result on the aggregate itself and records nothing new.
    """

    class Event(Aggregate.Event):
        def mutate(self, aggregate: Any) -> Any:
            result = super().mutate(aggregate)
            request_id = getattr(self, "request_id", None)
            if result is not None and request_id is not None:
                seen = result.__dict__.setdefault("_request_versions", {})
                seen[request_id] = self.originator_version
            return result

    def version_of_request(self, request_id: str) -> int | None:
        """Returns the version an earlier command with ``request_id`` produced, or None."""
        seen: dict[str, int] = self.__dict__.get("_request_versions", {})
        return seen.get(request_id)


class Intervals:
    """Half-open time intervals [start, end) with an open end allowed (None)."""

    def __init__(self) -> None:
        self.spans: list[tuple[datetime, datetime | None]] = []

    def open(self, start: datetime, end: datetime | None) -> None:
        """Adds the interval [start, end)."""
        self.spans.append((start, end))

    def close_at(self, at: datetime) -> None:
        """Ends at ``at`` every interval that covers ``at``."""
        self.spans = [
            (s, at) if s <= at and (e is None or at < e) else (s, e) for s, e in self.spans
        ]

    def covering(self, at: datetime) -> tuple[datetime, datetime | None] | None:
        """Returns the interval that covers ``at``, or None."""
        for s, e in self.spans:
            if s <= at and (e is None or at < e):
                return s, e
        return None

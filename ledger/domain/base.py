"""Shared pieces of every aggregate: the ledger's stamp on each event, request identity,
deterministic ids and time intervals.

Every event of the ledger carries three fields no client chooses (DESIGN §3 "Trust"):
``requester`` (whose request id this is: the calling participant, the regulator or the
grid operator), ``request_digest`` (SHA-256 of what the request asked) and
``recorded_at`` (the server's clock when the command was decided). A use case sets them
once per command with :func:`stamped`; aggregates copy them into every event they
trigger, so no path can forget them.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.errors import RequestIdReused

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


@dataclass(frozen=True)
class Stamp:
    """What the ledger itself says about a command: who sent it (the scope its request
    id lives in), the digest of what it asked, and when the server decided it."""

    requester: str
    digest: str
    recorded_at: datetime


_stamp: ContextVar[Stamp] = ContextVar("valedger_stamp")


class _Stamping:
    """The context of :func:`stamped` (a plain class: a batch of trades enters one per
    trade, and a generator-based context manager costs several times as much)."""

    __slots__ = ("stamp", "token")

    def __init__(self, stamp: Stamp) -> None:
        self.stamp = stamp

    def __enter__(self) -> Stamp:
        self.token = _stamp.set(self.stamp)
        return self.stamp

    def __exit__(self, *exc: object) -> None:
        _stamp.reset(self.token)


def stamped(stamp: Stamp) -> _Stamping:
    """Returns a context in which every event triggered carries ``stamp``."""
    return _Stamping(stamp)


def current_stamp() -> Stamp:
    """Returns the stamp of the command being decided; raises LookupError outside one
    (an event triggered outside a use case is a programming error)."""
    try:
        return _stamp.get()
    except LookupError:
        raise LookupError("events are triggered only inside ledger.domain.base.stamped(): "
                          "a use case stamps every command") from None


def _stamp_fields() -> dict[str, Any]:
    stamp = current_stamp()
    return {"requester": stamp.requester, "request_digest": stamp.digest,
            "recorded_at": stamp.recorded_at}


class LedgerAggregate(Aggregate):
    """Base aggregate: every event carries ``request_id`` and ``at`` (the time the client
    says it happened) plus the ledger's stamp (``requester``, ``request_digest``,
    ``recorded_at``).

    Each applied event records its (requester, request id) with the version it produced
    and the request's digest, so a retried command finds its first result on the
    aggregate itself and records nothing new, and a request id reused for another
    payload is refused (:meth:`version_of_request`).
    """

    class Event(Aggregate.Event):
        requester: str
        request_digest: str
        recorded_at: datetime

        def mutate(self, aggregate: Any) -> Any:
            result = super().mutate(aggregate)
            request_id = getattr(self, "request_id", None)
            if result is not None and request_id is not None:
                seen = result.__dict__.setdefault("_request_versions", {})
                seen[(self.requester, request_id)] = (self.originator_version,
                                                      self.request_digest)
            return result

    class Created(Event, Aggregate.Created):
        pass

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        kwargs.update(_stamp_fields())
        super().trigger_event(event_class, **kwargs)

    @classmethod
    def _create(cls, event_class: Any, *, id: Any = None, **kwargs: Any) -> Any:
        kwargs.update(_stamp_fields())
        return super()._create(event_class, id=id, **kwargs)

    def version_of_request(self, requester: str, request_id: str,
                           digest: str) -> int | None:
        """Returns the version an earlier command of ``requester`` with ``request_id``
        produced (None when there was none); raises RequestIdReused when that command
        asked something else (another digest)."""
        seen: dict[tuple[str, str], tuple[int, str]] = self.__dict__.get(
            "_request_versions", {})
        first = seen.get((requester, request_id))
        if first is None:
            return None
        if first[1] != digest:
            raise RequestIdReused(request_id, requester, digest, self.id)
        return first[0]

    def created_by(self, requester: str, request_id: str, digest: str) -> bool:
        """Returns True when this aggregate was created by that request (raises
        RequestIdReused when the request id was used there for another payload)."""
        return self.version_of_request(requester, request_id, digest) == 1


def standing_at_both(standing_at: Callable[[datetime], str | None], at: datetime,
                     recorded_at: datetime) -> str | None:
    """Returns why something may not act at the client's time ``at`` or at the server's
    ``recorded_at`` (it must be in standing at both; ``standing_at`` says why not at one
    time), or None when it may. Relied on by ``Participant.standing`` and
    ``Licence.standing``."""
    why = standing_at(at)
    if why is not None:
        return f"{why} at {at.isoformat()}"
    why = standing_at(recorded_at)
    return None if why is None else f"{why} at {recorded_at.isoformat()} (recorded)"


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

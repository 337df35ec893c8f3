"""What every use case shares: stamping a command, retrying it, and finding the first
result of a request.

A use case is one object (``Licensing``, ``Trading``, ``ProofSubmission`` …) that
decides, retries and saves one kind of command, depending on a :class:`LedgerStore`
and a clock alone. Each command runs :meth:`UseCase.run`: its attempt is decided under a
:class:`~ledger.domain.base.Stamp` (requester, digest, the server's time), so every
event it triggers carries them; a conflict with a concurrent writer re-runs the attempt,
and too many conflicts raise :class:`~ledger.errors.Contention` (gRPC ABORTED), never
anything the client would read as a failure of its own.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import RecordConflictError

from ledger.attempts import keep_reused_request
from ledger.clock import Clock
from ledger.domain.base import LedgerAggregate, Stamp, stamped
from ledger.errors import Contention, InvalidRequest, RequestIdReused
from ledger.receipts import Receipt
from ledger.requests import check_requester, digest_of
from ledger.store import LedgerStore
from ledger.validation import check_request_id, event_time
from ledger.windows import WindowKind, check_window

T = TypeVar("T")
A = TypeVar("A", bound=LedgerAggregate)

MAX_CONFLICT_RETRIES = 30
"""Attempts of one command before it answers Contention."""
BACKOFF_SECONDS = 0.002
"""First pause after a conflict; it doubles (with jitter) up to MAX_BACKOFF_SECONDS."""
MAX_BACKOFF_SECONDS = 0.1


class UseCase:
    """Base of every use case: a store to decide against and a clock to stamp with."""

    def __init__(self, store: LedgerStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def begin(self, command: str, requester: str, request_id: str, at: datetime | None,
              window: WindowKind | None = None, **fields: object) -> tuple[Stamp, datetime]:
        """Returns the stamp of a command arriving now and its client time (``at``, or the
        server's time when none is given), after checking the request id, the requester
        and (when ``window`` is given) that ``at`` lies in its window. ``fields`` are
        what the request asks, checked already: their digest tells a retry from a reused
        request id."""
        check_request_id(request_id)
        check_requester(requester)
        recorded_at = self.clock()
        when = event_time(at, recorded_at)
        if window is not None:
            check_window(window, when, recorded_at, self.store.policy_at(recorded_at))
        digest = digest_of(command, {"request_id": request_id, "at": at, **fields})
        return Stamp(requester, digest, recorded_at), when

    def run(self, stamp: Stamp | None, attempt: Callable[[], T]) -> T:
        """Returns ``attempt()`` decided under ``stamp`` (None: the attempt stamps its
        own parts), re-run after optimistic-concurrency conflicts; raises Contention
        when they do not stop."""
        pause = BACKOFF_SECONDS
        for _ in range(MAX_CONFLICT_RETRIES):
            try:
                if stamp is None:
                    return attempt()
                with stamped(stamp):
                    return attempt()
            except RequestIdReused as reuse:
                self.keep_reuse(reuse)
                raise
            except RecordConflictError:
                # Jittered exponential back-off: writers racing on one aggregate (one
                # buyer's outflow account, say) spread out instead of colliding again.
                time.sleep(pause * random.uniform(0.5, 1.5))
                pause = min(pause * 2, MAX_BACKOFF_SECONDS)
        raise Contention(f"the store kept changing under this request for "
                         f"{MAX_CONFLICT_RETRIES} attempts; nothing was recorded, retry "
                         "with the same request id")

    def keep_reuse(self, reuse: RequestIdReused) -> None:
        """Keeps a request refused for reusing its request id on the record (an alert),
        then lets the refusal go on to the caller."""
        keep_reused_request(self.store, reuse, self.clock())

    def create(self, stamp: Stamp, request_id: str, cls: type[A], aggregate_id: UUID,
               build: Callable[[], Sequence[Aggregate]]) -> Receipt:
        """Returns the receipt of creating ``aggregate_id`` (plus companions ``build``
        returns), or of the first creation when this request already made it."""

        def attempt() -> Receipt:
            existing = self.store.find(aggregate_id)
            if existing is not None:
                if not isinstance(existing, cls):
                    raise InvalidRequest("request_id", "already used for another command")
                existing.version_of_request(stamp.requester, request_id, stamp.digest)
                return Receipt(aggregate_id, 1, replayed=True)
            self.store.save(*build())
            return Receipt(aggregate_id, 1)

        return self.run(stamp, attempt)

    def mutate(self, stamp: Stamp, request_id: str, aggregate_id: UUID, cls: type[A],
               kind: str, change: Callable[[A], Any]) -> Receipt:
        """Returns the receipt of applying ``change`` to an aggregate, or the first
        result when this request already changed it."""

        def attempt() -> Receipt:
            aggregate = self.store.get_typed(aggregate_id, cls, kind)
            seen = aggregate.version_of_request(stamp.requester, request_id, stamp.digest)
            if seen is not None:
                return Receipt(aggregate_id, seen, replayed=True)
            change(aggregate)
            self.store.save(aggregate)
            return Receipt(aggregate_id, aggregate.version)

        return self.run(stamp, attempt)

"""The narrow store protocol every use case depends on (``ledger.application.Ledger``
implements it); use cases never see the eventsourcing Application itself."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Recording

from ledger.domain.policy import PolicyView

A = TypeVar("A", bound=Aggregate)


class LedgerStore(Protocol):
    """Reads and writes aggregates of the one log."""

    def find(self, aggregate_id: UUID) -> Any | None:
        """Returns a private copy of the current aggregate (to change), or None."""
        ...

    def get_typed(self, aggregate_id: UUID, cls: type[A], kind: str) -> A:
        """Returns a private copy of an aggregate of type ``cls``; NotFound otherwise."""
        ...

    def read_many(self, aggregate_ids: Collection[UUID]) -> dict[UUID, Any | None]:
        """Returns shared, read-only aggregates (None where absent), checked in one query."""
        ...

    def read_typed(self, aggregate_id: UUID, cls: type[A], kind: str) -> A:
        """Returns a shared, read-only aggregate of type ``cls``; NotFound otherwise."""
        ...

    def stored_versions(self, aggregate_ids: Collection[UUID]) -> dict[UUID, int]:
        """Returns the latest stored version of each id that has events (one query)."""
        ...

    def trades_of_requests(self, requester: str, request_ids: Collection[str]
                           ) -> dict[str, UUID]:
        """Returns the trade each of a requester's request ids made, for those used
        before (one query; ``ledger.request_index``)."""
        ...

    def cached_holder(self, licence_id: UUID) -> UUID | None:
        """Returns the holder of a cached licence, or None when it is not cached."""
        ...

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Records the pending events of ``objs`` in one transaction (``request_keys``:
        the ``RequestKey`` rows of the trades among them, in the same transaction)."""
        ...

    def policy_at(self, at: datetime) -> PolicyView:
        """Returns the policy in force at ``at``."""
        ...

"""TradeBatch: the aggregates a batch of trades reads and changes while it is decided.

Relied on by ``ledger.trading`` alone: it decides every trade of a batch against one
TradeBatch, then saves what the batch changed in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

_ABSENT = object()


@dataclass
class TradeBatch:
    """Aggregates loaded or created while deciding a batch of commands.

    Two kinds: the rule inputs the batch only reads (licences, participants, the policy),
    shared with the ledger's cache and loaded many at a time; and the aggregates it may
    change (outflow accounts), each loaded as a private copy.
    """

    find: Callable[[UUID], Any]
    """Returns a private copy of an aggregate, or None."""
    read_many: Callable[[Collection[UUID]], dict[UUID, Any]]
    """Returns shared, read-only aggregates (None where absent), checked in one query."""
    loaded: dict[UUID, Aggregate | None] = field(default_factory=dict)
    changed: dict[UUID, Aggregate] = field(default_factory=dict)
    shared: dict[UUID, Any] = field(default_factory=dict)
    _seen: dict[UUID, Any] = field(default_factory=dict, init=False, repr=False)
    """What ``read`` answers: ``loaded`` over ``shared``, kept as one dict so a read is
    one lookup (a UUID hashes in Python, and a trade reads four or five of them)."""

    def prefetch(self, aggregate_ids: Iterable[UUID]) -> None:
        """Loads the rule inputs ``aggregate_ids`` (read-only) together."""
        wanted = [i for i in dict.fromkeys(aggregate_ids) if i not in self.shared]
        if wanted:
            found = self.read_many(wanted)
            self.shared.update(found)
            for aggregate_id, aggregate in found.items():
                if aggregate_id not in self.loaded:
                    self._seen[aggregate_id] = aggregate

    def read(self, aggregate_id: UUID) -> Any | None:
        """Returns a rule input, which must not be changed, or None when absent."""
        found = self._seen.get(aggregate_id, _ABSENT)
        if found is _ABSENT:
            self.prefetch((aggregate_id,))
            found = self._seen[aggregate_id]
        return found

    def get(self, aggregate_id: UUID) -> Aggregate | None:
        """Returns an aggregate the batch may change, loading it once per batch, or None
        when absent."""
        if aggregate_id not in self.loaded:
            self.loaded[aggregate_id] = self._seen[aggregate_id] = self.find(aggregate_id)
        return self.loaded[aggregate_id]

    def add(self, aggregate: Aggregate) -> None:
        """Marks an aggregate for saving with the batch."""
        self.loaded[aggregate.id] = self._seen[aggregate.id] = aggregate
        self.changed[aggregate.id] = aggregate

"""Cache of the small aggregates every command reads: participants, licences, policy and
outflow accounts.

Each command checks its rules against these aggregates; reloading them from the store
means decrypting and replaying every one of their events per command (and a busy
participant's monthly outflow account grows with every transfer). Cached copies are
fast-forwarded with the events recorded since (by any process), so they are never stale,
and the repository hands out deep copies, so a command's changes reach the cache only
through the store. Large or one-off aggregates (trades, proof batches) are not cached.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import LRUCache

from ledger.domain.licence import Licence
from ledger.domain.outflow import OutflowAccount
from ledger.domain.participant import Participant
from ledger.domain.policy import Policy

HOT_AGGREGATES = (Participant, Licence, Policy, OutflowAccount)
"""Types of aggregate the cache keeps."""

HOT_AGGREGATES_MAXSIZE = 10_000
"""How many aggregates the cache keeps (least recently used go first)."""


class HotAggregateCache(LRUCache[UUID, Any]):
    """An LRU cache of the repository that keeps only HOT_AGGREGATES."""

    def put(self, key: UUID, value: Any | None) -> Any | None:
        """Caches ``value`` when it is one of the hot aggregate types."""
        if isinstance(value, HOT_AGGREGATES):
            return super().put(key, value)
        return None

"""Cache of the small aggregates every command reads: participants, licences, policy and
outflow accounts.

Each command checks its rules against these aggregates; reloading them from the store
means decrypting and replaying every one of their events per command (and a busy
participant's monthly outflow account grows with every transfer). Cached copies are
fast-forwarded with the events recorded since (by any process), so they are never stale,
and the repository hands out deep copies, so a command's changes reach the cache only
through the store. Large or one-off aggregates (trades, proof batches) are not cached.

Fast-forwarding costs a query per aggregate, and a batch of trades reads hundreds of
them; ``LatestVersions`` asks the store for the latest version of all of them in one
query instead, so only the aggregates that did move are read again. Rule inputs a batch
only reads (``Ledger.read_many``) are the cache's own objects, not copies: code that
reads them never changes them, and anything a command changes comes from
``Ledger.find``, a private copy.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from uuid import UUID

from eventsourcing.application import LRUCache
from eventsourcing.persistence import AggregateRecorder

from ledger.domain.licence import Licence
from ledger.domain.outflow import OutflowAccount
from ledger.domain.participant import Participant
from ledger.domain.policy import Policy
from ledger.tables import events_table, is_postgres, row_tuples

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


class LatestVersions:
    """Reads the latest stored version of many aggregates in one query."""

    chunk = 500
    """Ids per statement (SQLite caps the parameters of one statement)."""

    def __init__(self, recorder: AggregateRecorder) -> None:
        self.recorder: Any = recorder  # SQLite or PostgreSQL: it has a datastore
        self.is_postgres = is_postgres(recorder)
        table = events_table(recorder)
        # One index probe per id (the primary key is originator id, version): the latest
        # version of each, however many events an aggregate has.
        self._latest = (f"SELECT originator_version FROM {table} WHERE originator_id = "
                        "wanted.id ORDER BY originator_version DESC LIMIT 1")

    def __call__(self, aggregate_ids: Collection[UUID]) -> dict[UUID, int]:
        """Returns the latest version of each of ``aggregate_ids`` that has events."""
        ids = list(dict.fromkeys(aggregate_ids))
        versions: dict[UUID, int] = {}
        for start in range(0, len(ids), self.chunk):
            versions.update(self._query(ids[start:start + self.chunk]))
        return versions

    def _query(self, ids: list[UUID]) -> dict[UUID, int]:
        if self.is_postgres:
            statement = (f"SELECT wanted.id, ({self._latest}) "
                         "FROM unnest(%s::uuid[]) AS wanted(id)")
            params: tuple[Any, ...] = (ids,)
        else:
            values = ",".join("(?)" for _ in ids)
            statement = (f"WITH wanted(id) AS (VALUES {values}) "
                         f"SELECT wanted.id, ({self._latest}) FROM wanted")
            params = tuple(i.hex for i in ids)
        with self.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            rows = row_tuples(cursor.fetchall())
        return {i if isinstance(i, UUID) else UUID(str(i)): int(v)
                for i, v in rows if v is not None}

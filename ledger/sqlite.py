"""SQLite recorder of the one global log: eventsourcing's, plus the trade request index.

The index's rows (``ledger.request_index``) are inserted in the transaction that inserts
the events they stand for, so a request id is taken together with its trade or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

from ledger.request_index import SQLITE_TABLE, insert_sqlite

RECORDER_TOPIC = "ledger.sqlite:LedgerSQLiteRecorder"
"""``APPLICATION_RECORDER_TOPIC`` that selects this recorder."""


class LedgerSQLiteRecorder(SQLiteApplicationRecorder):
    """eventsourcing's SQLite recorder that also writes ``request_keys`` given to
    ``insert_events``."""

    def construct_create_table_statements(self) -> list[str]:
        """Returns eventsourcing's statements and the request index's."""
        return [*super().construct_create_table_statements(), SQLITE_TABLE]

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        insert_sqlite(c, kwargs.get("request_keys", ()))
        return ids

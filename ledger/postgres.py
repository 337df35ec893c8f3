"""PostgreSQL recorder of the one global log: eventsourcing's, minus psycopg pipeline mode.

eventsourcing inserts a transaction's events inside a psycopg pipeline. With psycopg 3.3.9
a statement whose parameters exceed the socket buffers (about 1 MB: a batch of ~1,000
encrypted trades) hangs for ever: the pipeline stops flushing once its command queue is
empty although libpq still holds unsent bytes, then waits for results the server cannot
produce because it is still waiting for those bytes (server state ``ClientRead``). The
same statements sent outside a pipeline cost one round trip each and never hang.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg.sql import SQL, Composed

from ledger.request_index import insert_postgres, postgres_create_statement

RECORDER_TOPIC = "ledger.postgres:LedgerPostgresRecorder"
"""``APPLICATION_RECORDER_TOPIC`` that selects this recorder."""


class LedgerPostgresRecorder(PostgresApplicationRecorder):
    """Inserts events in one transaction without pipeline mode; otherwise eventsourcing's.

    The table lock that makes commit order equal notification-id order is kept. The
    trade request index's rows (``request_keys`` given to ``insert_events``, see
    ``ledger.request_index``) are inserted in the same transaction, under the lock.
    """

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        statement = postgres_create_statement(datastore.schema)
        self.sql_create_statements.append(Composed([SQL(statement)]))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        """Returns the notification ids of the inserted events (None when there are none)."""
        with self.datastore.get_connection() as conn, conn.transaction():
            with conn.cursor() as curs:
                self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return None
            with conn.cursor() as curs:
                self._insert_stored_events(curs, stored_events, **kwargs)
                ids = self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
                insert_postgres(curs, self.datastore.schema, kwargs.get("request_keys", ()))
                return ids

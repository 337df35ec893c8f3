"""PostgreSQL recorder of the one global log: eventsourcing's, minus psycopg pipeline mode.

eventsourcing inserts a transaction's events inside a psycopg pipeline. With psycopg 3.3.9
a statement whose parameters exceed the socket buffers (about 1 MB: a batch of ~1,000
encrypted trades) hangs for ever: the pipeline stops flushing once its command queue is
empty although libpq still holds unsent bytes, then waits for results the server cannot
produce because it is still waiting for those bytes (server state ``ClientRead``). The
same statements sent outside a pipeline cost one round trip each and never hang.

Events are inserted with their columns as separate arrays and the states as one *binary*
``bytea[]`` parameter. eventsourcing sends an array of composite values in text form, in
which each state's bytes become escaped hex: a 6 MB proof batch took about 110 ms of the
server process's CPU to quote and several hundred milliseconds of the database's to parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg.cursor import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

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
        # %b: the states travel as a binary bytea[], not hex text inside composites.
        self.insert_events_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%s::{id_type}[], %s::bigint[], %s::text[], %b::bytea[])"
            " RETURNING notification_id"
        ).format(schema=Identifier(datastore.schema), table=Identifier(self.events_table_name),
                 id_type=Identifier(datastore.originator_id_type))

    def _insert_stored_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent],
                              **kwargs: Any) -> None:
        """Inserts the events under the table lock (as eventsourcing), notification ids
        in the order given."""
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(self.insert_events_statement, (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events]))

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

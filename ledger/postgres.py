"""PostgreSQL recorder of the one global log: a transaction is one statement, locked inside.

eventsourcing appends a transaction's events in several statements: take the table lock
(which makes commit order equal notification-id order, the guarantee the audit tree and
``StreamEvents`` rely on), notify, insert, then commit, each its own round trip. The lock
is held across those round trips, and between them the writing thread waits for its turn
at the GIL while its process's other threads decode, check and encode other calls; every
writer of the store waits with it. Here a transaction is one call of a function made with
the tables (``APPEND_FUNCTION``): the events and their trade request keys
(``ledger.request_index``) are its parameters, so they arrive before the lock is taken,
and the connections are in autocommit, so the server commits as the statement ends. The
lock is held for the inserts and the commit only. A store whose tables were made before
the function existed is written statement by statement, as before, until
``valedger db init`` is run on it again (which adds the function).

Events go with their columns as separate arrays and the states as one *binary*
``bytea[]`` parameter: eventsourcing sends an array of composite values in text form, in
which each state's bytes become escaped hex (a 6 MB proof batch took about 110 ms of the
server process's CPU to quote and several hundred milliseconds of the database's to
parse). A transaction of one event (a proof batch, a unary command) goes to a twin
function taking that event's columns as plain values (``APPEND_ONE_FUNCTION``): a 6 MB
state inside a ``bytea[]`` took the database about 1.4 times a plain ``bytea``'s time
(the array is built, read and unnested before the insert; 53 against 39 ms on the 2-core
VM, ``bench.append_bench --one-event-bytes 6000000``). On a store made before that
function, a server appends single events as arrays until ``valedger db init`` has added
it and the server is restarted.

Nothing goes through psycopg's pipeline mode: with psycopg 3.3.9 a statement whose
parameters exceed the socket buffers (about 1 MB, ~1,000 encrypted trades) hangs for ever
in a pipeline.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg.errors import DuplicateObject, UndefinedFunction
from psycopg.sql import SQL, Composed, Identifier

from ledger.request_index import (
    POSTGRES_ARRAY_COLUMNS,
    POSTGRES_SPLIT_COLUMNS,
    RequestKey,
    insert_postgres,
    postgres_create_statement,
    postgres_key_columns,
    postgres_table,
)
from ledger.tables import SCHEMA_LOCK_STATEMENT

RECORDER_TOPIC = "ledger.postgres:LedgerPostgresRecorder"
"""``APPLICATION_RECORDER_TOPIC`` that selects this recorder."""
APPEND_FUNCTION = "{table}_append"
"""Name of the append function, made in the store's schema for its events table."""
APPEND_ONE_FUNCTION = "{table}_append_one"
"""Name of the same function for one event, its columns as plain values."""

log = logging.getLogger(__name__)


class LedgerPostgresRecorder(PostgresApplicationRecorder):
    """Appends a transaction's events (and trade request keys) in one statement that takes
    the table lock itself; otherwise eventsourcing's recorder.

    Relied on by ``ledger.audit`` and ``StreamEvents`` (notification ids commit in
    order) and ``ledger.request_index`` (its rows commit with their trades, or not at
    all).
    """

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema, table = datastore.schema, self.events_table_name
        function = APPEND_FUNCTION.format(table=table)
        self.check_identifier_length(function)
        self.sql_create_statements.append(Composed([SQL(postgres_create_statement(schema))]))
        one = APPEND_ONE_FUNCTION.format(table=table)
        self.check_identifier_length(one)
        # The same body twice: all events as arrays, or one event as plain values (a
        # proof batch's multi-megabyte state is slower to take inside a bytea[]).
        body = ("RETURNS SETOF bigint LANGUAGE plpgsql AS $body$ "
                "BEGIN "
                "PERFORM set_config('lock_timeout', lock_seconds || 's', true); "
                "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
                "NOTIFY {channel}; "
                "RETURN QUERY INSERT INTO {schema}.{table} "
                "(originator_id, originator_version, topic, state) {rows} "
                "RETURNING notification_id; "
                "INSERT INTO {requests} (requester, request_id, trade_id) "
                "SELECT * FROM unnest(requesters, request_ids, trade_ids); "
                "END $body$")
        for name, events, rows in (
                (function, "ids {id_type}[], versions bigint[], topics text[], states bytea[]",
                 "SELECT * FROM unnest(ids, versions, topics, states)"),
                (one, "one_id {id_type}, one_version bigint, one_topic text, one_state bytea",
                 "VALUES (one_id, one_version, one_topic, one_state)")):
            self.sql_create_statements.append(SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}(" + events + ", "
                "requesters text[], request_ids text[], trade_ids uuid[], "
                "lock_seconds integer) " + body
            ).format(schema=Identifier(schema), function=Identifier(name),
                     id_type=Identifier(datastore.originator_id_type),
                     table=Identifier(table), channel=Identifier(self.channel_name),
                     requests=SQL(postgres_table(schema)), rows=SQL(rows)))
        # %b: the states travel as binary bytea, not hex text inside composites; the
        # request keys as ``ledger.request_index.postgres_key_columns`` makes them.
        calls = {function: ("SELECT id FROM {schema}.{function}(%s::{id_type}[], "
                            "%s::bigint[], %s::text[], %b::bytea[], {keys}, %s::integer) "
                            "AS appended(id)"),
                 one: ("SELECT id FROM {schema}.{function}(%s::{id_type}, %s::bigint, "
                       "%s::text, %b::bytea, {keys}, %s::integer) AS appended(id)")}
        self.append_statements = {(name == one, joined): SQL(call).format(
            schema=Identifier(schema), function=Identifier(name),
            id_type=Identifier(datastore.originator_id_type), keys=SQL(columns))
            for name, call in calls.items()
            for joined, columns in ((True, POSTGRES_SPLIT_COLUMNS),
                                    (False, POSTGRES_ARRAY_COLUMNS))}
        """The append calls, by (one event, the request keys as joined texts)."""
        self.insert_events_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%s::{id_type}[], %s::bigint[], %s::text[], %b::bytea[])"
            " RETURNING notification_id"
        ).format(schema=Identifier(schema), table=Identifier(table),
                 id_type=Identifier(datastore.originator_id_type))
        self.appends_in_one_statement = True
        """False once the store turned out to lack the append function."""
        self.appends_one_as_values = True
        """False once the store turned out to lack the one-event append function."""

    def create_table(self) -> None:
        """Makes what eventsourcing's recorder makes (the events table, its type, index
        and functions) and the request keys table and append functions, in one transaction
        that first takes the schema lock (``ledger.tables.SCHEMA_LOCK_STATEMENT``):
        servers started together on a new store make them one after another."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(SCHEMA_LOCK_STATEMENT)
            for statement in self.sql_create_statements:
                if "CREATE TYPE" in statement.as_string():
                    # A type has no IF NOT EXISTS: tried in a savepoint, kept if there.
                    with contextlib.suppress(DuplicateObject), \
                            cursor.connection.transaction():
                        cursor.execute(statement, prepare=False)
            self._create_table(cursor)
        self.datastore.register_type_adapters()

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        """Returns the notification ids of the inserted events, in the order given (None
        when there are none); ``request_keys`` are inserted in the same transaction."""
        if not stored_events:
            return None
        keys: Sequence[RequestKey] = kwargs.get("request_keys", ())
        if self.appends_in_one_statement:
            ids = self._append(stored_events, keys)
            if ids is not None:
                return ids
            self.appends_in_one_statement = False
            log.warning("the store has no append function: events are written statement "
                        "by statement; run `valedger db init` on it to add it")
        return self._insert_statement_by_statement(stored_events, keys)

    def _append(self, stored_events: Sequence[StoredEvent],
                keys: Sequence[RequestKey]) -> list[int] | None:
        """Returns the notification ids of one call of an append function: the one-event
        function for a single event, else (or when the store lacks that one) the other;
        None when the store has neither."""
        joined, key_columns = postgres_key_columns(keys)
        lock_seconds = int(self.datastore.lock_timeout)
        with self.datastore.get_connection() as conn:
            assert conn.autocommit  # the server commits as the statement ends
            if len(stored_events) == 1 and self.appends_one_as_values:
                event = stored_events[0]
                try:
                    rows = conn.execute(
                        self.append_statements[True, joined],
                        (event.originator_id, event.originator_version, event.topic,
                         event.state, *key_columns, lock_seconds)).fetchall()
                except UndefinedFunction:
                    self.appends_one_as_values = False
                    log.warning("the store has no one-event append function: single "
                                "events are appended as arrays, slower for large ones; "
                                "run `valedger db init` on it to add it")
                else:
                    return [row["id"] for row in rows]
            try:
                rows = conn.execute(
                    self.append_statements[False, joined],
                    (*self._columns(stored_events), *key_columns, lock_seconds)).fetchall()
            except UndefinedFunction:
                return None
        return [row["id"] for row in rows]

    def _insert_statement_by_statement(self, stored_events: Sequence[StoredEvent],
                                       keys: Sequence[RequestKey]) -> Sequence[int] | None:
        """Returns the notification ids of eventsourcing's statements in one transaction
        (the table lock, the insert, the request keys, the commit)."""
        with self.datastore.get_connection() as conn, conn.transaction(), \
                conn.cursor() as curs:
            self._lock_table(curs)
            self._notify_channel(curs)
            curs.execute(self.insert_events_statement, self._columns(stored_events))
            ids = self._fetch_ids_after_insert_events(curs, stored_events)
            insert_postgres(curs, self.datastore.schema, keys)
            return ids

    @staticmethod
    def _columns(stored_events: Sequence[StoredEvent]) -> tuple[list[Any], ...]:
        """Returns the events as four column arrays: ids, versions, topics, states."""
        return ([e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events], [e.state for e in stored_events])

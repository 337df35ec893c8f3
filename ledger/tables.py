"""Plain SQL beside eventsourcing's recorders, on SQLite and PostgreSQL: where the stored
events are, and result rows as tuples whatever cursor returned them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eventsourcing.persistence import AggregateRecorder
from eventsourcing.postgres import PostgresAggregateRecorder


def is_postgres(recorder: AggregateRecorder) -> bool:
    """Returns True when ``recorder`` stores in PostgreSQL (otherwise it is SQLite)."""
    return isinstance(recorder, PostgresAggregateRecorder)


def events_table(recorder: AggregateRecorder) -> str:
    """Returns the stored events table as SQL names it (schema-qualified on PostgreSQL)."""
    store: Any = recorder
    if is_postgres(recorder):
        schema = store.datastore.schema.replace('"', '""')
        return f'"{schema}"."{store.events_table_name}"'
    return str(store.events_table_name)


def position_column(recorder: AggregateRecorder) -> str:
    """Returns the column of the stored events table that holds log positions."""
    return "notification_id" if is_postgres(recorder) else "rowid"


SCHEMA_LOCK_KEY = 0x76616C6564676572 + 1  # "valedger" + 1: not the audit follower's key
"""Key of the PostgreSQL advisory lock held while tables, types and functions are made."""
SCHEMA_LOCK_STATEMENT = f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK_KEY})"
"""Takes the schema lock until the transaction ends.

``CREATE ... IF NOT EXISTS`` does not make concurrent creators safe: two transactions
that both find a table (or sequence, type, function) missing both insert it into the
catalogue, and the second fails ("duplicate key value violates unique constraint
pg_class_relname_nsp_index", "tuple concurrently updated"). Servers and ``valedger db
init`` started together on a new store therefore take this lock first, in the
transaction that makes their tables, and find the tables made when they get it. Taken by
``ledger.postgres`` (events, request keys, append functions) and ``ledger.history``; the
audit tables are made under the audit writer's own lock (``ledger.audit.store``)."""


def row_tuples(rows: Iterable[Any]) -> list[tuple[Any, ...]]:
    """Returns rows as tuples: psycopg's dict rows by their values, SQLite rows as they
    are."""
    return [tuple(row.values()) if isinstance(row, dict) else tuple(row) for row in rows]

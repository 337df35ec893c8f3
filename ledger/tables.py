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


def row_tuples(rows: Iterable[Any]) -> list[tuple[Any, ...]]:
    """Returns rows as tuples: psycopg's dict rows by their values, SQLite rows as they
    are."""
    return [tuple(row.values()) if isinstance(row, dict) else tuple(row) for row in rows]

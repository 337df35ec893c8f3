"""SQL beside the recorders: the events table, its position column and rows as tuples, on
SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from ledger.application import Ledger
from ledger.tables import events_table, is_postgres, position_column, row_tuples


def test_events_table_and_position_column_find_the_stored_events(ledger: Ledger) -> None:
    alice = ledger.register_participant("reg-a", "ENTERPRISE", "Alice", "1", "KZ").aggregate_id
    ledger.register_participant("reg-b", "ENTERPRISE", "Bob", "2", "KZ")
    recorder: Any = ledger.recorder
    assert is_postgres(ledger.recorder) == ledger.config.is_postgres
    table, column = events_table(ledger.recorder), position_column(ledger.recorder)
    placeholder = "%s" if ledger.config.is_postgres else "?"
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT {column}, originator_version FROM {table} "
                       f"WHERE {column} <= {placeholder} ORDER BY {column}", (1,))
        rows = row_tuples(cursor.fetchall())
    assert rows == [(1, 1)]
    assert all(type(row) is tuple for row in rows)
    assert recorder.max_notification_id() == 2
    first = recorder.select_notifications(start=1, limit=1)[0]
    assert first.originator_id == alice


def test_row_tuples_takes_dict_rows_by_their_values() -> None:
    assert row_tuples([{"a": 1, "b": "x"}, (2, "y")]) == [(1, "x"), (2, "y")]
    assert row_tuples([]) == []

"""Bulk load of a large store for the ListEvents benchmark: genuine trade events, fast.

Saving ten million trades through ``Application.save`` and then indexing them with
``HistoryIndex.catch_up`` takes hours on the 2-core machine, so the benchmark writes the
same rows faster:

* each trade is a real ``Trade.Recorded`` event of a distinct ``Trade`` aggregate (its own
  request id, deterministic id, buyer, time), created by ``Trade.record`` and encoded by
  the ledger's own mapper (transcoder, zlib, the cipher when one is configured), so the
  server decodes it as any other record;
* its history rows come from ``HistoryIndex.rows``, the very code ``catch_up`` runs, fed
  with the events the loader already holds (no decode);
* worker processes create and encode the events; the parent writes each chunk of records
  and its history rows in one transaction, with ``COPY`` on PostgreSQL and the recorder's
  own ``INSERT`` (``executemany``) on SQLite, with explicit positions
  (``notification_id`` on PostgreSQL, whose sequence is advanced afterwards; ``rowid``
  on SQLite, assigned in order);
* the audit log's follower then integrates the records as the server would (Merkle
  leaves and subtrees), so a server started on the store has nothing left to follow.

The store must have no other writer while the load runs, and its history index must have
reached the end of the log when it starts (the loader checks both ends).
``tests/bench/test_bulk_store.py`` proves the result equals a store written by
``Ledger.save`` and indexed by ``HistoryIndex.catch_up``, table for table.
"""

from __future__ import annotations

import functools
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from ledger.application import Ledger
from ledger.config import StoreConfig
from ledger.domain.base import Stamp, stamped
from ledger.domain.participant import Participant
from ledger.domain.trade import Trade, TradeRequest, WalletKind
from ledger.history import HistoryIndex, IndexRows
from ledger.requests import REGULATOR
from ledger.tables import events_table

START = datetime(2026, 1, 1, tzinfo=UTC)
BULK_BUYERS = 50
BULK_EXCHANGE = "participant:bulk-exchange"
"""The requester of the bulk trades (a read benchmark: no exchange is registered)."""


@functools.cache
def _participant(request_id: str) -> UUID:
    return Participant.create_id(REGULATOR, request_id)


def bulk_request(i: int, licence: UUID) -> TradeRequest:
    """Returns the ``i``-th bulk trade: buyer ``bulk-buyer-{i % 50}``, one seller."""
    return TradeRequest(
        request_id=f"bulk-{i}", exchange_licence_id=licence, exchange_trade_id=f"bulk-{i}",
        asset="BTC", quantity=Decimal("0.001"), price=Decimal(500), quote_currency="USD",
        buyer_id=_participant(f"bulk-buyer-{i % BULK_BUYERS}"),
        seller_id=_participant("bulk-seller"), counterparty_vasp_id=None,
        counterparty_country="KZ", wallet_kind=WalletKind.HOSTED,
        at=START + timedelta(seconds=i))


def bulk_trades(first: int, stop: int, licence: UUID) -> list[Trade]:
    """Returns bulk trades ``first`` to ``stop - 1``, as ``Ledger.save`` would take them."""
    trades = []
    for i in range(first, stop):
        request = bulk_request(i, licence)
        # Stamped as the ledger stamps a command: recorded when it happened.
        with stamped(Stamp(BULK_EXCHANGE, request.digest(), request.at)):
            trades.append(Trade.record(
                request, Trade.recorded_id(licence, request.exchange_trade_id), Decimal("0.5")))
    return trades


@dataclass
class BulkResult:
    """What a bulk load wrote and how long it took."""

    records: int
    first_position: int
    last_position: int
    load_seconds: float
    audit_seconds: float


_worker: dict[str, Any] = {}


def _start_worker(url: str, cipher_key: str | None) -> None:
    ledger = Ledger(StoreConfig(url=url, cipher_key=cipher_key, create_tables=False))
    _worker["ledger"] = ledger
    _worker["index"] = HistoryIndex(ledger)


def _encode(task: tuple[int, int, int, UUID]) -> tuple[list[tuple[Any, ...]], IndexRows]:
    """Creates and encodes trades ``first`` to ``stop - 1`` at positions after ``base``;
    returns their stored rows and history rows."""
    first, stop, base, licence = task
    ledger: Ledger = _worker["ledger"]
    index: HistoryIndex = _worker["index"]
    events = [trade.collect_events()[0] for trade in bulk_trades(first, stop, licence)]
    notifications = []
    for offset, event in enumerate(events):
        stored = ledger.mapper.to_stored_event(event)
        notifications.append(Notification(
            id=base + first + offset + 1, originator_id=stored.originator_id,
            originator_version=stored.originator_version, topic=stored.topic,
            state=stored.state))
    rows = index.rows(notifications, events)
    stored_rows = [(n.originator_id, n.originator_version, n.topic, n.state, n.id)
                   for n in notifications]
    return stored_rows, rows


def _write_postgres(cursor: Any, recorder: Any, stored: list[tuple[Any, ...]],
                    rows: IndexRows) -> None:
    table = events_table(recorder)
    loads: list[tuple[str, list[str], list[tuple[Any, ...]]]] = [
        (f"{table} (originator_id, originator_version, topic, state, notification_id)",
         ["uuid", "int8", "text", "bytea", "int8"], stored),
        ("history_events (position, event_name, at_us, aggregate_id)",
         ["int8", "text", "int8", "text"], list(rows.events)),
        ("history_subjects (subject, position)", ["text", "int8"], list(rows.subjects)),
        ("history_aggregates (aggregate_id, aggregate_type, subjects)",
         ["text", "text", "text"], list(rows.aggregates)),
    ]
    for target, types, values in loads:
        if not values:
            continue
        with cursor.copy(f"COPY {target} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for value in values:
                copy.write_row(value)


def _write_sqlite(cursor: Any, recorder: Any, stored: list[tuple[Any, ...]],
                  rows: IndexRows) -> None:
    cursor.executemany(recorder.insert_events_statement,
                       [(s[0].hex, s[1], s[2], s[3]) for s in stored])
    cursor.execute(f"SELECT MAX(rowid) FROM {recorder.events_table_name}")
    last = cursor.fetchone()[0]
    if last != stored[-1][4]:  # rowids are the positions the history rows name
        raise RuntimeError(f"rowid {last} where position {stored[-1][4]} was expected "
                           "(another writer?)")
    cursor.executemany("INSERT INTO history_events VALUES (?,?,?,?)", rows.events)
    cursor.executemany("INSERT INTO history_subjects VALUES (?,?)", rows.subjects)
    cursor.executemany("INSERT INTO history_aggregates VALUES (?,?,?)", rows.aggregates)


def build_bulk_store(url: str, n: int, licence: UUID, *, cipher_key: str | None = None,
                     workers: int = 2, chunk: int = 5000, audit: bool = True,
                     progress: Callable[[int], None] | None = None) -> BulkResult:
    """Appends ``n`` bulk trades (see :func:`bulk_request`) to the store at ``url`` with
    their history rows, then (``audit``) lets the audit log integrate them and, on
    PostgreSQL, vacuums and analyses the tables it filled (in ``audit_seconds``)."""
    from ledger.audit.log import AuditLog

    ledger = Ledger(StoreConfig(url=url, cipher_key=cipher_key, create_tables=True))
    try:
        recorder: Any = ledger.recorder
        index = HistoryIndex(ledger)
        base = index.catch_up()
        if base != (recorder.max_notification_id() or 0):
            raise RuntimeError("the history index has not reached the end of the log")
        write = _write_postgres if ledger.config.is_postgres else _write_sqlite
        tasks = [(first, min(n, first + chunk), base, licence) for first in range(0, n, chunk)]
        started = time.perf_counter()
        context = multiprocessing.get_context("spawn")
        with context.Pool(workers, _start_worker, (url, cipher_key)) as pool:
            pending = [pool.apply_async(_encode, (t,)) for t in tasks[:2 * workers]]
            submitted = len(pending)
            while pending:
                stored, rows = pending.pop(0).get()
                if submitted < len(tasks):
                    pending.append(pool.apply_async(_encode, (tasks[submitted],)))
                    submitted += 1
                with recorder.datastore.transaction(commit=True) as cursor:
                    write(cursor, recorder, stored, rows)
                if progress:
                    progress(len(stored))
        last = base + n
        if ledger.config.is_postgres:
            table = events_table(recorder)
            with recorder.datastore.transaction(commit=True) as cursor:
                cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), "
                               "%s)", (table, last))
                for name in (table, "history_events", "history_subjects",
                             "history_aggregates"):
                    cursor.execute(f"ANALYZE {name}")
        if (recorder.max_notification_id() or 0) != last:
            raise RuntimeError("the log does not end where the load did")
        load_seconds = time.perf_counter() - started
        started = time.perf_counter()
        if audit:
            AuditLog(recorder).follower.catch_up()
        if ledger.config.is_postgres:
            # What an operator runs after a bulk load: otherwise autovacuum's first pass
            # over millions of new rows (the events, the history index, the audit tree)
            # runs during whatever is measured next.
            vacuum = [events_table(recorder), "history_events", "history_subjects",
                      "history_aggregates", *(("audit_leaves", "audit_nodes") if audit else ())]
            with recorder.datastore.get_connection() as connection:
                connection.autocommit = True  # VACUUM cannot run inside a transaction
                try:
                    for name in vacuum:
                        connection.execute(f"VACUUM (ANALYZE) {name}")
                finally:
                    connection.autocommit = False
        return BulkResult(n, base + 1, last, load_seconds, time.perf_counter() - started)
    finally:
        ledger.close()

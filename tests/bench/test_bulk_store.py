"""The benchmark's bulk loader writes what ``Ledger.save`` and ``HistoryIndex`` would."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from bench.bulk_store import START, build_bulk_store, bulk_trades
from ledger.application import Ledger
from ledger.config import StoreConfig
from ledger.history import HistoryIndex, HistoryQuery
from tests.conftest import PostgresServer
from tests.ontime import on_time_ledger

N = 1234  # not a multiple of the loader's chunk


@pytest.fixture(params=["sqlite", "postgres"])
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Returns two fresh, empty store URLs of the same kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'saved.db'}", f"sqlite:///{tmp_path / 'bulk.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    names = [server.create_database(), server.create_database()]
    yield server.url(names[0]), server.url(names[1])
    for name in names:
        with contextlib.suppress(Exception):
            server.drop_database(name)


def _market(ledger: Ledger) -> UUID:
    """Registers an exchange and its licence, a seller and one buyer; returns the licence."""
    at = datetime(2025, 12, 1, tzinfo=UTC)
    exchange = ledger.register_participant("reg-ex", "ENTERPRISE", "Ex", "1", "KZ",
                                           at=at).aggregate_id
    ledger.register_participant("reg-seller", "ENTERPRISE", "S", "2", "KZ", at=at)
    ledger.approve_participant("app-ex", exchange, at=at)
    return UUID(str(ledger.grant_exchange_licence(
        "lic-ex", exchange, ["spot"], START, datetime(2030, 1, 1, tzinfo=UTC),
        at=at).aggregate_id))


def _tables(ledger: Ledger) -> dict[str, list[tuple[Any, ...]]]:
    index = HistoryIndex(ledger)
    return {table: sorted(index._fetch(f"SELECT * FROM {table}"))
            for table in ("history_events", "history_subjects", "history_aggregates")}


def _log(ledger: Ledger) -> list[tuple[Any, ...]]:
    """Returns every record as (position, id, version, topic, event fields but the
    creation timestamp, which is the wall clock of whoever created the event)."""
    out = []
    for n in ledger.recorder.select_notifications(start=None, limit=10 * N):
        fields = dict(ledger.mapper.to_domain_event(n).__dict__)
        fields.pop("timestamp")
        out.append((n.id, n.originator_id, n.originator_version, n.topic, fields))
    return out


def test_bulk_store_equals_saved_and_indexed_store(two_stores: tuple[str, str]) -> None:
    saved_url, bulk_url = two_stores
    saved = on_time_ledger(StoreConfig(url=saved_url))
    bulk = on_time_ledger(StoreConfig(url=bulk_url))
    try:
        licence = _market(saved)
        assert _market(bulk) == licence
        index = HistoryIndex(saved)
        index.catch_up()
        for first in range(0, N, 500):
            saved.save(*bulk_trades(first, min(N, first + 500), licence))
        index.catch_up()
        HistoryIndex(bulk).catch_up()  # the loader starts from an index at the log's end
        result = build_bulk_store(bulk_url, N, licence, workers=2, chunk=500, audit=True)
        assert (result.records, result.last_position) == (N, result.first_position + N - 1)
        assert _log(bulk) == _log(saved)
        tables = _tables(bulk)
        assert tables == _tables(saved)
        # a trade is filed under its licence, the licence's holder, its buyer and seller
        assert len(tables["history_subjects"]) > 4 * N
        # a server's index resumes at the end: nothing left to index
        assert HistoryIndex(bulk).catch_up() == result.last_position
        page = HistoryIndex(bulk).search(HistoryQuery(licence_id=str(licence), limit=100,
                                                      after_position=result.first_position))
        assert [r.name for r in page] == ["Trade.Recorded"] * 100
        # and the audit log has integrated every record
        from ledger.audit.log import AuditLog
        assert AuditLog(bulk.recorder).follower.catch_up() == 0
    finally:
        saved.close()
        bulk.close()


def test_small_aggregate_cache_indexes_the_same(sqlite_url: str) -> None:
    ledger = on_time_ledger(StoreConfig(url=sqlite_url))
    try:
        licence = _market(ledger)
        ledger.save(*bulk_trades(0, 300, licence))
        rows = HistoryIndex(ledger).rows(
            ledger.recorder.select_notifications(start=None, limit=1000))
        small = HistoryIndex(ledger)
        small.cache_size, small.batch_size = 3, 2  # evicts, then reads history_aggregates
        small.catch_up()
        assert len(small._aggregates) == 3
        assert _tables(ledger) == {"history_events": sorted(rows.events),
                                   "history_subjects": sorted(rows.subjects),
                                   "history_aggregates": sorted(rows.aggregates)}
    finally:
        ledger.close()

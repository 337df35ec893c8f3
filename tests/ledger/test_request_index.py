"""The trade request index (``ledger.request_index``): written with each trade, looked up
per batch, rebuilt from the stored trades; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.config import StoreConfig
from ledger.errors import RequestIdReused
from ledger.receipts import TradeStatus
from ledger.request_index import (
    SEPARATOR,
    TABLE,
    RequestKey,
    insert_postgres,
    insert_sqlite,
    postgres_table,
)
from ledger.requests import participant_requester
from ledger.tables import is_postgres
from tests.ledger.conftest import T0, Market, build_market
from tests.ontime import on_time_ledger


def index_rows(market: Market) -> set[tuple[str, str, str]]:
    recorder: Any = market.ledger.recorder
    table = postgres_table(recorder.datastore.schema) if is_postgres(recorder) else TABLE
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT requester, request_id, trade_id FROM {table}")
        rows = cursor.fetchall()
    tuples = [tuple(row.values()) if isinstance(row, dict) else tuple(row) for row in rows]
    return {(str(requester), str(request_id), str(trade_id).replace("-", ""))
            for requester, request_id, trade_id in tuples}


def empty_index(market: Market) -> None:
    recorder: Any = market.ledger.recorder
    table = postgres_table(recorder.datastore.schema) if is_postgres(recorder) else TABLE
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(f"DELETE FROM {table}")


def test_each_trade_takes_its_request_id_in_its_transaction(market: Market) -> None:
    recorded = market.ledger.record_trades([market.trade("a"), market.trade("b")])
    blocked = market.ledger.record_trades([market.trade("c", at=T0 + timedelta(days=400))])
    requester = participant_requester(market.exchange)
    assert blocked[0].status is TradeStatus.BLOCKED
    assert index_rows(market) == {(requester, rid, r.trade_id.hex) for rid, r in
                                  zip("abc", [*recorded, *blocked], strict=True)}
    assert market.ledger.trades_of_requests(requester, ["a", "c", "unused"]) == {
        "a": recorded[0].trade_id, "c": blocked[0].trade_id}


def test_keys_of_several_requesters_are_inserted_whole_whatever_their_ids_hold(
        market: Market) -> None:
    """PostgreSQL gets each requester's ids as joined text (one statement a requester);
    an id holding the separator (never a checked one) goes as arrays instead."""
    keys = [RequestKey("participant:a", "a-1", UUID(int=1)),
            RequestKey("participant:b", "b,1 'quoted'", UUID(int=2)),
            RequestKey("participant:a", f"a{SEPARATOR}2", UUID(int=3)),
            RequestKey("participant:b", "b-2", UUID(int=4))]
    recorder: Any = market.ledger.recorder
    with recorder.datastore.transaction(commit=True) as cursor:
        if is_postgres(recorder):
            insert_postgres(cursor, recorder.datastore.schema, keys)
        else:
            insert_sqlite(cursor, keys)
    assert {(k.requester, k.request_id, k.trade_id.hex) for k in keys} <= index_rows(market)
    assert market.ledger.trades_of_requests("participant:a", ["a-1", f"a{SEPARATOR}2"]) == {
        "a-1": UUID(int=1), f"a{SEPARATOR}2": UUID(int=3)}


def test_another_requesters_ids_are_not_looked_up(market: Market) -> None:
    market.ledger.record_trade(market.trade("a"))
    assert market.ledger.trades_of_requests("participant:someone-else", ["a"]) == {}


def test_rebuild_restores_every_row_and_with_it_request_identity(market: Market) -> None:
    market.ledger.record_trades([market.trade("a"), market.trade("b")])
    market.ledger.record_trades([market.trade("c", at=T0 + timedelta(days=400))])
    before = index_rows(market)
    empty_index(market)
    assert market.ledger.rebuild_request_index() == 3
    assert index_rows(market) == before
    assert market.ledger.rebuild_request_index() == 0  # idempotent
    with pytest.raises(RequestIdReused):
        market.ledger.record_trade(market.trade("a", exchange_trade_id="another"))


class CountingLedger(Ledger):
    """A Ledger that counts the request index lookups of its trade batches."""

    name = Ledger.name
    lookups = 0

    def trades_of_requests(self, requester: str, request_ids: Collection[str]
                           ) -> dict[str, UUID]:
        self.lookups += 1
        return super().trades_of_requests(requester, request_ids)


def test_new_trades_are_decided_without_a_lookup_and_retries_with_one(
        store_url: str) -> None:
    ledger = on_time_ledger(StoreConfig(url=store_url), cls=CountingLedger)
    try:
        market = build_market(ledger)
        first = ledger.record_trades([market.trade("a"), market.trade("b")])
        assert ledger.lookups == 0  # new ids: the store's keys would have refused a taken one
        again = ledger.record_trades([market.trade("b"), market.trade("c")])
        assert ledger.lookups == 1
        assert again[0].replayed and again[0].trade_id == first[1].trade_id
        assert not again[1].replayed
    finally:
        ledger.close()

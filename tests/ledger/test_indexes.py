"""Read models of ``ledger.indexes``: they follow the log, including other servers' writes."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from ledger.config import StoreConfig
from ledger.errors import RuleViolation
from tests.ledger.conftest import END, START, T0, build_market
from tests.ontime import on_time_ledger


def test_indexes_follow_writes_of_another_ledger_on_the_same_store(store_url: str) -> None:
    first = on_time_ledger(StoreConfig(url=store_url))
    second = on_time_ledger(StoreConfig(url=store_url, create_tables=False))
    try:
        market = build_market(first)
        assert second.licence_index.all_ids() == [market.licence]  # rebuilt from the log
        mining = second.grant_mining_licence(
            "mine", market.seller, "North", "Z1", "M-1", Decimal(10), Decimal(20), ["ab"],
            START, END, at=START).aggregate_id
        # The first server learns of the other's grant before answering.
        assert first.licence_index.all_ids() == [market.licence, mining]
        assert first.licence_index.all_ids(market.seller) == [mining]
        assert first.licence_index.licences_for_meter("M-1") == [mining]
        assert first.licence_index.licences_for_meter("M-2") == []
        first.record_meter_reading("m", "M-1", START, T0, Decimal(1))
        alert = second.raise_alert("a", "K", uuid4(), None, "m", [], {}, at=T0).aggregate_id
        assert first.alert_index.all_ids() == [alert]
        # A meter already granted through the other server is refused here.
        with pytest.raises(RuleViolation) as caught:
            first.grant_mining_licence("mine-2", market.buyer, "South", "Z2", "M-1",
                                       Decimal(5), Decimal(20), ["cd"], START, END, at=START)
        assert caught.value.rule == "METER_IN_USE"
    finally:
        first.close()
        second.close()


def test_a_refresh_reads_from_the_head_it_reached_not_from_the_last_match(
        store_url: str) -> None:
    ledger = on_time_ledger(StoreConfig(url=store_url))
    try:
        market = build_market(ledger)
        for n in range(5):  # events the licence index does not follow
            ledger.register_participant(f"other-{n}", "ENTERPRISE", f"Other {n}", f"tax-{n}",
                                        "KZ", at=START)
        assert ledger.licence_index.all_ids() == [market.licence]
        head = ledger.recorder.max_notification_id()
        follower = ledger.licence_index._follower
        assert follower.position == head  # past the last grant, up to the head
        mining = ledger.grant_mining_licence(
            "mine", market.seller, "North", "Z1", "M-1", Decimal(10), Decimal(20), ["ab"],
            START, END, at=START).aggregate_id
        assert ledger.licence_index.all_ids() == [market.licence, mining]
        assert follower.position == ledger.recorder.max_notification_id()
    finally:
        ledger.close()

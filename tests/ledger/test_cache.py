"""The hot-aggregate cache of ``ledger.cache``: what it keeps, and never a stale answer."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from ledger.application import Ledger
from ledger.cache import HotAggregateCache, LatestVersions
from ledger.config import StoreConfig
from ledger.domain.participant import Participant
from ledger.domain.policy import POLICY_ID
from ledger.trading import TradeBlocked
from tests.ledger.conftest import T0, build_market, hours
from tests.ontime import on_time_ledger


def test_rule_inputs_are_cached_trades_are_not(ledger: Ledger) -> None:
    market = build_market(ledger)
    ledger.set_policy("p", "outflow_cap_usd", "100000")
    receipt = ledger.record_trade(market.trade("t1"))
    cache = ledger.repository.cache
    assert isinstance(cache, HotAggregateCache)
    for hot in (market.buyer, market.seller, market.exchange, market.licence, POLICY_ID):
        assert cache.get(hot).id == hot
    assert ledger.find(receipt.trade_id) is not None
    with pytest.raises(KeyError):
        cache.get(receipt.trade_id)


def test_changing_a_returned_aggregate_does_not_change_the_cache(ledger: Ledger) -> None:
    market = build_market(ledger)
    buyer = ledger.get_participant(market.buyer)
    buyer.legal_name = "changed in memory only"
    assert ledger.get_participant(market.buyer).legal_name == "buyer Ltd"


def test_cached_aggregates_catch_up_with_another_servers_writes(store_url: str) -> None:
    first = on_time_ledger(StoreConfig(url=store_url))
    second = on_time_ledger(StoreConfig(url=store_url, create_tables=False))
    try:
        market = build_market(first)
        first.record_trade(market.trade("t1"))  # the first server caches the parties
        second.suspend_participant("susp", market.buyer, "inquiry", at=T0 + hours(1))
        second.suspend_licence("susp-l", market.licence, "audit", at=T0 + hours(3))
        with pytest.raises(TradeBlocked, match=r"buyer .* is suspended"):
            first.record_trade(market.trade("t2", at=T0 + hours(2)))
        second.reinstate_participant("back", market.buyer, at=T0 + hours(2))
        with pytest.raises(TradeBlocked, match=r"licence .* is suspended"):
            first.record_trade(market.trade("t3", at=T0 + hours(4)))
        assert first.record_trade(market.trade("t4", at=T0 + hours(2.5))).replayed is False
    finally:
        first.close()
        second.close()


def replayed_ids(ledger: Ledger) -> list[object]:
    """Returns a list that, from now on, collects the id of every aggregate whose events
    the ledger reads one by one (a fast-forward or a reconstruction)."""
    replayed: list[object] = []
    select_events = ledger.recorder.select_events

    def counting(*args: Any, **kwargs: Any) -> Any:
        replayed.append(args[0] if args else kwargs["originator_id"])
        return select_events(*args, **kwargs)

    ledger.recorder.select_events = counting  # type: ignore[method-assign]
    return replayed


def test_latest_versions_answers_many_ids_in_chunks(ledger: Ledger) -> None:
    market = build_market(ledger)
    ledger.suspend_participant("susp", market.buyer, "inquiry", at=T0 + hours(1))
    versions = LatestVersions(ledger.recorder)
    versions.chunk = 2  # several statements for the five ids below
    unknown = uuid4()
    found = versions([market.buyer, market.seller, market.licence, unknown, market.buyer])
    assert found == {market.buyer: ledger.get_participant(market.buyer).version,
                     market.seller: ledger.get_participant(market.seller).version,
                     market.licence: ledger.get_exchange_licence(market.licence).version}
    assert found[market.buyer] == ledger.get_participant(market.seller).version + 1


def test_read_many_checks_cached_aggregates_in_one_query(store_url: str) -> None:
    first = on_time_ledger(StoreConfig(url=store_url))
    second = on_time_ledger(StoreConfig(url=store_url, create_tables=False))
    try:
        market = build_market(first)
        ids = [market.buyer, market.seller, market.exchange, market.licence]
        first.read_many(ids)  # now cached
        replays = replayed_ids(first)
        unchanged = first.read_many(ids)
        assert replays == []  # no aggregate was fast-forwarded one by one
        cache = first.repository.cache
        assert cache is not None
        assert unchanged[market.buyer] is cache.get(market.buyer)  # shared, not a copy

        second.suspend_participant("susp", market.buyer, "inquiry", at=T0 + hours(1))
        absent = uuid4()
        moved = first.read_many([*ids, absent])
        assert replays == [market.buyer]  # only what moved; nothing for an absent id
        buyer = moved[market.buyer]
        assert isinstance(buyer, Participant)
        assert buyer.standing_at(T0 + hours(2)) == "suspended"
        assert moved[absent] is None
    finally:
        first.close()
        second.close()


def test_a_batch_of_trades_reads_its_cached_rule_inputs_without_replaying_them(
        ledger: Ledger) -> None:
    market = build_market(ledger)
    ledger.record_trades([market.trade("warm")])  # parties, licence and policy cached
    replayed = replayed_ids(ledger)
    receipts = ledger.record_trades([market.trade(f"t{i}") for i in range(20)])
    assert len({r.trade_id for r in receipts}) == 20
    rule_inputs = {market.buyer, market.seller, market.exchange, market.licence, POLICY_ID}
    assert rule_inputs.isdisjoint(replayed)  # the policy too, although there is none


def test_a_batch_of_new_trades_reads_its_rule_inputs_in_one_query(ledger: Ledger) -> None:
    market = build_market(ledger)
    ledger.record_trades([market.trade("warm")])
    assert ledger.cached_holder(market.licence) == market.exchange
    assert ledger.cached_holder(market.buyer) is None  # not a licence
    queries: list[list[object]] = []
    latest_versions = ledger.latest_versions

    def counting(ids: Any) -> dict[Any, int]:
        queries.append(list(ids))
        return latest_versions(ids)

    ledger.latest_versions = counting  # type: ignore[assignment]
    receipts = ledger.record_trades([market.trade(f"q{i}") for i in range(20)])
    # One query for the rule inputs; whether a trade exists is left to the store's keys.
    assert len(queries) == 1
    assert {market.buyer, market.seller, market.exchange, market.licence} <= set(queries[0])
    queries.clear()
    again = ledger.record_trades([market.trade(f"q{i}") for i in range(20)])
    # A retried batch is refused by the keys, then decided again after looking up its
    # trade ids, reading the trades it replays and their alerts: a query each (and one
    # for the rule inputs each time it is decided), whatever the batch's size.
    assert [r.trade_id for r in again] == [r.trade_id for r in receipts]
    assert all(r.replayed for r in again)
    assert len(queries) == 5
    assert {r.trade_id for r in receipts} <= set(queries[2]) & set(queries[3])


def test_a_shared_aggregate_never_changes_under_its_reader(store_url: str) -> None:
    # Copy on write: when the store moves on, the cache gets a new object; a reader
    # holding the old one (a batch deciding its trades) keeps a consistent snapshot.
    first = on_time_ledger(StoreConfig(url=store_url))
    second = on_time_ledger(StoreConfig(url=store_url, create_tables=False))
    try:
        market = build_market(first)
        held = first.read_many([market.buyer])[market.buyer]
        version, suspensions = held.version, list(held.suspensions.spans)
        second.suspend_participant("s", market.buyer, "inquiry", at=T0)
        current = first.read_many([market.buyer])[market.buyer]
        assert current is not held and current.version == version + 1
        assert (held.version, held.suspensions.spans) == (version, suspensions)
        assert current.suspensions.covering(T0) is not None
    finally:
        first.close()
        second.close()

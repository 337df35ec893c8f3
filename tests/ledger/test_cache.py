"""The hot-aggregate cache of ``ledger.cache``: what it keeps, and never a stale answer."""

from __future__ import annotations

import pytest

from ledger.application import Ledger
from ledger.cache import HotAggregateCache
from ledger.config import StoreConfig
from ledger.domain.policy import POLICY_ID
from ledger.trading import TradeBlocked
from tests.ledger.conftest import T0, build_market, hours


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
    first = Ledger(StoreConfig(url=store_url))
    second = Ledger(StoreConfig(url=store_url, create_tables=False))
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

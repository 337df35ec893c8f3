"""Trade rules of ``ledger.trading``, through ``Ledger.record_trade(s)`` on both stores."""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from ledger.application import Ledger
from ledger.config import StoreConfig
from ledger.domain.outflow import OutflowAccount
from ledger.domain.trade import Trade, WalletKind
from ledger.errors import InvalidRequest, NotFound, RequestIdReused, RuleViolation
from ledger.receipts import TradeStatus
from ledger.trading import TradeBlocked
from tests.ledger.conftest import (
    END,
    FULL_TRAVEL_RULE,
    START,
    T0,
    Market,
    build_market,
    events_of,
    hours,
    kinds_since,
    notifications,
)
from tests.ontime import on_time_ledger

RECORDED, BLOCKED = TradeStatus.RECORDED, TradeStatus.BLOCKED


def foreign(market: Market, **fields: Any) -> dict[str, Any]:
    """Returns trade fields of a transfer to a foreign VASP's hosted wallet, with
    travel-rule data."""
    return {"counterparty_vasp_id": market.vasp("DE"), "counterparty_country": "",
            "travel_rule": FULL_TRAVEL_RULE, **fields}


def trade_events(ledger: Ledger) -> list[Any]:
    """Returns the Recorded and Blocked trade events of the log, in order."""
    return [e for e in events_of(ledger) if isinstance(e, Trade.Recorded)]


# --------------------------------------------------------------------------- home country


def test_a_ledger_without_home_country_refuses_trades_until_it_is_set(ledger: Ledger) -> None:
    market = build_market(ledger, home=None)
    with pytest.raises(RuleViolation) as caught:
        ledger.record_trade(market.trade("t1", "1"))
    assert caught.value.rule == "HOME_COUNTRY_NOT_SET"
    assert not trade_events(ledger)  # refused, nothing half-done
    ledger.set_policy("home", "home_country", "KZ", at=T0)
    ledger.set_policy("cap", "outflow_cap_usd", "0", at=T0)
    # The first value holds from the record's start: a domestic hosted 1 USD trade is not
    # an outflow (a cap of 0 would block one) ...
    assert ledger.record_trade(market.trade("t2", "1", counterparty_country="KZ",
                                            at=T0 + hours(1))).status is RECORDED
    # ... and a foreign one is.
    with pytest.raises(TradeBlocked, match="outflow cap 0 USD exceeded"):
        ledger.record_trade(market.trade("t3", "1", at=T0 + hours(1), **foreign(market)))


@pytest.mark.parametrize("value", ["XX1", "kz", "", "K"])
def test_home_country_must_be_an_iso_code(ledger: Ledger, value: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        ledger.set_policy("home", "home_country", value, at=T0)
    assert caught.value.field == "value"


# ---------------------------------------------------------------------------- travel rule


def test_travel_rule_not_required_just_below_threshold(market: Market) -> None:
    receipt = market.ledger.record_trade(market.trade("t1", "999.99"))
    assert receipt.status is RECORDED
    trade: Trade = market.ledger.repository.get(receipt.trade_id)
    assert trade.value_usd == Decimal("999.99") and trade.travel_rule == {}


def test_travel_rule_complete_at_threshold_is_recorded(market: Market) -> None:
    receipt = market.ledger.record_trade(
        market.trade("t1", "1000", travel_rule=FULL_TRAVEL_RULE))
    assert receipt.status is RECORDED


def travel_without(*path: str, value: Any = None) -> dict[str, Any]:
    """Returns the full travel-rule record with the item at ``path`` removed (or set to
    ``value``)."""
    data = copy.deepcopy(FULL_TRAVEL_RULE)
    node: Any = data
    for key in path[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize(("path", "value", "missing"), [
    (("originator", "persons"), None, "originator.name"),
    (("originator", "accounts"), [], "originator.account"),
    (("beneficiary", "persons"), None, "beneficiary.name"),
    (("beneficiary", "accounts"), None, "beneficiary.account"),
    (("originator", "persons", "0", "customer_number"), None,
     "originator.address_or_national_id_or_customer_number_or_birth"),
    (("originator", "persons", "0", "names", "0", "secondary"), "   ", "originator.name"),
    (("originating_vasp",), None, "originating_vasp"),
    (("beneficiary_vasp",), None, "beneficiary_vasp"),
])
def test_travel_rule_each_missing_item_blocks_at_threshold(
        market: Market, path: tuple[str, ...], value: Any, missing: str) -> None:
    data = travel_without(*path, value=value)
    with pytest.raises(TradeBlocked) as caught:
        market.ledger.record_trade(market.trade("t", "1000", travel_rule=data))
    receipt = caught.value.receipt
    assert receipt.status is BLOCKED and receipt.rule == "TRAVEL_RULE_DATA_MISSING"
    assert receipt.figures["missing"] == missing
    assert "required at or above 1,000 USD" in receipt.message
    # The attempt stays on the record, and the trade is recorded once complete.
    assert [e for e in trade_events(market.ledger) if isinstance(e, Trade.Blocked)]
    assert market.ledger.record_trade(market.trade(
        "t-fixed", "1000", travel_rule=FULL_TRAVEL_RULE)).status is RECORDED


def test_travel_rule_below_threshold_a_transfer_needs_names_and_accounts(
        market: Market) -> None:
    ledger = market.ledger
    vasp = market.vasp("DE")
    # Inside the exchange: nothing needed below the threshold.
    assert ledger.record_trade(market.trade("inside", "999.99")).status is RECORDED
    # To another VASP or a self-hosted wallet: both names and accounts (de minimis).
    for label, fields in (("vasp", {"counterparty_vasp_id": vasp, "counterparty_country": ""}),
                          ("self", {"wallet_kind": WalletKind.SELF_HOSTED})):
        with pytest.raises(TradeBlocked) as caught:
            ledger.record_trade(market.trade(f"{label}-none", "10", **fields))
        assert caught.value.figures["missing"] == \
            "originator.name,originator.account,beneficiary.name,beneficiary.account"
        assert "required for a transfer out of the exchange" in caught.value.message
        lean = {side: {"persons": [{"names": [{"primary": "Omarov",
                                                "secondary": "Daniyar"}]}],
                       "accounts": [f"{side}-1"]} for side in ("originator", "beneficiary")}
        assert ledger.record_trade(market.trade(f"{label}-lean", "10", travel_rule=lean,
                                                **fields)).status is RECORDED


def test_travel_rule_data_is_stored_in_the_event_as_given(market: Market) -> None:
    receipt = market.ledger.record_trade(market.trade("t", "5000", **foreign(market)))
    trade: Trade = market.ledger.repository.get(receipt.trade_id)
    assert trade.travel_rule["originator"]["persons"][0]["customer_number"] == "C-0001"
    assert trade.counterparty_vasp_id == market.vasp("DE")
    assert trade.counterparty_country == "DE"  # the VASP's country, not a claim


# ---------------------------------------------------------------------------- VASPs


def test_a_trade_names_a_registered_vasp_whose_country_decides_the_outflow(
        market: Market) -> None:
    ledger = market.ledger
    ledger.set_policy("cap", "outflow_cap_usd", "100", effective_from=START)
    domestic = ledger.register_vasp("vasp-home", "Steppe Exchange", "KZ",
                                    licence_id=market.licence, at=START).aggregate_id
    full = {"travel_rule": FULL_TRAVEL_RULE}
    # A domestic VASP: not an outflow (over the cap, still recorded).
    assert ledger.record_trade(market.trade("home", "5000", counterparty_vasp_id=domestic,
                                            **full)).status is RECORDED  # claims KZ: agrees
    cases: list[tuple[dict[str, Any], str]] = [
        ({"counterparty_vasp_id": UUID(int=7)}, "VASP_NOT_REGISTERED"),
        ({"counterparty_vasp_id": domestic, "counterparty_country": "DE"},
         "COUNTERPARTY_COUNTRY_MISMATCH"),
        ({"counterparty_country": "DE"}, "COUNTERPARTY_VASP_REQUIRED"),
        ({"counterparty_vasp_id": market.vasp("DE"), "counterparty_country": "DE"},
         "OUTFLOW_CAP_EXCEEDED"),
    ]
    for n, (fields, rule) in enumerate(cases):
        with pytest.raises(TradeBlocked) as caught:
            ledger.record_trade(market.trade(f"c{n}", "5000", **{**full, **fields}))
        assert caught.value.rule == rule, fields


def test_a_suspended_vasp_blocks_trades_from_then_on(market: Market) -> None:
    ledger = market.ledger
    vasp = market.vasp("DE")
    assert ledger.record_trade(market.trade("before", "10", at=T0,
                                            **foreign(market))).status is RECORDED
    ledger.suspend_vasp("suspend", vasp, "licence withdrawn abroad", at=T0 + hours(1))
    with pytest.raises(TradeBlocked) as caught:
        ledger.record_trade(market.trade("after", "10", at=T0 + hours(2), **foreign(market)))
    assert caught.value.rule == "VASP_SUSPENDED"
    ledger.reinstate_vasp("reinstate", vasp, at=T0 + hours(3))
    assert ledger.record_trade(market.trade("again", "10", at=T0 + hours(4),
                                            **foreign(market))).status is RECORDED


def test_vasp_registration_rules(market: Market) -> None:
    ledger = market.ledger
    with pytest.raises(RuleViolation, match="must name its exchange licence"):
        ledger.register_vasp("v1", "Home Unlicensed", "KZ", foreign_registration="x",
                             at=START)
    with pytest.raises(RuleViolation, match="licensed here is in KZ"):
        ledger.register_vasp("v2", "Abroad", "DE", licence_id=market.licence, at=START)
    with pytest.raises(InvalidRequest) as caught:
        ledger.register_vasp("v3", "Nothing", "DE", at=START)
    assert caught.value.field == "licence_id"
    assert [v.country for v in ledger.list_vasps()] == []
    market.vasp("DE")
    assert [v.name for v in ledger.list_vasps("DE")] == ["VASP of DE"]


# ------------------------------------------------------------------------ screening


def test_travel_rule_persons_are_screened_on_trades(market: Market) -> None:
    ledger = market.ledger
    ledger.import_screening_list("list", json.dumps({
        "source": "UN", "version": "1", "entries": [
            {"id": "E1", "name": "Омаров Данияр", "ids": ["900101300123"],
             "categories": ["SANCTIONS"]}]}), at=START)
    possible = ledger.record_trade(market.trade("p", "5000", **foreign(market)))
    assert possible.status is RECORDED and len(possible.alert_ids) == 1
    [hit] = [a for a in ledger.list_alerts() if a.kind == "SCREENING_HIT"]
    assert hit.figures["where"] == "trade" and hit.subject_id == possible.trade_id
    identified = travel_without("beneficiary", "persons", "0", "national_id",
                                value={"number": "900101300123", "kind": "IDCD"})
    with pytest.raises(TradeBlocked) as caught:
        ledger.record_trade(market.trade("c", "5000", **foreign(market,
                                                               travel_rule=identified)))
    assert caught.value.rule == "SCREENING_CONFIRMED_MATCH"
    assert len([a for a in ledger.list_alerts() if a.kind == "SCREENING_HIT"]) == 2


def test_travel_rule_threshold_applies_to_usd_value_of_other_currencies(
        market: Market) -> None:
    ledger = market.ledger
    ledger.set_policy("fx-eur", "fx_usd.EUR", "1.25", effective_from=START)
    below = ledger.record_trade(market.trade("eur-low", "799.99", quote_currency="EUR"))
    assert below.status is RECORDED
    assert ledger.repository.get(below.trade_id).value_usd == Decimal("999.9875")
    with pytest.raises(TradeBlocked) as caught:
        ledger.record_trade(market.trade("eur-at", "800", quote_currency="EUR"))
    assert caught.value.rule == "TRAVEL_RULE_DATA_MISSING"


def test_unknown_currency_is_invalid_and_records_nothing(market: Market) -> None:
    before = notifications(market.ledger)
    with pytest.raises(InvalidRequest, match=r"fx_usd\.JPY"):
        market.ledger.record_trade(market.trade("t1", quote_currency="JPY"))
    assert notifications(market.ledger) == before


def test_travel_rule_threshold_is_versioned_policy(market: Market) -> None:
    ledger = market.ledger
    raised_from = T0 + hours(1)
    ledger.set_policy("p1", "travel_rule_threshold_usd", "2000", effective_from=raised_from)
    with pytest.raises(TradeBlocked):
        ledger.record_trade(market.trade("before", "1500", at=T0))
    after = ledger.record_trade(market.trade("after", "1500", at=raised_from))
    assert after.status is RECORDED


# ------------------------------------------------------------------------- outflow cap


def test_outflow_cap_exactly_at_cap_then_one_cent_over(market: Market) -> None:
    ledger = market.ledger
    kinds = {"foreign hosted": foreign(market),
             "domestic self-hosted": {"wallet_kind": WalletKind.SELF_HOSTED,
                                      "travel_rule": FULL_TRAVEL_RULE}}
    for kind, fields in kinds.items():
        buyer = market.participant(kind)
        receipts = ledger.record_trades([market.trade(f"{kind}-a", "30000", buyer_id=buyer,
                                                      **fields),
                                         market.trade(f"{kind}-b", "20000", buyer_id=buyer,
                                                      **fields)])
        assert [r.status for r in receipts] == [RECORDED, RECORDED], kind
        with pytest.raises(TradeBlocked) as caught:
            ledger.record_trade(market.trade(f"{kind}-c", "0.01", buyer_id=buyer, **fields))
        assert caught.value.rule == "OUTFLOW_CAP_EXCEEDED"
        assert caught.value.message == "outflow cap 50,000 USD exceeded: 50,000 + 0.01"
        assert caught.value.figures == {"cap_usd": "50,000", "used_usd": "50,000",
                                        "value_usd": "0.01", "period": "2026-03"}
        account: OutflowAccount = ledger.repository.get(OutflowAccount.create_id(buyer, "2026-03"))
        assert account.outflow_usd == Decimal(50000)  # the blocked trade used nothing


def test_outflow_cap_one_cent_over_in_a_single_trade(market: Market) -> None:
    with pytest.raises(TradeBlocked) as caught:
        market.ledger.record_trade(market.trade("big", "50000.01", **foreign(market)))
    assert caught.value.message == "outflow cap 50,000 USD exceeded: 0 + 50,000.01"


def test_domestic_hosted_transfers_are_not_capped(market: Market) -> None:
    receipts = market.ledger.record_trades([
        market.trade("a", "40000", travel_rule=FULL_TRAVEL_RULE),
        market.trade("b", "40000", travel_rule=FULL_TRAVEL_RULE)])
    assert [r.status for r in receipts] == [RECORDED, RECORDED]
    assert market.ledger.find(OutflowAccount.create_id(market.buyer, "2026-03")) is None


def test_outflow_cap_is_per_participant_and_per_month(market: Market) -> None:
    ledger = market.ledger
    other = market.participant("other-buyer")
    assert ledger.record_trade(market.trade("a", "50000", **foreign(market))).status is RECORDED
    # Another participant has a cap of its own.
    assert ledger.record_trade(
        market.trade("b", "50000", buyer_id=other, **foreign(market))).status is RECORDED
    # The next calendar month (UTC) starts from zero.
    april = datetime(2026, 4, 1, tzinfo=UTC)
    assert ledger.record_trade(
        market.trade("c", "50000", at=april, **foreign(market))).status is RECORDED
    with pytest.raises(TradeBlocked):
        ledger.record_trade(market.trade("d", "0.01", at=april - timedelta(seconds=1),
                                         **foreign(market)))


def test_outflow_cap_is_versioned_policy(market: Market) -> None:
    ledger = market.ledger
    ledger.set_policy("cap", "outflow_cap_usd", "1000", effective_from=START)
    assert ledger.record_trade(market.trade("a", "999", **foreign(market))).status is RECORDED
    with pytest.raises(TradeBlocked, match=r"outflow cap 1,000 USD exceeded: 999 \+ 2"):
        ledger.record_trade(market.trade("b", "2", **foreign(market)))


def test_trade_times_are_taken_in_utc(market: Market) -> None:
    ledger = market.ledger
    plus_two = timezone(timedelta(hours=2))
    # 1 April 01:00 at UTC+2 is still 31 March in UTC: it counts against March's cap.
    local = datetime(2026, 4, 1, 1, 0, tzinfo=plus_two)
    ledger.record_trade(market.trade("march", "50000", **foreign(market)))
    with pytest.raises(TradeBlocked) as caught:
        ledger.record_trade(market.trade("late", "1", at=local, **foreign(market)))
    assert caught.value.figures["period"] == "2026-03"
    stored: Trade = ledger.repository.get(caught.value.receipt.trade_id)
    assert stored.at == local and stored.at.tzinfo is UTC


# ------------------------------------------------------------------------- structuring


def near(market: Market, request_id: str, at: datetime, usd: str = "950") -> Any:
    """Returns a near-threshold trade request (95% of the default threshold)."""
    return market.trade(request_id, usd, at=at)


def test_structuring_two_transfers_do_not_alert_three_do(market: Market) -> None:
    ledger = market.ledger
    first = ledger.record_trade(near(market, "n1", T0))
    second = ledger.record_trade(near(market, "n2", T0 + hours(1)))
    assert first.alert_ids == second.alert_ids == ()
    assert ledger.list_alerts() == []
    third = ledger.record_trade(near(market, "n3", T0 + hours(2)))
    assert third.status is RECORDED and len(third.alert_ids) == 1
    [alert] = ledger.list_alerts()
    assert alert.id == third.alert_ids[0]
    assert alert.kind == "STRUCTURING" and alert.participant_id == market.buyer
    assert alert.subject_id == third.trade_id
    assert alert.evidence == [f"{r.trade_id}:1" for r in (first, second, third)]
    assert alert.figures["count"] == "3"
    assert ("3 transfers of 900 USD or more but below 1,000 USD within 24 h"
            in alert.message)


def test_structuring_band_edges(market: Market) -> None:
    ledger = market.ledger
    # The band is [90% of the 1,000 USD threshold, the threshold): 899.99 and 1,000 are
    # outside it; 900, 995, 999 and 999.99 (the classic just-under amounts) inside.
    for usd, alerts in (("899.99", 0), ("900", 1), ("995", 1), ("999", 1), ("999.99", 1),
                        ("1000", 0)):
        buyer = market.participant(f"buyer-{usd}")
        requests = [market.trade(f"s{usd}-{i}", usd, buyer_id=buyer, at=T0 + hours(i),
                                 travel_rule=FULL_TRAVEL_RULE) for i in range(3)]
        receipts = ledger.record_trades(requests)
        assert all(r.status is RECORDED for r in receipts)
        assert len(ledger.list_alerts(participant_id=buyer)) == alerts, usd


def test_structuring_window_excludes_a_transfer_exactly_24_hours_earlier(
        market: Market) -> None:
    ledger = market.ledger
    ledger.record_trades([near(market, "w1", T0), near(market, "w2", T0 + hours(12)),
                          near(market, "w3", T0 + hours(24))])
    assert ledger.list_alerts() == []


def test_structuring_window_includes_a_transfer_just_inside_24_hours(market: Market) -> None:
    ledger = market.ledger
    receipts = ledger.record_trades([
        near(market, "w1", T0), near(market, "w2", T0 + hours(12)),
        near(market, "w3", T0 + hours(24) - timedelta(seconds=1))])
    assert len(receipts[2].alert_ids) == 1 and len(ledger.list_alerts()) == 1


def test_structuring_window_reaches_into_the_previous_month(market: Market) -> None:
    ledger = market.ledger
    march_31 = datetime(2026, 3, 31, 20, 0, tzinfo=UTC)
    ledger.record_trade(near(market, "m1", march_31))
    ledger.record_trade(near(market, "m2", march_31 + hours(5)))  # 1 April 01:00
    third = ledger.record_trade(near(market, "m3", march_31 + hours(6)))
    [alert] = ledger.list_alerts()
    assert alert.id == third.alert_ids[0] and len(alert.evidence) == 3


def test_structuring_across_a_month_edge_when_both_sides_decide_at_once(
        market: Market, monkeypatch: pytest.MonkeyPatch) -> None:
    # The transfer of 31 March decides; the one of 1 April runs to its commit; then the
    # first saves. Each month's account alone would not collide: they must.
    ledger = market.ledger
    march_31 = datetime(2026, 3, 31, 10, 0, tzinfo=UTC)
    ledger.record_trade(near(market, "e0", march_31))
    rules = ledger.trading.rules
    decide = rules.near_threshold
    pending = [lambda: ledger.record_trade(near(market, "e2", march_31 + hours(16)))]

    def then_the_other_one(*args: Any) -> Any:
        found = decide(*args)
        if pending:
            other = threading.Thread(target=pending.pop())
            other.start()
            other.join(60)
        return found

    monkeypatch.setattr(rules, "near_threshold", then_the_other_one)
    ledger.record_trade(near(market, "e1", march_31 + hours(10)))
    [alert] = ledger.list_alerts()
    assert alert.kind == "STRUCTURING" and len(alert.evidence) == 3


def test_structuring_counts_one_participant_only(market: Market) -> None:
    ledger = market.ledger
    other = market.participant("other-buyer")
    ledger.record_trades([near(market, "a1", T0), near(market, "a2", T0 + hours(1)),
                          market.trade("b1", "950", buyer_id=other, at=T0 + hours(2))])
    assert ledger.list_alerts() == []


def test_structuring_alerts_once_per_pattern(market: Market) -> None:
    ledger = market.ledger
    receipts = ledger.record_trades([near(market, f"n{i}", T0 + hours(i)) for i in range(4)])
    assert [len(r.alert_ids) for r in receipts] == [0, 0, 1, 0]
    # Once the earlier transfers leave the window, a new pattern alerts again.
    later = [near(market, f"l{i}", T0 + hours(30 + i)) for i in range(3)]
    assert [len(r.alert_ids) for r in ledger.record_trades(later)] == [0, 0, 1]
    assert len(ledger.list_alerts()) == 2


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0), (2, 0, 1)])
def test_structuring_at_999_99_alerts_in_any_order(market: Market, order: tuple[int, ...]
                                                  ) -> None:
    ledger = market.ledger
    times = [T0 + hours(i) for i in range(3)]
    receipts = [ledger.record_trade(near(market, f"o{i}", times[i], "999.99")) for i in order]
    assert [len(r.alert_ids) for r in receipts] == [0, 0, 1]
    [alert] = ledger.list_alerts()
    by_time = sorted(zip(order, receipts, strict=True))
    assert alert.evidence == [f"{r.trade_id}:1" for _, r in by_time]


def test_structuring_counts_a_back_dated_transfer_into_next_months_pattern(
        market: Market) -> None:
    ledger = market.ledger
    april_1 = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
    ledger.record_trade(near(market, "x1", april_1))
    ledger.record_trade(near(market, "x2", april_1 + hours(1)))
    earlier = ledger.record_trade(near(market, "x3", april_1 - hours(3)))  # 31 March
    assert len(earlier.alert_ids) == 1


def test_structuring_counts_blocked_attempts(market: Market) -> None:
    ledger = market.ledger
    ledger.set_policy("cap-low", "outflow_cap_usd", "1000", effective_from=START)
    outflow = foreign(market)
    first = ledger.record_trade(replace(near(market, "c1", T0, "950"), **outflow))
    assert first.status is RECORDED
    results = ledger.record_trades([
        replace(near(market, f"c{i}", T0 + hours(i), "950"), **outflow) for i in (2, 3)])
    assert [r.rule for r in results] == ["OUTFLOW_CAP_EXCEEDED"] * 2
    assert len(results[1].alert_ids) == 1  # blocked attempts count towards the pattern
    [alert] = ledger.list_alerts()
    assert len(alert.evidence) == 3


# ------------------------------------------------------------------------------ parties


def test_unregistered_party_is_blocked(market: Market) -> None:
    stranger = uuid4()
    with pytest.raises(TradeBlocked) as caught:
        market.ledger.record_trade(market.trade("t1", buyer_id=stranger))
    assert caught.value.rule == "PARTY_NOT_REGISTERED"
    assert str(stranger) in caught.value.message and "buyer" in caught.value.message


def test_unapproved_party_is_blocked(market: Market) -> None:
    pending = market.participant("pending", approve=False)
    with pytest.raises(TradeBlocked) as caught:
        market.ledger.record_trade(market.trade("t1", seller_id=pending))
    assert caught.value.rule == "PARTY_NOT_APPROVED"
    assert "seller" in caught.value.message and "not approved" in caught.value.message


def test_party_approved_after_the_trade_time_is_blocked(market: Market) -> None:
    late = market.participant("late", at=T0 + hours(1))
    with pytest.raises(TradeBlocked, match="not approved"):
        market.ledger.record_trade(market.trade("t1", buyer_id=late, at=T0))
    assert market.ledger.record_trade(
        market.trade("t2", buyer_id=late, at=T0 + hours(1))).status is RECORDED


def test_suspended_party_is_blocked_inside_the_suspension_only(market: Market) -> None:
    ledger = market.ledger
    ledger.suspend_participant("susp", market.buyer, "inquiry", at=T0)
    with pytest.raises(TradeBlocked) as caught:
        ledger.record_trade(market.trade("during", at=T0 + hours(1)))
    assert caught.value.rule == "PARTY_NOT_APPROVED" and "suspended" in caught.value.message
    # Back-dated before the suspension: accepted.
    assert ledger.record_trade(
        market.trade("before", at=T0 - hours(1))).status is RECORDED
    ledger.reinstate_participant("reinstate", market.buyer, at=T0 + hours(5))
    assert ledger.record_trade(market.trade("after", at=T0 + hours(5))).status is RECORDED
    # A trade dated inside the past suspension is still refused.
    with pytest.raises(TradeBlocked):
        ledger.record_trade(market.trade("inside", at=T0 + hours(4)))


def test_suspended_exchange_operator_blocks_its_trades(market: Market) -> None:
    market.ledger.suspend_participant("susp", market.exchange, "audit", at=T0)
    with pytest.raises(TradeBlocked, match=r"exchange .* is suspended"):
        market.ledger.record_trade(market.trade("t1", at=T0))


def test_deregistered_party_is_blocked(market: Market) -> None:
    market.ledger.deregister_participant("dereg", market.seller, "closed", at=T0)
    with pytest.raises(TradeBlocked, match="deregistered"):
        market.ledger.record_trade(market.trade("t1", at=T0))


# ---------------------------------------------------------------------- exchange licence


def test_suspended_exchange_licence_blocks_until_the_suspension_ends(market: Market) -> None:
    ledger = market.ledger
    ledger.suspend_licence("s1", market.licence, "audit", until=T0 + hours(10), at=T0)
    with pytest.raises(TradeBlocked) as caught:
        ledger.record_trade(market.trade("t1", at=T0))
    assert caught.value.rule == "LICENCE_NOT_ACTIVE" and "suspended" in caught.value.message
    assert ledger.record_trade(market.trade("t0", at=T0 - hours(1))).status is RECORDED
    assert ledger.record_trade(market.trade("t2", at=T0 + hours(10))).status is RECORDED


def test_revoked_exchange_licence_blocks_from_revocation(market: Market) -> None:
    ledger = market.ledger
    ledger.revoke_licence("r1", market.licence, "fraud", at=T0)
    with pytest.raises(TradeBlocked, match="revoked"):
        ledger.record_trade(market.trade("t1", at=T0))
    assert ledger.record_trade(market.trade("t0", at=T0 - hours(1))).status is RECORDED


def test_expired_and_not_yet_valid_exchange_licence_blocks(market: Market) -> None:
    ledger = market.ledger
    with pytest.raises(TradeBlocked, match="expired"):
        ledger.record_trade(market.trade("t1", at=END))
    assert ledger.record_trade(
        market.trade("t2", at=END - timedelta(seconds=1))).status is RECORDED
    future = ledger.grant_exchange_licence("future", market.exchange, ["spot"],
                                           T0 + hours(1), END, at=T0).aggregate_id
    with pytest.raises(TradeBlocked, match="not yet valid"):
        ledger.record_trade(market.trade("t3", exchange_licence_id=future, at=T0))
    assert ledger.record_trade(market.trade(
        "t4", exchange_licence_id=future, at=T0 + hours(1))).status is RECORDED


def test_unknown_or_mining_licence_is_not_found_and_records_nothing(market: Market) -> None:
    ledger = market.ledger
    mining = ledger.grant_mining_licence(
        "mine", market.seller, "North", "Z1", "M-1", Decimal(10), Decimal(20), ["3c7461672d373e"],
        START, END, at=START).aggregate_id
    before = notifications(ledger)
    for licence_id in (uuid4(), mining):
        with pytest.raises(NotFound, match="exchange licence"):
            ledger.record_trades([market.trade("ok"),
                                  market.trade("bad", exchange_licence_id=licence_id)])
    assert notifications(ledger) == before


# ------------------------------------------------------------------- batches and retries


def test_retry_returns_first_result_and_records_nothing(market: Market) -> None:
    ledger = market.ledger
    first = ledger.record_trade(market.trade("t1"))
    before = notifications(ledger)
    again = ledger.record_trade(market.trade("t1"))
    assert again.replayed and not first.replayed
    assert replace(again, replayed=False) == first
    assert notifications(ledger) == before


def test_retry_of_a_blocked_trade_raises_the_first_result(market: Market) -> None:
    ledger = market.ledger
    with pytest.raises(TradeBlocked) as first:
        ledger.record_trade(market.trade("t1", "1000"))
    before = notifications(ledger)
    with pytest.raises(TradeBlocked) as again:
        ledger.record_trade(market.trade("t1", "1000"))
    assert again.value.receipt.replayed
    assert replace(again.value.receipt, replayed=False) == first.value.receipt
    # The missing data supplied under the same request id is another request: refused,
    # never replayed (a new request id records it).
    with pytest.raises(RequestIdReused):
        ledger.record_trade(market.trade("t1", "1000", travel_rule=FULL_TRAVEL_RULE))
    assert kinds_since(ledger, before) == ["Raised:REQUEST_ID_REUSED"]  # the refusal, kept


def test_retry_of_an_alerting_trade_returns_its_alert(market: Market) -> None:
    ledger = market.ledger
    first = ledger.record_trades([near(market, f"n{i}", T0 + hours(i)) for i in range(3)])
    before = notifications(ledger)
    again = ledger.record_trades([near(market, "n2", T0 + hours(2))])
    assert again[0].replayed and again[0].alert_ids == first[2].alert_ids != ()
    assert notifications(ledger) == before


def test_duplicate_request_ids_inside_one_batch(market: Market) -> None:
    ledger = market.ledger
    before = notifications(ledger)
    receipts = ledger.record_trades([market.trade("d1"), market.trade("d2"),
                                     market.trade("d1")])
    assert [r.replayed for r in receipts] == [False, False, True]
    assert receipts[2].trade_id == receipts[0].trade_id
    assert notifications(ledger) == before + 2
    assert ledger.repository.get(receipts[0].trade_id).value_usd == Decimal(100)
    # The same id for another trade in one batch refuses the batch: nothing of it is
    # recorded, only the refusal is kept.
    with pytest.raises(RequestIdReused):
        ledger.record_trades([market.trade("d3"), market.trade("d3", "999")])
    assert kinds_since(ledger, before + 2) == ["Raised:REQUEST_ID_REUSED"]


def test_batch_mixing_retries_and_new_trades(market: Market) -> None:
    ledger = market.ledger
    [old] = ledger.record_trades([market.trade("old", **foreign(market, price=Decimal(40000)))])
    receipts = ledger.record_trades([
        market.trade("new1", "5000", **foreign(market)),
        market.trade("old", **foreign(market, price=Decimal(40000))),
        market.trade("new2", "5000", **foreign(market)),
        market.trade("new3", "0.01", **foreign(market))])
    assert [r.replayed for r in receipts] == [False, True, False, False]
    assert receipts[1].trade_id == old.trade_id
    assert [r.status for r in receipts] == [RECORDED, RECORDED, RECORDED, BLOCKED]
    account: OutflowAccount = ledger.repository.get(
        OutflowAccount.create_id(market.buyer, "2026-03"))
    assert account.outflow_usd == Decimal(50000)
    assert len(trade_events(ledger)) == 4


MALFORMED: list[tuple[str, Any]] = [
    ("quantity", Decimal(-1)),
    ("price", Decimal("NaN")),
    ("quote_currency", "usd"),
    ("counterparty_country", "Germany"),
    ("at", datetime(2026, 3, 10)),
    ("request_id", ""),
    ("exchange_trade_id", " "),
    ("travel_rule", {"favourite_colour": "blue"}),
    ("quantity", "1e999999"),
    ("price", "0.0000000000000000001"),
    ("quantity", 1.5),
    ("asset", "BT\x00C"),
    ("counterparty_vasp_id", "Home VASP"),
    ("travel_rule", "originator: me"),
    ("exchange_trade_id", "x" * 201),
    ("wallet_kind", "HOSTED"),
    ("buyer_id", "not-a-uuid"),
]


def test_malformed_trade_in_a_batch_records_nothing_of_the_batch(market: Market) -> None:
    ledger = market.ledger
    before = notifications(ledger)
    for field, value in MALFORMED:
        batch = [market.trade("good1"), replace(market.trade("bad"), **{field: value}),
                 market.trade("good2")]
        with pytest.raises(InvalidRequest) as caught:
            ledger.record_trades(batch)
        assert caught.value.field == field, (field, value)
    assert notifications(ledger) == before


def test_same_party_on_both_sides_is_invalid(market: Market) -> None:
    with pytest.raises(InvalidRequest, match="buyer and seller must differ"):
        market.ledger.record_trade(market.trade("t1", seller_id=market.buyer))


def test_batch_is_saved_in_one_transaction(market: Market) -> None:
    ledger = market.ledger
    batch = [market.trade(f"b{i}", "950" if i < 3 else "100", at=T0 + hours(i))
             for i in range(6)]
    before = notifications(ledger)
    saves: list[int] = []
    original = ledger.save

    def counting_save(*objs: Any, **kwargs: Any) -> Any:
        saves.append(len(objs))
        return original(*objs, **kwargs)

    ledger.save = counting_save  # type: ignore[method-assign]
    receipts = ledger.record_trades(batch)
    assert len(saves) == 1  # one save = one recorder transaction
    assert all(r.status is RECORDED for r in receipts)
    # 6 trades + account opened + 3 near-threshold notes + 1 structuring alert.
    assert notifications(ledger) - before == 11


def test_concurrent_writer_on_the_same_account_is_retried_against_new_total(
        store_url: str) -> None:
    first = on_time_ledger(StoreConfig(url=store_url))
    second = on_time_ledger(StoreConfig(url=store_url, create_tables=False))
    try:
        market = build_market(first)
        first.set_policy("cap", "outflow_cap_usd", "1000", effective_from=START)
        market.vasp("DE")  # registered before the save is intercepted
        original = first.save
        interleaved: list[Any] = []

        def save_after_rival(*objs: Any, **kwargs: Any) -> Any:
            # The rival commits between this writer's decision and its save, once.
            if not interleaved:
                interleaved.append(second.record_trade(market.trade("rival", "600",
                                                                    **foreign(market))))
            return original(*objs, **kwargs)

        first.save = save_after_rival
        receipt = first.record_trades([market.trade("mine", "500", **foreign(market))])[0]
        assert interleaved[0].status is RECORDED
        # Decided first against 0 used, then re-decided against the rival's 600.
        assert receipt.status is BLOCKED
        assert receipt.message == "outflow cap 1,000 USD exceeded: 600 + 500"
        account: OutflowAccount = first.repository.get(
            OutflowAccount.create_id(market.buyer, "2026-03"))
        assert account.outflow_usd == Decimal(600)
    finally:
        first.close()
        second.close()



def test_an_exchange_trade_id_is_recorded_once_per_licence(market: Market) -> None:
    ledger = market.ledger
    first = ledger.record_trade(market.trade("e1", exchange_trade_id="SR-1"))
    with pytest.raises(TradeBlocked) as again:
        ledger.record_trade(market.trade("e2", exchange_trade_id="SR-1"))
    assert again.value.receipt.rule == "EXCHANGE_TRADE_ID_REUSED"
    assert again.value.receipt.figures["trade_id"] == str(first.trade_id)
    # The attempt stays on the record, under its own request; retried, it replays.
    blocked = ledger.get_typed(again.value.receipt.trade_id, Trade, "trade")
    assert blocked.is_blocked and blocked.exchange_trade_id == "SR-1"
    with pytest.raises(TradeBlocked) as retried:
        ledger.record_trade(market.trade("e2", exchange_trade_id="SR-1"))
    assert retried.value.receipt.replayed
    # Inside one batch too.
    receipts = ledger.record_trades([market.trade("e3", exchange_trade_id="SR-3"),
                                     market.trade("e4", exchange_trade_id="SR-3")])
    assert [r.rule for r in receipts] == ["", "EXCHANGE_TRADE_ID_REUSED"]


def test_a_blocked_trade_corrected_under_a_new_request_id_is_recorded(market: Market) -> None:
    ledger = market.ledger
    with pytest.raises(TradeBlocked) as blocked:
        ledger.record_trade(market.trade("c1", "5000", exchange_trade_id="SR-9"))
    assert blocked.value.receipt.rule == "TRAVEL_RULE_DATA_MISSING"
    corrected = ledger.record_trade(market.trade("c2", "5000", exchange_trade_id="SR-9",
                                                 travel_rule=FULL_TRAVEL_RULE))
    assert corrected.status is RECORDED
    assert corrected.trade_id != blocked.value.receipt.trade_id

"""Commands of ``ledger.application.Ledger`` on both stores: participants, licences,
reports, meter readings, policy and alerts, and idempotent retries of every command."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.domain import Aggregate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.domain.alert import Alert
from ledger.domain.licence import ExchangeLicence, MiningLicence
from ledger.domain.meter_reading import MeterReading
from ledger.domain.output_report import OutputReport
from ledger.domain.participant import ParticipantKind
from ledger.errors import InvalidRequest, NotFound, RuleViolation
from ledger.receipts import Receipt, TradeReceipt
from ledger.trading import TradeBlocked
from tests.ledger.conftest import END, START, T0, Market, hours, notifications
from tests.ledger.domain.test_envelope import raw_public

KEY = raw_public(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
DAY = timedelta(days=1)


def grant_mining(market: Market, request_id: str = "mine", meter: str = "M-1",
                 efficiency: str = "20", **kwargs: Any) -> Receipt:
    """Grants the seller a 10 MW mining licence valid through 2026."""
    values: dict[str, Any] = {"valid_from": START, "valid_until": END, "at": START}
    values.update(kwargs)
    return market.ledger.grant_mining_licence(
        request_id, market.seller, "North", "Z1", meter, Decimal(10), Decimal(efficiency),
        [f"<{request_id}>".encode().hex()], **values)


def report(ledger: Ledger, request_id: str, licence_id: Any, at: Any,
           mined: str = "10", sold: str = "5") -> Receipt:
    """Reports output for the week before ``at``."""
    return ledger.report_output(request_id, licence_id, at - 7 * DAY, at, "BTC",
                                Decimal(mined), ["bc1qwallet"], Decimal(sold), at=at)


# ---------------------------------------------------------------------------- participants


def test_participant_registration_and_approval(market: Market) -> None:
    ledger = market.ledger
    receipt = ledger.register_participant(
        "reg-p", "INDIVIDUAL", "  Jane Miner ", "TAX-9", "KZ", ["Jane"], ["Offshore Ltd"],
        at=START)
    participant = ledger.get_participant(receipt.aggregate_id)
    assert participant.kind is ParticipantKind.INDIVIDUAL
    assert participant.legal_name == "Jane Miner" and participant.country == "KZ"
    assert participant.beneficial_owners == ["Jane"]
    assert participant.offshore_links == ["Offshore Ltd"]
    assert participant.standing_at(START) == "not approved"
    with pytest.raises(RuleViolation, match="offshore zones"):
        ledger.approve_participant("app-offshore", receipt.aggregate_id, at=START + DAY)
    receipt = ledger.register_participant(
        "reg-q", "INDIVIDUAL", "Jane Miner", "TAX-9", "KZ", ["Jane"], at=START)
    ledger.approve_participant("app-p", receipt.aggregate_id, at=START + DAY)
    participant = ledger.get_participant(receipt.aggregate_id)
    assert participant.is_active_at(START + DAY)
    assert not participant.is_active_at(START)
    with pytest.raises(RuleViolation) as caught:
        ledger.approve_participant("app-again", receipt.aggregate_id)
    assert caught.value.rule == "ALREADY_APPROVED"


@pytest.mark.parametrize(("field", "args"), [
    ("kind", ("COMPANY", "Acme", "T", "MT")),
    ("legal_name", ("ENTERPRISE", " ", "T", "MT")),
    ("tax_id", ("ENTERPRISE", "Acme", "", "MT")),
    ("country", ("ENTERPRISE", "Acme", "T", "xx")),
])
def test_malformed_registration_records_nothing(ledger: Ledger, field: str,
                                                args: tuple[str, str, str, str]) -> None:
    with pytest.raises(InvalidRequest) as caught:
        ledger.register_participant("reg", *args)
    assert caught.value.field == field
    assert notifications(ledger) == 0


def test_participant_keys(market: Market) -> None:
    ledger = market.ledger
    with pytest.raises(InvalidRequest, match="32 bytes"):
        ledger.register_key("k0", market.seller, "k1", KEY[:31])
    ledger.register_key("k1", market.seller, "k1", KEY, at=T0)
    with pytest.raises(RuleViolation, match="already registered"):
        ledger.register_key("k1b", market.seller, "k1", KEY, at=T0)
    with pytest.raises(NotFound):
        ledger.revoke_key("r0", market.seller, "nope")
    ledger.revoke_key("r1", market.seller, "k1", at=T0 + DAY)
    seller = ledger.get_participant(market.seller)
    key = seller.valid_key("k1", T0)
    assert key is not None and key.public_key == KEY
    assert seller.valid_key("k1", T0 + DAY) is None
    assert seller.valid_key("k1", T0 - DAY) is None
    with pytest.raises(RuleViolation, match="already revoked"):
        ledger.revoke_key("r2", market.seller, "k1")


def test_participant_suspension_reinstatement_and_deregistration(market: Market) -> None:
    ledger = market.ledger
    with pytest.raises(RuleViolation, match="not suspended"):
        ledger.reinstate_participant("re0", market.buyer, at=T0)
    with pytest.raises(InvalidRequest, match="until"):
        ledger.suspend_participant("s0", market.buyer, "x", until=T0, at=T0)
    ledger.suspend_participant("s1", market.buyer, "inquiry", until=T0 + DAY, at=T0)
    buyer = ledger.get_participant(market.buyer)
    assert buyer.standing_at(T0) == "suspended" and buyer.is_active_at(T0 + DAY)
    ledger.deregister_participant("d1", market.buyer, "closed", at=T0 + 2 * DAY)
    assert ledger.get_participant(market.buyer).standing_at(T0 + 2 * DAY) == "deregistered"
    with pytest.raises(RuleViolation) as caught:
        ledger.deregister_participant("d2", market.buyer, "again")
    assert caught.value.rule == "PARTICIPANT_DEREGISTERED"


def test_lookups_of_the_wrong_kind_are_not_found(market: Market) -> None:
    ledger = market.ledger
    with pytest.raises(NotFound, match="participant"):
        ledger.get_participant(market.licence)
    with pytest.raises(NotFound, match="mining licence"):
        ledger.get_mining_licence(market.licence)
    with pytest.raises(NotFound):
        ledger.approve_participant("a", uuid4())
    assert isinstance(ledger.get_exchange_licence(market.licence), ExchangeLicence)


# -------------------------------------------------------------------------- licences


def test_grant_efficiency_floor_both_sides(market: Market) -> None:
    ledger = market.ledger
    before = notifications(ledger)
    with pytest.raises(RuleViolation) as caught:
        grant_mining(market, "below", efficiency="11.99")
    assert caught.value.rule == "EFFICIENCY_BELOW_FLOOR"
    assert "11.99 J/TH is better than the policy floor 12 J/TH" in caught.value.message
    assert notifications(ledger) == before
    receipt = grant_mining(market, "at-floor", efficiency="12")
    licence = ledger.get_mining_licence(receipt.aggregate_id)
    assert licence.capacity_at(T0).hashrate_cap_ths == Decimal(10) * 10**6 / 12


def test_grant_uses_the_floor_in_force_at_its_time(market: Market) -> None:
    ledger = market.ledger
    ledger.set_policy("floor", "efficiency_floor_jth", "15", effective_from=T0)
    grant_mining(market, "early", "M-1", efficiency="13", at=T0 - DAY)
    with pytest.raises(RuleViolation, match="floor 15 J/TH"):
        grant_mining(market, "late", "M-2", efficiency="13", at=T0)


def test_amendment_efficiency_floor_both_sides(market: Market) -> None:
    ledger = market.ledger
    licence_id = grant_mining(market).aggregate_id
    with pytest.raises(RuleViolation) as caught:
        ledger.amend_mining_capacity("am0", licence_id, Decimal(20), Decimal("11.99"),
                                     effective_from=T0)
    assert caught.value.rule == "EFFICIENCY_BELOW_FLOOR"
    ledger.amend_mining_capacity("am1", licence_id, Decimal(20), Decimal(12),
                                 effective_from=T0)
    licence = ledger.get_mining_licence(licence_id)
    assert licence.capacity_at(T0 - DAY).power_mw == Decimal(10)
    assert licence.capacity_at(T0).power_mw == Decimal(20)


def test_grant_refused_to_inactive_participant_or_used_meter(market: Market) -> None:
    ledger = market.ledger
    pending = market.participant("pending", approve=False)
    with pytest.raises(RuleViolation) as caught:
        ledger.grant_exchange_licence("gx", pending, ["spot"], START, END, at=START)
    assert caught.value.rule == "PARTICIPANT_NOT_ACTIVE"
    grant_mining(market, "first", "M-7")
    with pytest.raises(RuleViolation) as used:
        grant_mining(market, "second", "M-7")
    assert used.value.rule == "METER_IN_USE"
    with pytest.raises(InvalidRequest, match="valid_until"):
        grant_mining(market, "backwards", "M-8", valid_until=START)
    with pytest.raises(InvalidRequest, match="coinbase_tags"):
        ledger.grant_mining_licence("bad-tag", market.seller, "N", "Z", "M-9", Decimal(1),
                                    Decimal(20), ["zz"], START, END)


def test_coinbase_tags_are_unique_per_licence(market: Market) -> None:
    ledger = market.ledger

    def grant(request_id: str, holder: Any, tags: list[bytes], meter: str,
              start: datetime = START, end: datetime = END) -> Receipt:
        return ledger.grant_mining_licence(request_id, holder, "N", "Z", meter, Decimal(1),
                                           Decimal(20), [t.hex() for t in tags], start, end,
                                           at=START)

    first = grant("g1", market.seller, [b"/pool/alpha/"], "M-1").aggregate_id
    other = market.participant("other")
    for n, tags in enumerate(([b"/pool/alpha/"], [b"alpha"], [b"x/pool/alpha/x"],
                              [b"/mine/", b"/pool/alpha/"])):
        with pytest.raises(RuleViolation) as taken:
            grant(f"g-taken-{n}", other, tags, f"M-x{n}")
        assert taken.value.rule == "COINBASE_TAG_IN_USE"
        assert "coinbase_tags" in taken.value.message and str(first) in taken.value.message
    # The same holder may not share a tag between two licences in force together...
    with pytest.raises(RuleViolation, match="coinbase_tags"):
        grant("g-same", market.seller, [b"/pool/alpha/"], "M-2",
              start=END - timedelta(days=1), end=END + timedelta(days=30))
    # ... but a licence that follows the first (a renewal) keeps its tag.
    grant("g-next", market.seller, [b"/pool/alpha/"], "M-3", start=END,
          end=END + timedelta(days=365))
    grant("g-free", other, [b"/pool/beta/"], "M-4")
    for tags, why in (([], "at least one"), ([b"abc"], "shorter than 4 bytes")):
        with pytest.raises(InvalidRequest, match=why) as bad:
            grant("g-bad", other, tags, "M-5")
        assert bad.value.field == "coinbase_tags"


def test_licence_lifecycle_rules(market: Market) -> None:
    ledger = market.ledger
    licence_id = grant_mining(market).aggregate_id
    with pytest.raises(RuleViolation, match="not suspended"):
        ledger.reinstate_licence("re0", licence_id, at=T0)
    ledger.revoke_licence("rv", licence_id, "fraud", at=T0)
    for attempt in (
        lambda: ledger.revoke_licence("rv2", licence_id, "again", at=T0),
        lambda: ledger.suspend_licence("s", licence_id, "x", at=T0),
        lambda: ledger.reinstate_licence("re", licence_id, at=T0),
        lambda: ledger.amend_mining_capacity("am", licence_id, Decimal(1), Decimal(20)),
    ):
        with pytest.raises(RuleViolation) as caught:
            attempt()
        assert caught.value.rule == "LICENCE_REVOKED"
    assert ledger.get_licence(licence_id).status_at(T0) == "REVOKED"


def test_expire_licences_records_only_ended_ones(market: Market) -> None:
    ledger = market.ledger
    short = grant_mining(market, "short", "M-2", valid_until=T0).aggregate_id
    receipts = ledger.expire_licences("exp-1", at=T0)
    assert [r.aggregate_id for r in receipts] == [short]
    assert ledger.get_licence(short).expired_at == T0
    assert ledger.get_licence(market.licence).expired_at is None
    assert ledger.expire_licences("exp-2", at=T0) == []


def test_list_licences_by_participant_and_kind(market: Market) -> None:
    ledger = market.ledger
    mining = grant_mining(market).aggregate_id
    assert [lic.id for lic in ledger.list_licences()] == [market.licence, mining]
    assert [lic.id for lic in ledger.list_licences(market.seller)] == [mining]
    assert [lic.id for lic in ledger.list_licences(kind=MiningLicence)] == [mining]
    assert ledger.list_licences(market.buyer) == []


# --------------------------------------------------- licence validity at the event's time


def test_report_dated_inside_a_suspension_is_refused(market: Market) -> None:
    ledger = market.ledger
    licence_id = grant_mining(market).aggregate_id
    ledger.suspend_licence("s1", licence_id, "meter tampering", at=T0)
    before = notifications(ledger)
    with pytest.raises(RuleViolation) as caught:
        report(ledger, "inside", licence_id, T0 + DAY)
    assert caught.value.rule == "LICENCE_NOT_ACTIVE" and "suspended" in caught.value.message
    # The refused report stays on the record: one alert that keeps what was sent.
    assert notifications(ledger) == before + 1
    [kept] = ledger.list_alerts()
    assert (kept.kind, kept.subject_id) == ("LICENCE_NOT_ACTIVE", licence_id)
    assert kept.figures["sent.amount"] == "10" and kept.figures["sent.wallets"] == "bc1qwallet"
    with pytest.raises(RuleViolation):  # a retry is refused again and kept once
        report(ledger, "inside", licence_id, T0 + DAY)
    assert notifications(ledger) == before + 1
    # Back-dated before the suspension: accepted although submitted after it began.
    assert not report(ledger, "before", licence_id, T0 - DAY).replayed
    ledger.reinstate_licence("r1", licence_id, at=T0 + 3 * DAY)
    report(ledger, "after", licence_id, T0 + 3 * DAY)
    # Still refused for a date inside the (now closed) suspension.
    with pytest.raises(RuleViolation, match="suspended"):
        report(ledger, "inside-again", licence_id, T0 + 2 * DAY)


def test_report_outside_validity_or_after_revocation_is_refused(market: Market) -> None:
    ledger = market.ledger
    licence_id = grant_mining(market, valid_from=T0).aggregate_id
    with pytest.raises(RuleViolation, match="not yet valid"):
        report(ledger, "early", licence_id, T0 - DAY)
    with pytest.raises(RuleViolation, match="expired"):  # a week after the term
        report(ledger, "late", licence_id, END + 7 * DAY)
    # The term's last week, reported as it ends: allowed until the month's deadline
    # (ledger.reports, tested on both sides in tests/ledger/test_supervision.py).
    assert not report(ledger, "last-week", licence_id, END).replayed
    ledger.revoke_licence("rv", licence_id, "fraud", at=T0 + 10 * DAY)
    report(ledger, "ok", licence_id, T0 + 9 * DAY)
    with pytest.raises(RuleViolation, match="revoked"):
        report(ledger, "revoked", licence_id, T0 + 10 * DAY)


def test_report_refused_while_the_holder_is_suspended(market: Market) -> None:
    ledger = market.ledger
    licence_id = grant_mining(market).aggregate_id
    ledger.suspend_participant("sp", market.seller, "inquiry", until=T0 + DAY, at=T0)
    with pytest.raises(RuleViolation) as caught:
        report(ledger, "r1", licence_id, T0)
    assert caught.value.rule == "PARTICIPANT_NOT_ACTIVE"
    report(ledger, "r2", licence_id, T0 + DAY)


def test_a_report_is_not_judged_on_the_sale_it_claims(market: Market) -> None:
    """The sale share is judged by reconciliation from trades, not from the report."""
    ledger = market.ledger
    licence_id = grant_mining(market).aggregate_id
    receipt = report(ledger, "short", licence_id, T0, mined="10", sold="0")
    stored: OutputReport = ledger.repository.get(receipt.aggregate_id)
    assert (stored.amount, stored.sold_through_exchange) == (Decimal(10), Decimal(0))
    assert ledger.list_alerts() == []


def test_malformed_reports_record_no_report_but_leave_a_trace(market: Market) -> None:
    ledger = market.ledger
    licence_id = grant_mining(market).aggregate_id
    before = notifications(ledger)
    with pytest.raises(InvalidRequest, match="more than the amount mined"):
        report(ledger, "r1", licence_id, T0, mined="1", sold="2")
    with pytest.raises(InvalidRequest, match=r"period\.end_time"):
        ledger.report_output("r2", licence_id, T0, T0, "BTC", Decimal(1), [], Decimal(1))
    with pytest.raises(InvalidRequest, match="amount"):
        report(ledger, "r3", licence_id, T0, mined="-1", sold="0")
    with pytest.raises(NotFound):
        report(ledger, "r4", market.licence, T0)  # an exchange licence
    # No report is recorded; each refused report of the licence is kept as an alert
    # naming the field, with what was sent.
    assert notifications(ledger) == before + 3
    kept = {a.figures["sent.request_id"]: a for a in ledger.list_alerts()}
    assert set(kept) == {"r1", "r2", "r3"}
    assert {a.kind for a in kept.values()} == {"INVALID_ARGUMENT"}
    assert kept["r1"].figures["refusal.field"] == "sold_through_exchange_amount"
    assert kept["r1"].figures["sent.sold_through_exchange_amount"] == "2"
    assert kept["r3"].figures["sent.amount"] == "-1"


def test_meter_readings_belong_to_the_licence_of_their_meter(market: Market) -> None:
    ledger = market.ledger
    licence_id = grant_mining(market, meter="M-42").aggregate_id
    receipt = ledger.record_meter_reading("m1", "M-42", T0 - DAY, T0, Decimal("12345.678"))
    reading: MeterReading = ledger.repository.get(receipt.aggregate_id)
    assert reading.licence_id == licence_id and reading.kwh == Decimal("12345.678")
    with pytest.raises(NotFound, match="meter"):
        ledger.record_meter_reading("m2", "M-unknown", T0 - DAY, T0, Decimal(1))
    with pytest.raises(InvalidRequest, match="kwh"):
        ledger.record_meter_reading("m3", "M-42", T0 - DAY, T0, Decimal(-1))


# ------------------------------------------------------------------- policy and alerts


def test_policy_through_the_ledger(ledger: Ledger) -> None:
    assert ledger.get_policy("outflow_cap_usd", T0) == "50000"
    with pytest.raises(InvalidRequest):
        ledger.set_policy("p0", "outflow_cap_usd", "-5")
    with pytest.raises(InvalidRequest, match="unknown policy parameter"):
        ledger.get_policy("nope")
    assert notifications(ledger) == 0
    ledger.set_policy("p1", "outflow_cap_usd", "20000", effective_from=T0, at=T0 - DAY)
    assert ledger.get_policy("outflow_cap_usd", T0 - timedelta(seconds=1)) == "50000"
    assert ledger.get_policy("outflow_cap_usd", T0) == "20000"


def test_alerts_raise_list_and_resolve(market: Market) -> None:
    ledger = market.ledger
    subject = uuid4()
    receipt = ledger.raise_alert("a1", "CAPACITY_EXCEEDED", subject, market.seller, "too much",
                                 ["7:1"], {"ratio": "1.2"}, at=T0)
    assert receipt.aggregate_id == Alert.create_id("regulator", "a1", "CAPACITY_EXCEEDED",
                                                   subject)
    ledger.raise_alert("a2", "OTHER", subject, None, "other", [], {}, at=T0)
    assert len(ledger.list_alerts(participant_id=market.seller)) == 1
    ledger.resolve_alert("res", receipt.aggregate_id, "officer", "explained", at=T0 + DAY)
    assert [a.kind for a in ledger.list_alerts(open_only=True)] == ["OTHER"]
    resolved = ledger.get_typed(receipt.aggregate_id, Alert, "alert")
    assert (resolved.resolved_by, resolved.resolution_note) == ("officer", "explained")
    with pytest.raises(RuleViolation, match="resolved"):
        ledger.resolve_alert("res2", receipt.aggregate_id, "officer", "again")


# -------------------------------------------------------------------- idempotent retries


def same_result(first: Any, again: Any) -> bool:
    """Returns True when ``again`` is ``first`` replayed (receipts, or lists of them)."""
    if isinstance(first, list):
        return len(first) == len(again) and all(map(same_result, first, again))
    assert isinstance(first, Receipt | TradeReceipt)
    return again.replayed and replace(again, replayed=False) == first


def test_every_command_retried_returns_its_first_result_and_records_nothing(
        market: Market) -> None:
    ledger = market.ledger
    licence = grant_mining(market, "idem-licence", "M-9")
    mid = licence.aggregate_id
    subject = uuid4()
    commands: list[tuple[str, Callable[[], Any]]] = [
        ("register", lambda: ledger.register_participant(
            "i-reg", "ENTERPRISE", "Idem", "T-1", "MT", at=START)),
        ("approve", lambda: ledger.approve_participant(
            "i-app", ledger.register_participant("i-reg", "ENTERPRISE", "Idem", "T-1", "MT",
                                                 at=START).aggregate_id, at=START)),
        ("register key", lambda: ledger.register_key("i-key", market.seller, "k", KEY, at=T0)),
        ("revoke key", lambda: ledger.revoke_key("i-rk", market.seller, "k", at=T0)),
        ("suspend participant", lambda: ledger.suspend_participant(
            "i-sp", market.buyer, "x", at=T0 + 100 * DAY)),
        ("reinstate participant", lambda: ledger.reinstate_participant(
            "i-rp", market.buyer, at=T0 + 101 * DAY)),
        ("grant mining", lambda: grant_mining(market, "i-gm", "M-10")),
        ("grant exchange", lambda: ledger.grant_exchange_licence(
            "i-gx", market.exchange, ["spot"], START, END, at=START)),
        ("amend", lambda: ledger.amend_mining_capacity(
            "i-am", mid, Decimal(12), Decimal(20), effective_from=T0)),
        ("suspend licence", lambda: ledger.suspend_licence(
            "i-sl", mid, "x", at=T0 + 100 * DAY)),
        ("reinstate licence", lambda: ledger.reinstate_licence(
            "i-rl", mid, at=T0 + 101 * DAY)),
        ("report", lambda: report(ledger, "i-rep", mid, T0)),
        ("meter", lambda: ledger.record_meter_reading(
            "i-met", "M-9", T0 - DAY, T0, Decimal(5))),
        ("policy", lambda: ledger.set_policy("i-pol", "fx_usd.EUR", "1.1")),
        ("trade", lambda: ledger.record_trade(market.trade("i-tr"))),
        ("trades", lambda: ledger.record_trades(
            [market.trade("i-b1"), market.trade("i-b2", "950")])),
        ("raise alert", lambda: ledger.raise_alert(
            "i-al", "K", subject, None, "m", [], {}, at=T0)),
        ("resolve alert", lambda: ledger.resolve_alert(
            "i-ra", Alert.create_id("regulator", "i-al", "K", subject), "officer", "ok")),
        ("deregister", lambda: ledger.deregister_participant(
            "i-dr", market.exchange, "closed", at=END + DAY)),
        ("expire", lambda: ledger.expire_licences("i-exp", at=END)),
        ("revoke licence", lambda: ledger.revoke_licence("i-rv", mid, "x", at=END + DAY)),
    ]
    for name, command in commands:
        first = command()
        before = notifications(ledger)
        again = command()
        assert same_result(first, again), name
        assert notifications(ledger) == before, name
    assert len(ledger.expire_licences("i-exp", at=END)) == len(ledger.list_licences()) == 4


def test_refused_commands_retried_are_refused_again_and_record_nothing(
        market: Market) -> None:
    ledger = market.ledger
    licence_id = grant_mining(market).aggregate_id
    ledger.suspend_licence("suspend", licence_id, "inquiry", at=T0 - DAY)
    with pytest.raises(RuleViolation) as first:
        report(ledger, "refused", licence_id, T0)
    before = notifications(ledger)
    with pytest.raises(RuleViolation) as again:
        report(ledger, "refused", licence_id, T0)
    assert (again.value.rule, again.value.figures) == (first.value.rule, first.value.figures)
    assert notifications(ledger) == before
    with pytest.raises(TradeBlocked):
        ledger.record_trade(market.trade("blocked", "5000"))
    before = notifications(ledger)
    with pytest.raises(TradeBlocked) as blocked:
        ledger.record_trade(market.trade("blocked", "5000"))
    assert blocked.value.receipt.replayed
    assert notifications(ledger) == before


def test_request_id_is_required_by_every_command(market: Market) -> None:
    ledger = market.ledger
    for attempt in (
        lambda: ledger.approve_participant("", market.buyer),
        lambda: ledger.register_participant(" ", "ENTERPRISE", "A", "T", "MT"),
        lambda: ledger.set_policy("", "outflow_cap_usd", "1"),
        lambda: ledger.expire_licences(""),
        lambda: ledger.suspend_licence("", market.licence, "x"),
    ):
        with pytest.raises(InvalidRequest, match="request_id"):
            attempt()


def test_mutations_are_recorded_at_their_own_time(market: Market) -> None:
    ledger = market.ledger
    ledger.suspend_licence("s", market.licence, "audit", until=T0 + hours(2), at=T0)
    licence = ledger.get_exchange_licence(market.licence)
    assert licence.standing_at(T0 + hours(1)) is not None
    assert licence.standing_at(T0 + hours(2)) is None


# ---------------------------------------------------------------------------- saving


class Thing(Aggregate):
    """A plain eventsourcing aggregate, to save through the ledger."""

    def rename(self, name: str) -> None:
        self.trigger_event(self.Renamed, name=name)

    class Renamed(Aggregate.Event):
        name: str

        def apply(self, aggregate: Any) -> None:
            aggregate.name = self.name


def test_save_records_aggregates_and_bare_events_like_eventsourcing(ledger: Ledger) -> None:
    """Ledger.save collects aggregates itself (see its docstring): the events, their
    order, the cache and the listeners must be exactly what Application.save gives."""
    heard: list[int] = []
    ledger.listeners.append(lambda recordings: heard.append(len(recordings)))
    first, second = Thing(), Thing()
    second.rename("b")
    bare = Thing()
    (bare_event,) = bare.collect_events()
    recordings = ledger.save(first, None, second, bare_event)
    assert [(r.domain_event.originator_id, r.domain_event.originator_version)
            for r in recordings] == [(first.id, 1), (second.id, 1), (second.id, 2),
                                     (bare.id, 1)]
    assert heard == [4]
    assert ledger.repository.get(second.id).name == "b"
    assert ledger.save(first) == []  # nothing pending: nothing recorded


# ------------------------------------------------------------ absurd input, every command

ABSURD = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["1e999999", "-1e999999", "NaN", "Infinity", "9" * 65, "1E+15",
                     "0." + "0" * 25 + "1", "\x00", "a\nb", "\u2028", " ", ""]),
)


def absurd_commands(market: Market, value: str) -> list[tuple[str, Callable[[], Any]]]:
    """Returns every command of the ledger, each given ``value`` where a client's text or
    number goes."""
    ledger, licence = market.ledger, market.licence
    return [
        ("register", lambda: ledger.register_participant(
            f"a-reg-{value!r}", "ENTERPRISE", value, value, "KZ", [value], at=T0)),
        ("grant mining", lambda: ledger.grant_mining_licence(
            f"a-gm-{value!r}", market.seller, value, "Z", f"M-{value!r}", value, "20", ["ab"],
            START, END, at=T0)),
        ("amend", lambda: ledger.amend_mining_capacity(
            f"a-am-{value!r}", licence, value, value, at=T0)),
        ("suspend", lambda: ledger.suspend_licence(f"a-s-{value!r}", licence, value, at=T0)),
        ("meter", lambda: ledger.record_meter_reading(
            f"a-m-{value!r}", "M-1", T0 - DAY, T0, value, at=T0)),
        ("policy", lambda: ledger.set_policy(f"a-p-{value!r}", "outflow_cap_usd", value)),
        ("trade", lambda: ledger.record_trade(market.trade(
            f"a-t-{value!r}", quantity=value, asset=value))),
        ("key", lambda: ledger.register_key(f"a-k-{value!r}", market.buyer, value, KEY,
                                            at=T0)),
        ("alert", lambda: ledger.raise_alert(f"a-al-{value!r}", value, uuid4(), None, value,
                                             [value], {}, at=T0)),
    ]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=ABSURD)
def test_absurd_input_to_any_command_is_a_clear_error_and_stores_nothing(
        market: Market, value: str) -> None:
    grant_mining(market)
    for name, command in absurd_commands(market, value):
        before = notifications(market.ledger)
        try:
            command()
        except InvalidRequest as error:
            assert error.field, name  # names the field
            # Nothing half-done; a refused reading leaves one trace (an alert keeping what
            # was sent; none again when hypothesis repeats a value).
            kept = (0, 1) if name == "meter" else (0,)
            assert notifications(market.ledger) - before in kept, name
        except (RuleViolation, NotFound):
            pass  # well-formed, refused by a rule (blocked trades stay on the record)

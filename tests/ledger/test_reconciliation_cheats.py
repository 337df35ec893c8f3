"""Reconciliations that catch the cheats of issue 14, on SQLite and PostgreSQL: mining
during a suspension, a retarget inside the period, pool miners hiding output, missing
reports and sale shares claimed without trades; the audit replay agrees with each."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.application import Ledger
from ledger.audit.faults import Fault
from ledger.audit.proof_checks import ProofReplayCheck
from ledger.errors import InvalidRequest
from tests.ledger.conftest import END, START, build_market
from tests.ledger.test_proofs import (
    HOUR,
    LICENSED_MW,
    P0,
    REWARD,
    SHARE_WORK,
    SUBSIDY,
    TAG,
    Mine,
    T,
    build_mine,
    decimal_of,
    mined,
)
from verifier.cpu import CpuBackend


@pytest.fixture
def mine(ledger: Ledger) -> Mine:
    """A solo miner (tests.ledger.test_proofs)."""
    return build_mine(ledger)


def replay_faults(ledger: Ledger) -> list[str]:
    """Returns the proof replay's faults over the whole log, as text."""
    check = ProofReplayCheck(backend=CpuBackend(workers=1))
    stored = ledger.recorder.select_notifications(start=None, limit=1_000_000)
    faults: list[Fault] = []
    for leaf, notification in enumerate(stored):
        faults.extend(check.observe(leaf, ledger.mapper.to_domain_event(notification)))
    assert check.reconciliations_checked >= 1
    return [f.message for f in faults]


def close(mine: Mine, request_id: str = "close", hours: int = 1) -> object:
    receipt = mine.ledger.close_reconciliation(request_id, mine.licence, P0, P0 + hours * HOUR,
                                               at=P0 + (hours + 1) * HOUR)
    return mine.ledger.get_reconciliation(receipt.aggregate_id)


def test_suspended_hours_reconcile_against_zero_capacity_and_quota(mine: Mine) -> None:
    ledger = mine.ledger
    # Suspended for the middle hour of three, decided back-dated after the shares came in.
    period = mined("small", 5, seconds=3 * T)
    ledger.submit_proof_batch("b1", mine.licence, period.batch, at=P0 + 3 * HOUR)
    ledger.suspend_licence("suspend", mine.licence, "inspection", until=P0 + 2 * HOUR,
                           at=P0 + HOUR)
    ntimes = [s["ntime"] for s in period.batch["shares"]]
    low, high = int((P0 + HOUR).timestamp()), int((P0 + 2 * HOUR).timestamp())
    inside = sum(low <= t < high for t in ntimes)
    recon = close(mine, hours=3)
    figures = recon.figures  # type: ignore[attr-defined]
    assert Decimal(figures["licensed_mw"]) == LICENSED_MW * 2 / 3
    assert Decimal(figures["quota_kwh"]) == LICENSED_MW * 2 * 1000
    assert int(figures["shares"]) == len(ntimes) - inside
    assert int(figures["proved_work"]) == (len(ntimes) - inside) * SHARE_WORK
    assert int(figures["shares_not_active"]) == inside
    assert "MINED_WHILE_NOT_ACTIVE" in recon.verdicts  # type: ignore[attr-defined]
    assert replay_faults(ledger) == []


def test_a_fully_suspended_period_has_no_capacity_for_any_share(mine: Mine) -> None:
    ledger = mine.ledger
    ledger.submit_proof_batch("b1", mine.licence, mined("small", 1).batch, at=P0 + HOUR)
    ledger.suspend_licence("suspend", mine.licence, "inspection", at=P0)
    recon = close(mine)
    assert Decimal(recon.figures["licensed_capacity_ths"]) == 0  # type: ignore[attr-defined]
    assert Decimal(recon.figures["quota_kwh"]) == 0  # type: ignore[attr-defined]
    assert recon.figures["shares"] == "0"  # type: ignore[attr-defined]
    assert "MINED_WHILE_NOT_ACTIVE" in recon.verdicts  # type: ignore[attr-defined]
    assert replay_faults(ledger) == []


def test_a_retarget_inside_the_period_applies_to_the_shares_after_it(mine: Mine) -> None:
    ledger = mine.ledger
    period = mined("small", 5, seconds=3 * T)
    ledger.submit_proof_batch("b1", mine.licence, period.batch, at=P0 + 3 * HOUR)
    base = decimal_of(period.network_difficulty)
    ledger.set_policy("retarget", "network_difficulty", str(base * 3),
                      effective_from=P0 + 2 * HOUR, at=P0 + 3 * HOUR)
    ledger.set_policy("halving", "block_subsidy", str(SUBSIDY / 2),
                      effective_from=P0 + 2 * HOUR, at=P0 + 3 * HOUR)
    ntimes = [s["ntime"] for s in period.batch["shares"]]
    cut = int((P0 + 2 * HOUR).timestamp())
    before, after = sum(t < cut for t in ntimes), sum(t >= cut for t in ntimes)
    assert before and after
    recon = close(mine, hours=3)
    figures = recon.figures  # type: ignore[attr-defined]
    assert figures["network_spans"] == "2"
    assert (int(figures["span_0_proved_work"]), int(figures["span_1_proved_work"])) == \
        (before * SHARE_WORK, after * SHARE_WORK)
    blocks = Decimal(before * SHARE_WORK) / (base * 2**32) \
        + Decimal(after * SHARE_WORK) / (base * 3 * 2**32)
    output = Decimal(before * SHARE_WORK) / (base * 2**32) * REWARD \
        + Decimal(after * SHARE_WORK) / (base * 3 * 2**32) * (SUBSIDY / 2 + REWARD - SUBSIDY)
    assert abs(Decimal(figures["expected_blocks"]) - blocks) < Decimal("1e-20")
    assert abs(Decimal(figures["expected_output"]) - output) < Decimal("1e-20")
    assert replay_faults(ledger) == []


@pytest.fixture
def pooled(ledger: Ledger) -> Mine:
    """A miner in an accredited FPPS pool charging 2%."""
    pool = ledger.register_pool("pool", "Alpha Pool", "MT", "FPPS", "0.02",
                                at=START).aggregate_id
    participant = ledger.register_participant("reg-p", "ENTERPRISE", "Pooled Ltd", "TAX-p",
                                              "MT", at=START).aggregate_id
    ledger.approve_participant("approve-p", participant, at=START)
    licence = ledger.grant_mining_licence(
        "grant-p", participant, "North", "Z1", "M-P", LICENSED_MW, Decimal(25),
        [TAG.hex()], START, END, at=START, mode="POOL", pool_id=pool).aggregate_id
    miner = build_mine(ledger, "solo", "M-S", b"/solo-1/")  # sets the network policy
    return Mine(ledger, participant, licence, miner.key)


def report(mine: Mine, amount: Decimal, request_id: str = "report") -> None:
    mine.ledger.report_output(request_id, mine.licence, P0, P0 + HOUR, "BTC", amount,
                              ["bc1qpool"], Decimal(0), at=P0 + HOUR)


@pytest.mark.parametrize(("factor", "under", "over"), [
    ("0.94", True, False), ("0.96", False, False), ("1.04", False, False),
    ("1.06", False, True)])
def test_pool_miner_reports_are_held_to_the_net_expected_value(
        pooled: Mine, factor: str, under: bool, over: bool) -> None:
    ledger = pooled.ledger
    period = mined("honest", 11)
    ledger.submit_proof_batch("b1", pooled.licence, period.batch, at=P0 + HOUR)
    net = Decimal(period.shares_submitted * SHARE_WORK) \
        / (decimal_of(period.network_difficulty) * 2**32) * REWARD * Decimal("0.98")
    report(pooled, (net * Decimal(factor)).quantize(Decimal("1e-12")))
    recon = close(pooled)
    assert ("OUTPUT_UNDER_REPORTED" in recon.verdicts) is under  # type: ignore[attr-defined]
    assert ("OUTPUT_OVER_REPORTED" in recon.verdicts) is over  # type: ignore[attr-defined]
    check = recon.check("OUTPUT_UNDER_REPORTED")  # type: ignore[attr-defined]
    assert abs(Decimal(check["figures"]["expected_net_output"]) - net) < Decimal("1e-20")
    for name in ("OUTPUT_UNDER_REPORTED", "OUTPUT_OVER_REPORTED"):
        found = recon.check(name)  # type: ignore[attr-defined]
        assert (Decimal(found["p_value"]) < Decimal("0.025")) is found["triggered"]
    assert replay_faults(ledger) == []


def test_a_missing_report_counts_as_zero_and_is_caught(pooled: Mine) -> None:
    ledger = pooled.ledger
    ledger.submit_proof_batch("b1", pooled.licence, mined("honest", 11).batch, at=P0 + HOUR)
    recon = close(pooled)
    assert recon.verdicts[:2] == ["REPORT_MISSING", "OUTPUT_UNDER_REPORTED"]  # type: ignore[attr-defined]
    assert recon.figures["reported_output"] == "0"  # type: ignore[attr-defined]
    # The output finding alerts; the missing report's alert is the calendar's, raised
    # once at the report's deadline (tests/ledger/test_supervision.py).
    assert {a.kind for a in ledger.list_alerts()} == {"OUTPUT_UNDER_REPORTED"}
    assert replay_faults(ledger) == []


def test_sale_share_comes_from_the_ledgers_trades_not_the_claim(pooled: Mine) -> None:
    ledger = pooled.ledger
    ledger.set_policy("sale", "mandatory_sale_share", "0.5", effective_from=P0, at=P0)
    market = build_market(ledger)
    period = mined("honest", 11)
    ledger.submit_proof_batch("b1", pooled.licence, period.batch, at=P0 + HOUR)
    net = Decimal(period.shares_submitted * SHARE_WORK) \
        / (decimal_of(period.network_difficulty) * 2**32) * REWARD * Decimal("0.98")
    amount = net.quantize(Decimal("1e-8"))
    # The report claims everything was sold; the ledger shows 40% sold by the miner.
    ledger.report_output("report", pooled.licence, P0, P0 + HOUR, "BTC", amount,
                         ["bc1qpool"], amount, at=P0 + HOUR)
    ledger.record_trade(market.trade("sell-1", seller_id=pooled.participant,
                                     quantity=(amount * Decimal("0.4")).quantize(
                                         Decimal("1e-8")), price=Decimal(1),
                                     at=P0 + HOUR / 2))
    ledger.record_trade(market.trade("other-seller", quantity=amount, price=Decimal(1),
                                     at=P0 + HOUR / 2))
    recon = close(pooled)
    assert "SALE_SHARE_SHORTFALL" in recon.verdicts  # type: ignore[attr-defined]
    check = recon.check("SALE_SHARE_SHORTFALL")  # type: ignore[attr-defined]
    assert Decimal(check["figures"]["sold_through_exchanges"]) == \
        (amount * Decimal("0.4")).quantize(Decimal("1e-8"))
    assert len(recon.evidence["trades"]) == 1  # type: ignore[attr-defined]
    assert replay_faults(ledger) == []
    # Selling a little more meets the share, for the next period's reconciliation.
    ledger.record_trade(market.trade("sell-2", seller_id=pooled.participant,
                                     quantity=(amount * Decimal("0.1")).quantize(
                                         Decimal("1e-8")), price=Decimal(1),
                                     at=P0 + HOUR / 2))
    again = ledger.close_reconciliation("close-2", pooled.licence, P0, P0 + HOUR * 1.5,
                                        at=P0 + 2 * HOUR)
    recon2 = ledger.get_reconciliation(again.aggregate_id)
    assert "SALE_SHARE_SHORTFALL" not in recon2.verdicts


def test_pool_licence_names_an_accredited_pool(ledger: Ledger) -> None:
    market = build_market(ledger)
    for mode, pool, field in (("POOL", None, "pool_id"), ("SOLO", market.licence, "pool_id"),
                              ("SHARED", None, "mode"), ("POOL", market.licence, "pool_id")):
        with pytest.raises(InvalidRequest) as bad:
            ledger.grant_mining_licence("g", market.seller, "N", "Z", "M", Decimal(1),
                                        Decimal(20), [b"/pool-x/".hex()], START, END,
                                        at=START, mode=mode, pool_id=pool)
        assert bad.value.field == field
    for scheme, fee, field in (("PPX", "0.01", "payout_scheme"), ("PPS", "1", "fee"),
                               ("PPS", "-0.1", "fee")):
        with pytest.raises(InvalidRequest) as refused:
            ledger.register_pool("p", "Pool", "MT", scheme, fee, at=START)
        assert refused.value.field == field
    pool = ledger.register_pool("p", "Pool", "MT", "PPLNS", "0.015", at=START).aggregate_id
    assert [(p.id, p.payout_scheme, p.fee) for p in ledger.list_pools()] == \
        [(pool, "PPLNS", Decimal("0.015"))]


def test_a_solo_miner_cannot_report_less_than_the_blocks_its_shares_found(
        mine: Mine) -> None:
    ledger = mine.ledger
    receipt = ledger.submit_proof_batch("b1", mine.licence, mined("small", 1).batch,
                                        at=P0 + HOUR)
    found = receipt.block_candidates
    assert found >= 1
    # A satoshi short of the subsidies the proved blocks earned at least.
    ledger.report_output("report", mine.licence, P0, P0 + HOUR, "BTC",
                         SUBSIDY * found - Decimal("0.00000001"), ["bc1q"], Decimal(0),
                         at=P0 + HOUR)
    recon = close(mine)
    check = recon.check("OUTPUT_UNDER_REPORTED")  # type: ignore[attr-defined]
    assert check["triggered"] and Decimal(check["p_value"]) == 0
    assert recon.figures["proved_blocks"] == str(found)  # type: ignore[attr-defined]
    assert replay_faults(ledger) == []

"""Reconciliation against the cheats of issue 14: pool and solo output checks whose
p-values agree with their verdicts, the efficiency check on its interval (a seeded
simulation of honest fleets), missing reports, sale share, network changes inside a
period and zero capacity."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from verifier.reconciliation import (
    JOULES_PER_KWH,
    NetworkSpan,
    PayoutScheme,
    PoolTerms,
    ReconciliationPolicy,
    ReconciliationVerdict,
    expected_output_over,
    reconcile,
)
from verifier.target import share_target, work_of_target
from verifier.work import WorkTally

V = ReconciliationVerdict
SHARE_WORK = work_of_target(share_target(1))  # ≈ 2³² hashes
HOUR = 3600
POLICY = ReconciliationPolicy(mandatory_sale_share=Decimal("0.5"))


def fired(result: object, verdict: V) -> bool:
    check = result.check(verdict)  # type: ignore[attr-defined]
    return check is not None and check.triggered


def kwh_for(shares: float, j_per_th: Decimal, seconds: int = HOUR) -> Decimal:
    """Returns the energy a fleet drawing ``j_per_th`` uses for ``shares`` shares' work."""
    terahashes = Decimal(shares) * SHARE_WORK / Decimal(10) ** 12
    return terahashes * j_per_th / JOULES_PER_KWH


def efficiency_flags(shares: int, kwh: Decimal) -> tuple[bool, bool]:
    """Returns (flagged by the interval, flagged by the point estimate)."""
    result = reconcile(tally=WorkTally.of([SHARE_WORK] * shares), seconds=HOUR,
                       licensed_mw=Decimal(1), declared_j_per_th=Decimal(25),
                       metered_kwh=kwh)
    check = result.check(V.IMPLAUSIBLE_EFFICIENCY)
    assert check is not None
    implied = check.figures["implied_j_per_th"]
    point = not Decimal(12) <= implied <= Decimal(40)
    # The p-value agrees with the verdict.
    assert check.triggered == (check.p_value is not None
                               and check.p_value < Decimal(str(POLICY.tail)))
    return check.triggered, point


def test_honest_fleet_near_the_bound_is_not_flagged_at_small_counts() -> None:
    """A fleet really at 36 J/TH proving ~10 shares an hour: the point estimate crosses
    40 J/TH often by chance; the interval almost never does."""
    rng = np.random.default_rng(20261130)
    mean_shares = 10.0
    kwh = kwh_for(mean_shares, Decimal(36))
    draws = rng.poisson(mean_shares, size=1500)
    flags = [efficiency_flags(int(n), kwh) for n in draws if n > 0]
    by_interval = sum(f for f, _ in flags) / len(flags)
    by_point = sum(p for _, p in flags) / len(flags)
    assert by_point > 0.10  # the old rule: an honest fleet flagged about 13% of the time
    assert by_interval < 0.025  # at most the tail, although the fleet is not at the bound


def test_fleet_at_the_bound_is_flagged_at_most_at_the_tail_rate() -> None:
    rng = np.random.default_rng(7)
    kwh = kwh_for(20.0, Decimal(40))
    draws = rng.poisson(20.0, size=1500)
    rate = sum(efficiency_flags(int(n), kwh)[0] for n in draws if n > 0) / len(draws)
    assert rate <= 0.035  # α/2 = 2.5%, with sampling noise


def test_efficiency_interval_threshold_on_both_sides() -> None:
    n = 100
    result = reconcile(tally=WorkTally.of([SHARE_WORK] * n), seconds=HOUR,
                       licensed_mw=Decimal(1), declared_j_per_th=Decimal(25),
                       metered_kwh=kwh_for(n, Decimal(40)))
    check = result.check(V.IMPLAUSIBLE_EFFICIENCY)
    assert check is not None
    low = check.figures["implied_low_j_per_th"]
    # Energy whose implied interval starts just above 40 J/TH fires; just below does not.
    just_over = kwh_for(n, Decimal(40)) * Decimal(40) / low * Decimal("1.001")
    just_under = kwh_for(n, Decimal(40)) * Decimal(40) / low * Decimal("0.999")
    assert efficiency_flags(n, just_over)[0]
    assert not efficiency_flags(n, just_under)[0]
    # Too good to be true: the interval's top below 12 J/TH.
    assert efficiency_flags(n, kwh_for(n, Decimal(8)))[0]
    assert not efficiency_flags(n, kwh_for(n, Decimal(11)))[0]


POOL = PoolTerms(PayoutScheme.FPPS, Decimal("0.02"))


def pool_result(reported: Decimal | None, pool: PoolTerms = POOL, missing: bool = False,
                sold: Decimal | None = None) -> object:
    network = [NetworkSpan(SHARE_WORK * 1000, 100, Decimal("3.125"), Decimal("0.125"))]
    return reconcile(tally=WorkTally.of([SHARE_WORK] * 1000), seconds=HOUR,
                     licensed_mw=Decimal(1), declared_j_per_th=Decimal(25),
                     network=network, reported_output=reported, pool=pool,
                     report_missing=missing, sold_through_exchanges=sold, policy=POLICY)


def test_pool_miner_is_compared_with_the_net_expected_value_within_tolerance() -> None:
    expected = Decimal(1000 * SHARE_WORK) / (100 * 2**32) * Decimal("3.25")  # ≈ 10 blocks
    net = expected * Decimal("0.98")
    for factor, under, over in ((Decimal("0.949"), True, False),
                                (Decimal("0.951"), False, False),
                                (Decimal("1.049"), False, False),
                                (Decimal("1.051"), False, True)):
        result = pool_result(net * factor)
        assert fired(result, V.OUTPUT_UNDER_REPORTED) is under, factor
        assert fired(result, V.OUTPUT_OVER_REPORTED) is over, factor
        for verdict in (V.OUTPUT_UNDER_REPORTED, V.OUTPUT_OVER_REPORTED):
            check = result.check(verdict)  # type: ignore[attr-defined]
            assert (check.p_value < Decimal(str(POLICY.tail))) == check.triggered
    figures = pool_result(net).check(V.OUTPUT_UNDER_REPORTED).figures  # type: ignore[attr-defined]
    assert abs(figures["expected_net_output"] - net) < Decimal("1e-20")
    # The same 60% hidden that a Poisson interval at λ = 10 lets through is caught.
    assert fired(pool_result(net * Decimal("0.4")), V.OUTPUT_UNDER_REPORTED)


def test_pps_pools_pay_the_subsidy_only() -> None:
    pps = PoolTerms(PayoutScheme.PPS, Decimal(0))
    expected = expected_output_over([NetworkSpan(SHARE_WORK * 1000, 100, Decimal("3.125"),
                                                 Decimal("0.125"))], pool=pps)
    assert abs(expected.expected - Decimal("31.25") * SHARE_WORK / 2**32) < Decimal("1e-20")


@settings(max_examples=60, deadline=None)
@given(lam=st.floats(0.5, 40), blocks=st.integers(0, 80))
def test_solo_verdicts_agree_with_their_p_values_and_the_exact_interval(
        lam: float, blocks: int) -> None:
    work = int(Decimal(repr(lam)) * 100 * 2**32)
    reward = Decimal("3.25")
    result = reconcile(tally=WorkTally.of([work]), seconds=HOUR, licensed_mw=Decimal(1),
                       declared_j_per_th=Decimal(25), network_difficulty=100,
                       subsidy=Decimal("3.125"), mean_fees=Decimal("0.125"),
                       reported_output=reward * blocks)
    exact = float(Decimal(work) / (100 * 2**32))
    low, high = stats.poisson.ppf(0.025, exact), stats.poisson.ppf(0.975, exact)
    under = result.check(V.OUTPUT_UNDER_REPORTED)
    over = result.check(V.OUTPUT_OVER_REPORTED)
    assert under is not None and over is not None
    assert under.p_value is not None and over.p_value is not None
    assert under.triggered == (under.p_value < Decimal("0.025")) == (blocks < low)
    assert over.triggered == (over.p_value < Decimal("0.025")) == (blocks > high)


def test_missing_report_is_zero_reported_and_still_checked() -> None:
    result = pool_result(None, missing=True)
    assert fired(result, V.REPORT_MISSING)
    assert fired(result, V.OUTPUT_UNDER_REPORTED)
    assert result.reported_output == 0  # type: ignore[attr-defined]
    # Without the flag a missing report leaves the output checks out, as before.
    assert pool_result(None).check(V.OUTPUT_UNDER_REPORTED) is None  # type: ignore[attr-defined]


def test_sale_share_is_judged_on_what_was_sold() -> None:
    net = Decimal(1000 * SHARE_WORK) / (100 * 2**32) * Decimal("3.25") * Decimal("0.98")
    assert fired(pool_result(net, sold=net * Decimal("0.49")), V.SALE_SHARE_SHORTFALL)
    assert not fired(pool_result(net, sold=net * Decimal("0.5")), V.SALE_SHARE_SHORTFALL)
    # A missing report does not lower the obligation: it is measured on expected output.
    assert fired(pool_result(None, missing=True, sold=Decimal(0)), V.SALE_SHARE_SHORTFALL)


def test_a_retarget_inside_the_period_is_applied_to_the_work_done_under_it() -> None:
    before = NetworkSpan(SHARE_WORK * 600, 100, Decimal("3.125"), Decimal(0))
    after = NetworkSpan(SHARE_WORK * 400, 150, Decimal("3.125"), Decimal(0))
    spans = expected_output_over([before, after])
    per_share = Decimal(SHARE_WORK) / 2**32
    blocks = per_share * (Decimal(600) / 100 + Decimal(400) / 150)
    assert abs(spans.expected_blocks - blocks) < Decimal("1e-20")
    last_instant = expected_output_over([NetworkSpan(SHARE_WORK * 1000, 150,
                                                     Decimal("3.125"), Decimal(0))])
    assert spans.expected_blocks > last_instant.expected_blocks * Decimal("1.25")


@pytest.mark.parametrize(("shares", "fires"), [(0, False), (1, True)])
def test_zero_capacity_fires_over_capacity_for_any_share(shares: int, fires: bool) -> None:
    result = reconcile(tally=WorkTally.of([SHARE_WORK] * shares), seconds=HOUR,
                       licensed_mw=Decimal(0), declared_j_per_th=Decimal(25),
                       licensed_capacity_ths=Decimal(0))
    assert fired(result, V.OVER_CAPACITY) is fires


@pytest.mark.parametrize(("reported", "fires"), [
    (Decimal("6.25"), False), (Decimal("6.2499"), True), (Decimal(0), True)])
def test_blocks_a_solo_miners_shares_found_are_certain_output(reported: Decimal,
                                                             fires: bool) -> None:
    """λ = 0.5: the Poisson interval reaches down to zero blocks, but two block
    candidates among the credited shares prove at least two subsidies were earned."""
    result = reconcile(tally=WorkTally.of([50 * 2**32]), seconds=HOUR,
                       licensed_mw=Decimal(1), declared_j_per_th=Decimal(25),
                       network_difficulty=100, subsidy=Decimal("3.125"),
                       mean_fees=Decimal("0.125"), reported_output=reported, proved_blocks=2)
    check = result.check(V.OUTPUT_UNDER_REPORTED)
    assert check is not None and check.p_value is not None
    assert check.triggered is fires
    assert (check.p_value < Decimal("0.025")) is fires
    assert check.figures["proved_blocks_output"] == Decimal("6.250")
    # Without the proved blocks the same zero report passes the interval test.
    silent = reconcile(tally=WorkTally.of([50 * 2**32]), seconds=HOUR,
                       licensed_mw=Decimal(1), declared_j_per_th=Decimal(25),
                       network_difficulty=100, subsidy=Decimal("3.125"),
                       reported_output=Decimal(0))
    assert not fired(silent, V.OUTPUT_UNDER_REPORTED)

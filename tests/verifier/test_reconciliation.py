"""Reconciliation: Poisson intervals against scipy, known answers, and every verdict
triggered and not triggered by simulated miners mining genuine shares."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from fractions import Fraction

import pytest
from scipy import stats

from verifier.batch import parse_batch
from verifier.cpu import CpuBackend
from verifier.reconciliation import (
    ReconciliationPolicy,
    ReconciliationVerdict,
    expected_output,
    implied_efficiency,
    licensed_capacity,
    poisson_interval,
    proved_hashrate,
    reconcile,
)
from verifier.simulator import (
    hashrate_for_shares,
    honest_miner,
    mine_period,
    over_capacity_miner,
    withholding_miner,
)
from verifier.target import share_target, work_of_target
from verifier.verification import verify_batch
from verifier.work import WorkTally

V = ReconciliationVerdict


def test_scipy_is_imported_on_first_use_not_with_the_ledger() -> None:
    # Every command and server imports the ledger; scipy.stats alone would add ~0.6 s
    # of start-up to each, reconciling or not.
    probe = ("import sys, services.cli, services.server, ledger; "
             "loaded = 'scipy' in sys.modules; "
             "from verifier.reconciliation import poisson_interval; "
             "low, high = poisson_interval(10); "
             "print(loaded, 'scipy.stats' in sys.modules, round(low, 3), round(high, 3))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["False", "True", "4.795", "18.39"]


@pytest.mark.parametrize("n", [10, 100, 10_000])
def test_poisson_interval_is_garwood_against_scipy_chi2(n):
    low, high = poisson_interval(n)
    assert low == pytest.approx(stats.chi2.ppf(0.025, 2 * n) / 2, rel=1e-10)
    assert high == pytest.approx(stats.chi2.ppf(0.975, 2 * n + 2) / 2, rel=1e-10)
    # The interval's tails hold exactly 2.5% each.
    assert stats.poisson.sf(n - 1, low) == pytest.approx(0.025, rel=1e-8)
    assert stats.poisson.cdf(n, high) == pytest.approx(0.025, rel=1e-8)


def test_poisson_interval_textbook_values():
    low, high = poisson_interval(10)
    assert (round(low, 4), round(high, 4)) == (4.7954, 18.3904)
    assert poisson_interval(0) == (0.0, pytest.approx(3.6889, abs=1e-4))


def test_effective_share_count_for_varying_difficulty():
    tally = WorkTally.of([100] * 30 + [400] * 10)
    assert tally.effective_shares == Fraction((3000 + 4000) ** 2, 30 * 100**2 + 10 * 400**2)
    assert WorkTally.of([7] * 12).effective_shares == 12
    assert WorkTally.of([1, 2]) + WorkTally.of([3]) == WorkTally.of([1, 2, 3])


def test_proved_hashrate_interval_scales_the_count_interval():
    work = work_of_target(share_target(1))
    proved = proved_hashrate(WorkTally.of([work] * 100), 600)
    low, high = poisson_interval(100)
    assert proved.hashrate == Decimal(100 * work) / 600
    assert float(proved.low) == pytest.approx(float(proved.hashrate) * low / 100, rel=1e-12)
    assert float(proved.high) == pytest.approx(float(proved.hashrate) * high / 100, rel=1e-12)
    none = proved_hashrate(WorkTally(), 600)
    assert none.hashrate == 0 and none.high == Decimal("Infinity")


def test_known_answers_for_capacity_output_and_efficiency():
    assert licensed_capacity(Decimal(10), Decimal(25)) == Decimal(400_000)  # 400 PH/s
    out = expected_output(10 * 2**32 * 1000, 1000, Decimal("3.125"), Decimal("0.1"))
    assert out.expected_blocks == 10 and out.expected == Decimal("32.250")
    assert (out.low_blocks, out.high_blocks) == (stats.poisson.ppf(0.025, 10),
                                                 stats.poisson.ppf(0.975, 10))
    # 100 TH/s for an hour at 25 J/TH draws 2.5 kWh.
    assert implied_efficiency(Decimal("2.5"), Decimal(100) * 10**12, 3600) == 25


def test_over_capacity_fires_exactly_when_its_p_value_is_below_the_tail():
    work = work_of_target(share_target(1))
    for shares in range(60, 160, 7):
        tally = WorkTally.of([work] * shares)
        capacity_hs = Decimal(100 * work) / 600  # 100 shares per 600 s at capacity
        mw = capacity_hs / 10**12 * 25 / 10**6
        check = reconcile(tally=tally, seconds=600, licensed_mw=mw, declared_j_per_th=Decimal(25),
                          policy=ReconciliationPolicy(capacity_tolerance=Decimal(0))).checks[0]
        assert check.verdict is V.OVER_CAPACITY
        assert check.triggered == (check.p_value is not None and check.p_value < Decimal("0.025"))


# --- simulated miners -----------------------------------------------------------------

D = Decimal(2) ** -24  # ~256 hashes per share
T = 3600
NETWORK_D = D * 16  # one share in 16 is a block
SUBSIDY, FEES = Decimal("3.125"), Decimal("0.1")
J_PER_TH = Decimal(25)
TAG = b"/lic-7/"
CAPACITY_HS = hashrate_for_shares(400, T, D)  # the licence allows ~400 shares an hour
LICENSED_MW = CAPACITY_HS / 10**12 * J_PER_TH / 10**6


def metered_kwh(true_hashrate: Decimal, j_per_th: Decimal = J_PER_TH) -> Decimal:
    return true_hashrate / 10**12 * T * j_per_th / 3_600_000


def run(miner, seed: int, *, kwh: Decimal | None = None, reported_fraction=Decimal(1)):
    period = mine_period(miner, start_time=1_767_225_600, seconds=T,
                         network_difficulty=NETWORK_D, seed=seed)
    result = verify_batch(parse_batch(period.batch), backend=CpuBackend(workers=1),
                          coinbase_tags=[TAG])
    assert result.counts["ACCEPTED"] == period.shares_submitted
    reported = period.reported_output(SUBSIDY + FEES) * reported_fraction
    return reconcile(
        tally=result.tally, seconds=T, licensed_mw=LICENSED_MW, declared_j_per_th=J_PER_TH,
        network_difficulty=period.network_difficulty, subsidy=SUBSIDY, mean_fees=FEES,
        reported_output=reported,
        metered_kwh=metered_kwh(miner.hashrate) if kwh is None else kwh,
    )


def test_honest_miner_within_capacity_triggers_nothing():
    recon = run(honest_miner(CAPACITY_HS * Decimal("0.8"), TAG), seed=11)
    assert recon.verdicts == ()
    assert len(recon.checks) == 5
    assert recon.proved.low < CAPACITY_HS * Decimal("0.8") < recon.proved.high
    assert 12 < recon.implied_j_per_th < 40


def test_over_capacity_miner():
    recon = run(over_capacity_miner(CAPACITY_HS, Decimal(2), TAG), seed=12)
    assert V.OVER_CAPACITY in recon.verdicts
    check = recon.check(V.OVER_CAPACITY)
    assert check is not None and check.p_value is not None and check.p_value < Decimal("1e-6")
    assert check.figures["hashrate_low_ths"] > check.figures["limit_ths"]
    assert V.ENERGY_OVER_QUOTA in recon.verdicts  # twice the power, too
    assert V.IMPLAUSIBLE_EFFICIENCY not in recon.verdicts
    assert V.OUTPUT_OVER_REPORTED not in recon.verdicts


def test_withholding_miner_hides_hashrate_but_its_output_and_energy_give_it_away():
    miner = withholding_miner(CAPACITY_HS * 2, 0.4, TAG)
    recon = run(miner, seed=13)
    assert V.OVER_CAPACITY not in recon.verdicts  # what it proves is under the cap
    assert V.OUTPUT_OVER_REPORTED in recon.verdicts
    assert V.ENERGY_OVER_QUOTA in recon.verdicts
    assert V.IMPLAUSIBLE_EFFICIENCY in recon.verdicts  # 25 / 0.4 = 62.5 J/TH implied
    over = recon.check(V.OUTPUT_OVER_REPORTED)
    assert over is not None and over.p_value is not None and over.p_value < Decimal("0.025")
    eff = recon.check(V.IMPLAUSIBLE_EFFICIENCY)
    assert eff is not None and eff.figures["implied_j_per_th"] > 40
    assert eff.p_value is not None and eff.p_value < Decimal("0.025")


def test_miner_hiding_output_is_under_reported():
    recon = run(honest_miner(CAPACITY_HS * Decimal("0.9"), TAG), seed=14,
                reported_fraction=Decimal("0.3"))
    assert recon.verdicts == (V.OUTPUT_UNDER_REPORTED,)
    check = recon.check(V.OUTPUT_UNDER_REPORTED)
    assert check is not None and check.p_value is not None and check.p_value < Decimal("0.025")
    assert check.figures["reported_output"] < check.figures["expected_low"]


def test_meter_reading_too_low_for_the_work_is_implausibly_efficient():
    miner = honest_miner(CAPACITY_HS * Decimal("0.9"), TAG)
    recon = run(miner, seed=15, kwh=metered_kwh(miner.hashrate, Decimal(5)))
    assert recon.verdicts == (V.IMPLAUSIBLE_EFFICIENCY,)
    check = recon.check(V.IMPLAUSIBLE_EFFICIENCY)
    assert check is not None and check.figures["implied_j_per_th"] < 12
    assert check.p_value is not None and check.p_value < Decimal("0.025")


def test_checks_without_their_inputs_are_left_out():
    recon = reconcile(tally=WorkTally.of([2**32] * 5), seconds=60, licensed_mw=Decimal(1),
                      declared_j_per_th=Decimal(25))
    assert [c.verdict for c in recon.checks] == [V.OVER_CAPACITY]
    assert recon.expected is None and recon.implied_j_per_th is None


def test_energy_without_any_proved_work_is_implausible():
    recon = reconcile(tally=WorkTally(), seconds=3600, licensed_mw=Decimal(1),
                      declared_j_per_th=Decimal(25), metered_kwh=Decimal(10))
    assert recon.verdicts == (V.IMPLAUSIBLE_EFFICIENCY,)

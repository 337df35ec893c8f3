"""The share simulator mines genuine shares in the expected numbers."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from verifier.batch import parse_batch
from verifier.cpu import CpuBackend
from verifier.simulator import (
    SimulationTooLarge,
    expected_shares,
    hashrate_for_shares,
    honest_miner,
    mine_period,
    withholding_miner,
)
from verifier.verification import verify_batch

D = Decimal(2) ** -24
CPU = CpuBackend(workers=1)


def test_expected_shares_and_hashrate_are_inverse():
    h = hashrate_for_shares(300, 3600, D)
    assert abs(expected_shares(h, 3600, D) - 300) < Decimal("1e-20")
    assert h == Decimal(300 * 256) / 3600


def test_honest_miner_shares_are_genuine_and_as_many_as_expected():
    miner = honest_miner(hashrate_for_shares(200, 1800, D), b"/tag/")
    period = mine_period(miner, start_time=1_767_225_600, seconds=1800,
                         network_difficulty=D * 8, seed=5)
    assert abs(period.shares_found - 200) < 5 * math.sqrt(200)
    # Each share took about D * 2**32 = 256 hashes: the real work matches H * T.
    assert 0.7 < period.hashes_tried / (period.shares_found * 256) < 1.3
    result = verify_batch(parse_batch(period.batch), backend=CPU)
    assert result.counts["ACCEPTED"] == period.shares_found == period.shares_submitted
    assert int(result.block_candidates.sum()) == period.blocks_found
    assert len(period.batch["jobs"]) == 3  # a new job every 600 s


def test_withholding_miner_submits_a_fraction():
    miner = withholding_miner(hashrate_for_shares(200, 600, D), 0.5, b"/tag/")
    period = mine_period(miner, start_time=0, seconds=600, network_difficulty=D * 8, seed=6)
    assert period.shares_submitted < period.shares_found
    assert abs(period.shares_submitted - period.shares_found / 2) < 5 * math.sqrt(50)


def test_profile_and_vardiff_cycle():
    miner = honest_miner(Decimal(0), b"/t/", share_difficulty=(D, D * 2))
    period = mine_period(miner, start_time=0, seconds=1200, network_difficulty=D * 8, seed=2,
                         profile=[(600, Decimal(0)), (600, hashrate_for_shares(60, 600, D))])
    jobs = period.batch["jobs"]
    assert [Decimal(j["share_difficulty"]) for j in jobs] == [D, D * 2]
    assert all(s["job_id"] == jobs[1]["job_id"] for s in period.batch["shares"])
    assert period.shares_found > 0


def test_too_large_a_simulation_is_refused():
    with pytest.raises(SimulationTooLarge):
        mine_period(honest_miner(Decimal(10) ** 12, b"/t/"), start_time=0, seconds=600,
                    network_difficulty=D, seed=1)

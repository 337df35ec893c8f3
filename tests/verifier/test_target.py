"""Targets, difficulties and work in exact arithmetic."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from verifier.target import (
    MAX_TARGET,
    T1,
    InvalidDifficulty,
    InvalidNBits,
    as_difficulty,
    difficulty_of_target,
    nbits_to_target,
    share_target,
    target_to_nbits,
    work_of_target,
)


def test_share_target_is_floor_of_t1_over_d_for_fractional_difficulties():
    assert share_target(1) == T1
    assert share_target(3) == T1 // 3
    assert share_target(Decimal("0.5")) == 2 * T1
    assert share_target("0.1") == 10 * T1
    assert share_target(0.001) == 1000 * T1  # a float means its shortest decimal
    assert share_target(Fraction(2, 3)) == (3 * T1) // 2
    assert share_target(Decimal("65536.7")) == (T1 * 10) // 655367


def test_tiny_difficulty_clamps_to_the_largest_target():
    assert share_target(Decimal("1e-30")) == MAX_TARGET


@pytest.mark.parametrize("bad", [0, -1, Decimal("-0.5"), "NaN", "inf", "abc", True, None, [1]])
def test_invalid_difficulties_are_refused(bad):
    with pytest.raises(InvalidDifficulty):
        as_difficulty(bad)


def test_work_matches_bitcoin_chainwork():
    # Bitcoin Core's GetBlockProof for the genesis target is 0x100010001.
    assert work_of_target(T1) == 0x100010001
    assert work_of_target(MAX_TARGET) == 1
    with pytest.raises(ValueError):
        work_of_target(-1)


def test_nbits_round_trip_and_refusals():
    assert nbits_to_target(0x1D00FFFF) == T1
    assert target_to_nbits(T1) == 0x1D00FFFF
    real = 0x17034219  # a 2024 mainnet nbits
    assert target_to_nbits(nbits_to_target(real)) == real
    assert nbits_to_target(0x03123456) == 0x123456
    assert nbits_to_target(0x02123400) == 0x1234
    for bad in (0x1D800000, 0x1D000000, 0x2200FFFF, -1, 2**32):
        with pytest.raises(InvalidNBits):
            nbits_to_target(bad)


def test_difficulty_of_target_inverts_share_target():
    assert difficulty_of_target(T1) == 1
    assert difficulty_of_target(share_target(4)) == 4

"""The packed form's helpers: 256-bit target comparison and the hashable-share mask."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from verifier.packed import le256_leq

U256 = st.integers(min_value=0, max_value=2**256 - 1)


def _le(value: int) -> np.ndarray:
    return np.frombuffer(value.to_bytes(32, "little"), dtype=np.uint8)


def _near(pair: tuple[int, int]) -> tuple[int, int]:
    """Returns the pair with the second made equal to the first in its top words, so that
    the lower words decide (random pairs almost always differ in the top word)."""
    value, other = pair
    keep_bits = 64 * (other % 4)
    mask = (1 << keep_bits) - 1
    return value, (value & ~mask) | (other & mask)


@given(st.lists(st.tuples(U256, U256).map(_near), min_size=1, max_size=40))
def test_le256_leq_matches_integer_comparison_per_row(pairs):
    values = np.stack([_le(v) for v, _ in pairs])
    targets = np.stack([_le(t) for _, t in pairs])
    assert le256_leq(values, targets).tolist() == [v <= t for v, t in pairs]


@given(st.lists(U256, min_size=1, max_size=40), U256)
def test_le256_leq_against_one_shared_target(values, target):
    rows = np.stack([_le(v) for v in values])
    assert le256_leq(rows, _le(target)).tolist() == [v <= target for v in values]
    assert le256_leq(rows, rows).all()  # equal values meet their own target


def test_le256_leq_of_no_rows():
    assert le256_leq(np.zeros((0, 32), dtype=np.uint8), _le(1)).shape == (0,)

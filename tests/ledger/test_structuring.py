"""The structuring rule of ``ledger.structuring`` on its own: windows, counts, patterns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from ledger.domain.policy import PolicyView
from ledger.structuring import band, is_near_threshold, new_pattern

T = datetime(2026, 3, 10, 12, tzinfo=UTC)
POLICY = PolicyView(None, T)
H = timedelta(hours=1)


def transfer(hours: float, n: int) -> tuple[datetime, UUID]:
    return T + hours * H, UUID(int=n)


def test_the_band_is_from_90_percent_up_to_the_threshold_excluded() -> None:
    assert band(POLICY) == (Decimal(900), Decimal(1000))
    assert is_near_threshold(Decimal(900), POLICY)
    assert is_near_threshold(Decimal("999.99"), POLICY)
    assert not is_near_threshold(Decimal("899.99"), POLICY)
    assert not is_near_threshold(Decimal(1000), POLICY)


def test_the_third_transfer_in_a_window_completes_a_pattern_in_any_position() -> None:
    a, b, c = transfer(0, 1), transfer(10, 2), transfer(20, 3)
    for last, others in ((c, [a, b]), (a, [b, c]), (b, [a, c])):
        assert new_pattern(last, others, POLICY) == [UUID(int=1), UUID(int=2), UUID(int=3)]
    assert new_pattern(b, [a], POLICY) is None


def test_a_window_is_half_open_24_hours() -> None:
    assert new_pattern(transfer(24, 3), [transfer(0, 1), transfer(12, 2)], POLICY) is None
    inside = transfer(24 - 1 / 3600, 3)
    assert new_pattern(inside, [transfer(0, 1), transfer(12, 2)], POLICY) is not None


def test_a_pattern_alerts_once_and_a_separate_one_again() -> None:
    first = [transfer(0, 1), transfer(1, 2), transfer(2, 3)]
    assert new_pattern(transfer(3, 4), first, POLICY) is None  # the same pattern
    later = [*first, transfer(30, 5), transfer(31, 6)]
    assert new_pattern(transfer(32, 7), later, POLICY) == [UUID(int=5), UUID(int=6),
                                                          UUID(int=7)]

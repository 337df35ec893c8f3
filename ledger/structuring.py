"""Structuring: three or more transfers by one participant within any 24 h window, each at
90% of the travel-rule threshold or more but below it (DESIGN §3; count, window and band
are policy).

The one owner of the rule (relied on by ``ledger.trading``, which calls
:func:`is_near_threshold` for every trade, recorded or blocked, and :func:`new_pattern`
after noting a near-threshold transfer). A pattern is found whatever order its transfers
arrive in, because a transfer may be dated before others already recorded: when transfer
*t* arrives, the 24 h windows around it are examined, and it raises one alert when some
window holding *t* reaches the count while no window of its neighbours reached it before
(so a fourth transfer of a pattern raises nothing; a pattern apart from the first, its own).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from ledger.domain.policy import PolicyView

Transfer = tuple[datetime, UUID]
"""A near-threshold transfer: its time and the trade (or blocked attempt) it was."""


def band(policy: PolicyView) -> tuple[Decimal, Decimal]:
    """Returns the band [low, high) in USD: ``structuring_band_low`` and
    ``structuring_band_high`` (default 1: up to the threshold, excluded) times the
    travel-rule threshold."""
    threshold = policy.decimal("travel_rule_threshold_usd")
    return (threshold * policy.decimal("structuring_band_low"),
            threshold * policy.decimal("structuring_band_high"))


def is_near_threshold(value_usd: Decimal, policy: PolicyView) -> bool:
    """Returns True when a transfer's USD value lies in the structuring band."""
    low, high = band(policy)
    return low <= value_usd < high


def _most_in_a_window(times: Sequence[datetime], window: timedelta,
                      holding: datetime | None = None) -> int:
    """Returns the most transfers any half-open window [s, s + window) holds (only those
    holding ``holding`` when given); ``times`` sorted."""
    best = 0
    end = 0
    for start, first in enumerate(times):
        end = max(end, start)
        while end < len(times) and times[end] - first < window:
            end += 1
        if holding is None or (first <= holding < first + window
                                and holding in times[start:end]):
            best = max(best, end - start)
    return best


def structuring_window(policy: PolicyView) -> timedelta:
    """Returns the window a pattern fits in: a transfer at ``t`` can form one with the
    transfers of (t - window, t + window)."""
    return timedelta(hours=float(policy.decimal("structuring_window_hours")))


def new_pattern(transfer: Transfer, others: Sequence[Transfer], policy: PolicyView
                ) -> list[UUID] | None:
    """Returns the trades of the pattern ``transfer`` completes (the window's transfers,
    in time order) when it starts a new one, else None. ``others`` are the participant's
    other near-threshold transfers near it (at least those within one window either
    side)."""
    window = structuring_window(policy)
    count = int(policy.decimal("structuring_count"))
    at = transfer[0]
    near = sorted(t for t in others if at - window < t[0] < at + window)
    before = _most_in_a_window([t[0] for t in near], window)
    if before >= count:
        return None  # its neighbours formed a pattern already: alerted then
    with_it = sorted([*near, transfer])
    times = [t[0] for t in with_it]
    if _most_in_a_window(times, window, holding=at) < count:
        return None
    # The evidence: the transfers of the fullest window that holds this one.
    best: list[UUID] = []
    for start, first in enumerate(with_it):
        members = [t for t in with_it[start:] if t[0] - first[0] < window]
        if transfer in members and len(members) > len(best):
            best = [t[1] for t in members]
    return best

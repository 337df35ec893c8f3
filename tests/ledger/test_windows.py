"""Time windows of ``ledger.windows``: the edges on both sides, and policy that moves them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.domain.base import Stamp, stamped
from ledger.domain.policy import Policy, PolicyView
from ledger.errors import RuleViolation
from ledger.windows import Window, WindowKind, check_window

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
DEFAULTS = PolicyView(None, NOW)


@pytest.mark.parametrize(("kind", "hours"), [
    (WindowKind.TRADE, 24), (WindowKind.METER_READING, 168),
    (WindowKind.PROOF_BATCH, 168), (WindowKind.OUTPUT_REPORT, 744),
    (WindowKind.REGULATOR, 720),
])
def test_each_window_holds_at_its_edges_and_not_beyond(kind: WindowKind, hours: int) -> None:
    window = Window.of(kind, DEFAULTS)
    skew, back = timedelta(seconds=300), timedelta(hours=hours)
    assert window.fault(NOW + skew, NOW) is None
    assert window.fault(NOW - back, NOW) is None
    ahead = window.fault(NOW + skew + timedelta(microseconds=1), NOW)
    behind = window.fault(NOW - back - timedelta(microseconds=1), NOW)
    assert ahead is not None and "after the server's time" in ahead[0]
    assert behind is not None and f"{hours} h before" in behind[0]
    with pytest.raises(RuleViolation) as refused:
        check_window(kind, NOW - back - timedelta(seconds=1), NOW, DEFAULTS)
    assert refused.value.rule == "TIME_OUTSIDE_WINDOW"
    assert refused.value.figures["recorded_at"] == NOW.isoformat()


def test_policy_moves_a_window_from_when_it_takes_effect() -> None:
    with stamped(Stamp("regulator", "d", NOW)):
        policy = Policy()
        policy.set(request_id="w", at=NOW, parameter="trade_window_hours", value="1",
                   effective_from=NOW)
        policy.set(request_id="s", at=NOW, parameter="clock_skew_seconds", value="0",
                   effective_from=NOW)
    before = Window.of(WindowKind.TRADE, PolicyView(policy, NOW - timedelta(seconds=1)))
    after = Window.of(WindowKind.TRADE, PolicyView(policy, NOW))
    two_hours_ago = NOW - timedelta(hours=2)
    assert before.fault(two_hours_ago, NOW) is None
    assert after.fault(two_hours_ago, NOW) is not None
    assert after.fault(NOW + timedelta(seconds=1), NOW) is not None  # no skew left

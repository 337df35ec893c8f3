"""Outflow periods and the near-threshold window of ``ledger.domain.outflow``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

from ledger.domain.outflow import OutflowAccount, period_of, previous_period

T = datetime(2026, 3, 10, tzinfo=UTC)


def test_periods_are_calendar_months() -> None:
    assert period_of(datetime(2026, 3, 31, 23, 59, tzinfo=UTC)) == "2026-03"
    assert period_of(datetime(2026, 4, 1, tzinfo=UTC)) == "2026-04"
    assert previous_period("2026-03") == "2026-02"
    assert previous_period("2026-01") == "2025-12"


def test_account_totals_outflows_exactly() -> None:
    participant = uuid4()
    account = OutflowAccount(participant_id=participant, period="2026-03")
    assert account.id == OutflowAccount.create_id(participant, "2026-03")
    for value in ("0.1", "0.2", "49999.7"):
        account.debit(request_id=value, at=T, trade_id=uuid4(), value_usd=Decimal(value))
    assert account.outflow_usd == Decimal("50000.0")


def test_near_threshold_window_is_open_at_start_and_closed_at_end() -> None:
    account = OutflowAccount(participant_id=uuid4(), period="2026-03")
    ids = [uuid4() for _ in range(3)]
    for i, trade_id in enumerate(ids):
        account.note_near_threshold(request_id=str(i), at=T + timedelta(hours=i),
                                    trade_id=trade_id, value_usd=Decimal(950))
    assert account.near_threshold_between(T, T + timedelta(hours=2)) == ids[1:]
    assert account.near_threshold_between(T - timedelta(seconds=1), T) == ids[:1]

"""The shared machinery of ``ledger.commands``: retries after conflicts, and Contention
(gRPC ABORTED) when they do not stop."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.persistence import RecordConflictError

from ledger.commands import MAX_CONFLICT_RETRIES, UseCase
from ledger.domain.base import Stamp, current_stamp
from ledger.errors import Contention

STAMP = Stamp("regulator", "d", datetime(2026, 3, 1, tzinfo=UTC))


def use_case() -> UseCase:
    return UseCase(store=None, clock=lambda: STAMP.recorded_at)  # type: ignore[arg-type]


def test_a_conflict_is_retried_under_the_same_stamp() -> None:
    attempts: list[Stamp] = []

    def attempt() -> str:
        attempts.append(current_stamp())
        if len(attempts) < 3:
            raise RecordConflictError("moved on")
        return "done"

    assert use_case().run(STAMP, attempt) == "done"
    assert attempts == [STAMP] * 3


def test_conflicts_that_never_stop_are_contention_not_a_crash(monkeypatch: Any) -> None:
    monkeypatch.setattr("ledger.commands.BACKOFF_SECONDS", 0.0)
    calls = [0]

    def attempt() -> None:
        calls[0] += 1
        raise RecordConflictError("always")

    with pytest.raises(Contention, match="retry with the same request id"):
        use_case().run(STAMP, attempt)
    assert calls[0] == MAX_CONFLICT_RETRIES

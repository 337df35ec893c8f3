"""Shared aggregate pieces of ``ledger.domain.base``: ids, UTC times, intervals, request ids."""

from __future__ import annotations

import contextvars
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ledger.domain.alert import Alert
from ledger.domain.base import Intervals, derived_id, utc
from ledger.errors import RequestIdReused
from tests.ledger.domain.conftest import RECORDED_AT

T = datetime(2026, 3, 1, tzinfo=UTC)


def test_derived_ids_are_deterministic_and_distinct_per_kind() -> None:
    assert derived_id("Trade", "r1") == derived_id("Trade", "r1")
    assert derived_id("Trade", "r1") != derived_id("Trade", "r2")
    assert derived_id("Trade", "r1") != derived_id("Alert", "r1")


def test_utc_converts_aware_times_and_takes_naive_ones_as_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2026, 3, 1, 2, 0, tzinfo=plus_two)
    assert utc(local) == T and utc(local).tzinfo is UTC
    naive = utc(datetime(2026, 3, 1))
    assert naive == T and naive.tzinfo is UTC


def test_intervals_are_half_open_and_may_be_open_ended() -> None:
    spans = Intervals()
    spans.open(T, T + timedelta(days=1))
    spans.open(T + timedelta(days=5), None)
    assert spans.covering(T - timedelta(seconds=1)) is None
    assert spans.covering(T) == (T, T + timedelta(days=1))
    assert spans.covering(T + timedelta(days=1)) is None
    assert spans.covering(T + timedelta(days=500)) == (T + timedelta(days=5), None)


def test_closing_an_interval_ends_only_the_one_covering_that_time() -> None:
    spans = Intervals()
    spans.open(T, T + timedelta(days=1))
    spans.open(T + timedelta(days=5), None)
    spans.close_at(T + timedelta(days=6))
    assert spans.covering(T + timedelta(days=6)) is None
    assert spans.covering(T + timedelta(days=5, hours=1)) is not None
    assert spans.covering(T + timedelta(hours=1)) is not None


def test_each_event_remembers_the_version_its_request_produced() -> None:
    alert = Alert(request_id="raise", at=T, kind="K", subject_id=derived_id("x"),
                  participant_id=None, message="m", evidence=[], figures={})
    assert alert.version_of_request("regulator", "raise", "digest") == 1
    alert.resolve(request_id="resolve", at=T, by="officer", note="ok")
    assert alert.version_of_request("regulator", "resolve", "digest") == 2
    assert alert.version_of_request("regulator", "other", "digest") is None
    # Another requester's ids are another namespace; another payload is refused.
    assert alert.version_of_request("participant:x", "raise", "digest") is None
    with pytest.raises(RequestIdReused):
        alert.version_of_request("regulator", "raise", "another digest")
    assert alert.id == Alert.create_id("regulator", "raise", "K", derived_id("x"))


def test_every_event_carries_the_stamp_of_its_command() -> None:
    alert = Alert(request_id="raise", at=T, kind="K", subject_id=derived_id("x"),
                  participant_id=None, message="m", evidence=[], figures={})
    alert.resolve(request_id="resolve", at=T, by="officer", note="ok")
    events: list[Any] = list(alert.collect_events())
    assert [(e.requester, e.request_digest, e.recorded_at) for e in events] == [
        ("regulator", "digest", RECORDED_AT)] * 2


def test_events_outside_a_stamp_are_refused() -> None:
    context = contextvars.Context()  # a context without the test's stamp
    with pytest.raises(LookupError, match="stamped"):
        context.run(Alert, request_id="raise", at=T, kind="K", subject_id=derived_id("x"),
                    participant_id=None, message="m", evidence=[], figures={})

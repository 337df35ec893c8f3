"""The supervisory calendar: expiries, report deadlines and period closes at their time,
exactly once, resumed after a restart, with one leader among several ledgers."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.clock import ManualClock
from ledger.config import StoreConfig
from ledger.domain.alert import Alert
from ledger.domain.licence import Licence
from ledger.errors import InvalidRequest, RuleViolation
from ledger.supervision import report_deadline, uncovered
from tests.ledger.conftest import notifications

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
MAR = datetime(2026, 3, 1, tzinfo=UTC)
APR = datetime(2026, 4, 1, tzinfo=UTC)
FEB_DEADLINE = datetime(2026, 3, 21, tzinfo=UTC)
"""End of the 20th of March: February's reports must be recorded before it."""
TICK = timedelta(microseconds=1)
SETTLE = timedelta(minutes=1)


def tag_of(name: str) -> str:
    """Returns a coinbase tag (hex) of its own for the licence ``name``."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(JAN)


@pytest.fixture
def supervised(store_url: str, clock: ManualClock) -> Iterator[Ledger]:
    """Returns a ledger on a fresh store with an approved miner and two mining licences
    (A and B) granted on 1 January 2026, valid through April 2026."""
    ledger = Ledger(StoreConfig(url=store_url), clock=clock)
    ledger.calendar.settle = SETTLE
    try:
        miner = ledger.register_participant("reg", "ENTERPRISE", "Miner", "T1", "MT")
        ledger.approve_participant("app", miner.aggregate_id)
        for name in ("a", "b"):
            ledger.grant_mining_licence(f"grant-{name}", miner.aggregate_id, "north", "z",
                                        f"m-{name}", "10", "20", [tag_of(name)], JAN,
                                        APR + 2 * TICK)
        yield ledger
    finally:
        ledger.close()


def licence(ledger: Ledger, name: str) -> UUID:
    return next(lic.id for lic in ledger.list_licences()
                if getattr(lic, "meter_id", "") == f"m-{name}")


def report(ledger: Ledger, request_id: str, licence_id: UUID, start: datetime,
           end: datetime) -> None:
    ledger.report_output(request_id, licence_id, start, end, "BTC", Decimal(1), ["w"],
                         Decimal(1))


def missing(ledger: Ledger) -> list[Alert]:
    return [a for a in ledger.list_alerts() if a.kind == "REPORT_MISSING"]


def test_report_deadline_is_the_end_of_the_policy_due_day_of_the_next_month() -> None:
    assert report_deadline(FEB, 20) == FEB_DEADLINE
    assert report_deadline(datetime(2026, 12, 1, tzinfo=UTC), 1) == \
        datetime(2027, 1, 2, tzinfo=UTC)


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(1, 20)), max_size=6))
def test_uncovered_spans_and_the_reports_cover_the_period_exactly(
        spans: list[tuple[int, int]]) -> None:
    day = timedelta(days=1)
    reports = [(JAN + a * day, JAN + (a + n) * day) for a, n in spans]
    gaps = uncovered(reports, JAN, JAN + 31 * day)
    for hour in range(31 * 24):
        at = JAN + timedelta(hours=hour)
        in_gap = any(s <= at < e for s, e in gaps)
        covered = any(s <= at < e for s, e in reports)
        assert in_gap != covered


def test_report_missing_on_both_sides_of_the_deadline(supervised: Ledger,
                                                      clock: ManualClock) -> None:
    ledger = supervised
    a, b = licence(ledger, "a"), licence(ledger, "b")
    clock.set(FEB + timedelta(days=5))
    report(ledger, "a-jan", a, JAN, FEB)
    report(ledger, "b-jan", b, JAN, FEB)
    # A's February report is recorded one microsecond before the deadline, B's at it.
    clock.set(FEB_DEADLINE - TICK)
    report(ledger, "a-feb", a, FEB, MAR)
    clock.set(FEB_DEADLINE)
    report(ledger, "b-feb", b, FEB, MAR)
    clock.set(FEB_DEADLINE + SETTLE - TICK)
    run = ledger.calendar.run_due()
    assert run.leading and run.done["report_missing"] == 0 and missing(ledger) == []
    assert run.done["period_close"] == 2  # January of both licences
    clock.set(FEB_DEADLINE + SETTLE)
    run = ledger.calendar.run_due()
    [alert] = missing(ledger)
    assert (alert.subject_id, alert.raised_at) == (b, FEB_DEADLINE)
    assert alert.figures["uncovered"] == f"{FEB.isoformat()} to {MAR.isoformat()}"
    assert run.done == {"expiry": 0, "report_missing": 1, "period_close": 2}
    # Both months of both licences are reconciled, each once.
    for lic in (a, b):
        for start, end in ((JAN, FEB), (FEB, MAR)):
            assert ledger.find_reconciliation(lic, start, end).licence_id == lic


def test_a_month_partly_covered_is_missing_its_gap(supervised: Ledger,
                                                   clock: ManualClock) -> None:
    ledger = supervised
    a = licence(ledger, "a")
    clock.set(FEB + timedelta(days=10))
    report(ledger, "a-jan-1", a, JAN, JAN + timedelta(days=10))
    report(ledger, "a-jan-2", a, JAN + timedelta(days=20), FEB)
    clock.set(datetime(2026, 2, 21, tzinfo=UTC) + SETTLE)
    ledger.calendar.run_due()
    alerts = [x for x in missing(ledger) if x.subject_id == a]
    assert [x.figures["uncovered"] for x in alerts] == [
        f"{(JAN + timedelta(days=10)).isoformat()} to {(JAN + timedelta(days=20)).isoformat()}"]


def test_the_due_day_is_versioned_policy(supervised: Ledger, clock: ManualClock) -> None:
    ledger = supervised
    with pytest.raises(InvalidRequest, match="whole number"):
        ledger.set_policy("bad", "output_report_due_day", "10.5")
    with pytest.raises(InvalidRequest, match="at most 28"):
        ledger.set_policy("bad-2", "output_report_due_day", "29")
    ledger.set_policy("due", "output_report_due_day", "10")
    deadline = datetime(2026, 2, 11, tzinfo=UTC)  # January's, under the new policy
    clock.set(deadline + SETTLE - TICK)
    assert ledger.calendar.run_due().done["report_missing"] == 0
    clock.set(deadline + SETTLE)
    assert ledger.calendar.run_due().done["report_missing"] == 2


def test_expiry_happens_once_and_a_restart_catches_up_idempotently(
        supervised: Ledger, clock: ManualClock, store_url: str) -> None:
    ledger = supervised
    a = licence(ledger, "a")
    ledger.close()  # the server is down from January until the end of May
    clock.set(datetime(2026, 6, 1, tzinfo=UTC))
    restarted = Ledger(StoreConfig(url=store_url, create_tables=False), clock=clock)
    try:
        restarted.calendar.settle = SETTLE
        run = restarted.calendar.run_due()
        # Expired both; January, February, March and April (to the term's end) of both
        # are missing and reconciled.
        assert run.done == {"expiry": 2, "report_missing": 8, "period_close": 8}
        assert restarted.get_typed(a, Licence, "licence").expired_at == clock()
        assert restarted.find_reconciliation(a, APR, APR + 2 * TICK).licence_id == a
        before = notifications(restarted)
        assert restarted.calendar.run_due().done == {
            "expiry": 0, "report_missing": 0, "period_close": 0}
        # A third process with nothing in memory does nothing either.
        third = Ledger(StoreConfig(url=store_url, create_tables=False), clock=clock)
        try:
            assert third.calendar.run_due().done == {
                "expiry": 0, "report_missing": 0, "period_close": 0}
        finally:
            third.close()
        assert notifications(restarted) == before
    finally:
        restarted.close()


def test_no_obligation_before_the_licence_was_granted(store_url: str) -> None:
    clock = ManualClock(datetime(2026, 5, 1, tzinfo=UTC))
    ledger = Ledger(StoreConfig(url=store_url), clock=clock)
    try:
        ledger.calendar.settle = SETTLE
        miner = ledger.register_participant("reg", "ENTERPRISE", "Miner", "T1", "MT")
        ledger.approve_participant("app", miner.aggregate_id)
        # Granted on 1 May with validity from January: January to March's deadlines had
        # passed (April's, 21 May, had not).
        ledger.grant_mining_licence("g", miner.aggregate_id, "n", "z", "m", "10", "20",
                                    [tag_of("g")], JAN, datetime(2027, 1, 1, tzinfo=UTC))
        clock.set(datetime(2026, 5, 21, tzinfo=UTC) + SETTLE)
        run = ledger.calendar.run_due()
        assert run.done["report_missing"] == 1
        [alert] = missing(ledger)
        assert alert.figures["period_start"] == APR.isoformat()
    finally:
        ledger.close()


def test_one_leader_and_exactly_once_with_two_ledgers_on_one_store(
        store_url: str, clock: ManualClock) -> None:
    first = Ledger(StoreConfig(url=store_url), clock=clock)
    second = Ledger(StoreConfig(url=store_url, create_tables=False), clock=clock)
    try:
        for ledger in (first, second):
            ledger.calendar.settle = SETTLE
        miner = first.register_participant("reg", "ENTERPRISE", "Miner", "T1", "MT")
        first.approve_participant("app", miner.aggregate_id)
        for n in range(3):
            first.grant_mining_licence(f"g{n}", miner.aggregate_id, "n", "z", f"m{n}", "10",
                                       "20", [tag_of(f"g{n}")], JAN, MAR)
        # While the first leads, the second skips its turn.
        with first.calendar.leadership.hold() as leading:
            assert leading
            assert not second.calendar.run_due().leading
        clock.set(datetime(2026, 4, 1, tzinfo=UTC))
        # Both run at once, again and again: every item happens exactly once.
        runs = []

        def run(ledger: Ledger) -> None:
            for _ in range(3):
                runs.append(ledger.calendar.run_due())

        threads = [threading.Thread(target=run, args=(x,)) for x in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        done = {k: sum(r.done[k] for r in runs) for k in runs[0].done}
        assert done == {"expiry": 3, "report_missing": 6, "period_close": 6}
        assert len(missing(first)) == 6
        assert len(first.list_reconciliations()) == 6
        expired = [e for e in first.list_licences() if e.expired_at is not None]
        assert len(expired) == 3 and all(e.version == 2 for e in expired)
    finally:
        second.close()
        first.close()


def test_a_term_that_expired_reports_its_last_month_until_its_deadline(
        store_url: str, clock: ManualClock) -> None:
    ledger = Ledger(StoreConfig(url=store_url), clock=clock)
    try:
        miner = ledger.register_participant("reg", "ENTERPRISE", "Miner", "T1", "MT")
        ledger.approve_participant("app", miner.aggregate_id)
        expiring = ledger.grant_mining_licence("g", miner.aggregate_id, "n", "z", "m", "10",
                                               "20", [tag_of("g")], JAN, MAR).aggregate_id
        revoked = ledger.grant_mining_licence("g2", miner.aggregate_id, "n", "z", "m2", "10",
                                              "20", [tag_of("g2")], JAN, MAR).aggregate_id
        clock.set(FEB + timedelta(days=27))
        ledger.revoke_licence("rv", revoked, "fraud")
        clock.set(FEB_DEADLINE - TICK)
        report(ledger, "feb", expiring, FEB, MAR)  # after expiry, before the deadline
        with pytest.raises(RuleViolation) as refused:  # a revoked licence never reports
            report(ledger, "feb-revoked", revoked, FEB, FEB + timedelta(days=27))
        assert refused.value.rule == "LICENCE_NOT_ACTIVE"
        with pytest.raises(RuleViolation, match="expired"):  # outside the term
            report(ledger, "mar", expiring, FEB, MAR + TICK)
        clock.set(FEB_DEADLINE)
        with pytest.raises(RuleViolation, match="expired"):
            report(ledger, "feb-late", expiring, FEB, MAR)
        kept = {a.figures.get("sent.request_id") for a in ledger.list_alerts()}
        assert kept >= {"feb-revoked", "mar", "feb-late"}
    finally:
        ledger.close()

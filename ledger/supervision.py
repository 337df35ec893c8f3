"""The supervisory calendar: what happens on time without anyone calling it (DESIGN §5).

:class:`SupervisoryCalendar` runs the ledger's scheduled work, each item at its time:

- **licence expiry**: a licence whose validity ended records ``Expired``;
- **report deadlines**: each calendar month (UTC) of a mining licence's term must be
  covered by output reports *recorded* before the deadline, the end of the policy's
  ``output_report_due_day`` of the next month (default the 20th, read at the month's
  end); otherwise one ``REPORT_MISSING`` alert is raised, naming the uncovered spans;
- **period closes**: at the same deadline the month (clipped to the licence's term) is
  reconciled through the one reconciliation use case (``ledger.reconciliations``).

Each item is a command of the regulator with a request id derived from what it is about
(``calendar:expire:<licence>``, ``calendar:report-missing:<licence>:<YYYY-MM>``,
``calendar:close:<licence>:<YYYY-MM>``), so it happens **exactly once** whoever runs
it, however often: a second run replays the first result (or finds the regulator did it
by hand). Nothing is kept between runs but the store, so a restarted server catches up
all it missed on its first run. Obligations start with the licence: months whose
deadline passed before the grant was recorded are not demanded.

With several servers on one store, one leads at a time (``Leadership``: a PostgreSQL
advisory lock, a file lock beside a SQLite database), like the audit follower; the
others skip their turn. Leadership only saves work: exactly-once comes from the ids.
A deadline is acted on ``settle`` after it passes, so a report the server began to
record just before it has committed when the calendar looks.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol, cast
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder

from ledger.alerts import Alerts
from ledger.clock import Clock
from ledger.domain.alert import Alert
from ledger.domain.licence import Licence, MiningLicence
from ledger.domain.output_report import OutputReport
from ledger.errors import LedgerError, RuleViolation
from ledger.indexes import LicenceIndex, LogReader, TopicFollower
from ledger.licensing import Licensing
from ledger.reconciliations import Reconciliations
from ledger.requests import REGULATOR
from ledger.store import LedgerStore
from ledger.tables import is_postgres

log = logging.getLogger(__name__)

CALENDAR_LOCK_KEY = 0x76616C6563616C00  # "valecal\0": the key of the calendar's lock
"""Key of the PostgreSQL advisory lock held by the leading calendar."""
DEFAULT_SETTLE = timedelta(minutes=5)
"""How long after a deadline the calendar acts on it (reports begun before it commit)."""
DEFAULT_INTERVAL_SECONDS = 30.0
"""How often a server's calendar looks for due work."""


# ----------------------------------------------------------------------------- months

def month_start(at: datetime) -> datetime:
    """Returns the first instant (UTC) of the calendar month of ``at``."""
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(start: datetime) -> datetime:
    """Returns the first instant of the month after the one starting at ``start``."""
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def report_deadline(month: datetime, due_day: int) -> datetime:
    """Returns the end of day ``due_day`` of the month after ``month``: reports recorded
    before it are on time."""
    return next_month(month) + timedelta(days=due_day)


def uncovered(spans: list[tuple[datetime, datetime]], start: datetime,
              end: datetime) -> list[tuple[datetime, datetime]]:
    """Returns the parts of [start, end) that no span covers, in order."""
    gaps: list[tuple[datetime, datetime]] = []
    cursor = start
    for span_start, span_end in sorted(spans):
        if span_end <= cursor:
            continue
        if span_start >= end:
            break
        if span_start > cursor:
            gaps.append((cursor, span_start))
        cursor = max(cursor, span_end)
        if cursor >= end:
            return gaps
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


# ------------------------------------------------------------------------- leadership

class Leadership(Protocol):
    """Who leads the calendar among the servers of one store."""

    def hold(self) -> contextlib.AbstractContextManager[bool]:
        """Returns a context that is True while this instance leads, False when another
        does (it never waits)."""


class ProcessLeadership:
    """Leadership inside one process (an in-memory store): a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def hold(self) -> Iterator[bool]:
        acquired = self._lock.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                self._lock.release()


class FileLeadership:
    """Leadership among the processes on one SQLite file: an exclusive ``flock`` on a
    lock file beside the database (released by the kernel if the process dies)."""

    def __init__(self, path: str) -> None:
        self.path = path

    @contextlib.contextmanager
    def hold(self) -> Iterator[bool]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


class PostgresLeadership:
    """Leadership among the servers on one PostgreSQL: a session advisory lock on one
    connection while leading (released by the server if the connection drops)."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self.datastore = cast(Any, recorder).datastore

    @contextlib.contextmanager
    def hold(self) -> Iterator[bool]:
        from psycopg.rows import tuple_row

        with self.datastore.get_connection() as conn:
            cursor = conn.cursor(row_factory=tuple_row)
            cursor.execute("SELECT pg_try_advisory_lock(%s)", (CALENDAR_LOCK_KEY,))
            row = cursor.fetchone()
            if not row or not row[0]:
                yield False
                return
            try:
                yield True
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", (CALENDAR_LOCK_KEY,))


def leadership_for(recorder: ApplicationRecorder) -> Leadership:
    """Returns the leadership that suits the store ``recorder`` writes to."""
    if is_postgres(recorder):
        return PostgresLeadership(recorder)
    pool = cast(Any, recorder).datastore.pool
    if pool.is_sqlite_memory_mode:
        return ProcessLeadership()
    path = str(pool.db_name).removeprefix("file:").split("?", 1)[0]
    return FileLeadership(f"{path}.calendar.lock")


# ---------------------------------------------------------------------- the read model

@dataclass(frozen=True)
class ReportSpan:
    """An output report's period and when the server recorded it."""

    start: datetime
    end: datetime
    recorded_at: datetime


class ObligationIndex:
    """When each mining licence's grant was recorded and the reports of each licence,
    followed from the log (the deadlines' inputs)."""

    def __init__(self, ledger: LogReader) -> None:
        self.granted_at: dict[UUID, datetime] = {}
        self.reports: dict[UUID, list[ReportSpan]] = {}
        self._follower = TopicFollower(
            ledger.recorder, ledger.mapper,
            [cast(Any, MiningLicence).Granted, cast(Any, OutputReport).Reported],
            self._handle)

    def _handle(self, _position: int, event: Any) -> None:
        if isinstance(event, cast(Any, OutputReport).Reported):
            self.reports.setdefault(event.licence_id, []).append(
                ReportSpan(event.period_start, event.period_end, event.recorded_at))
        else:
            self.granted_at[event.originator_id] = event.recorded_at

    def refresh(self) -> None:
        """Reads every grant and report recorded since the last refresh."""
        self._follower.refresh()


# ------------------------------------------------------------------------ the calendar

@dataclass
class CalendarRun:
    """What one run of the calendar did."""

    at: datetime
    leading: bool
    done: dict[str, int] = field(default_factory=lambda: {
        "expiry": 0, "report_missing": 0, "period_close": 0})
    failed: int = 0


class SupervisoryCalendar:
    """Runs expiries, report deadlines and period closes when due (see the module)."""

    def __init__(self, store: LedgerStore, clock: Clock, licences: LicenceIndex,
                 obligations: ObligationIndex, licensing: Licensing, alerts: Alerts,
                 reconciliations: Reconciliations, leadership: Leadership,
                 settle: timedelta = DEFAULT_SETTLE) -> None:
        self.store = store
        self.clock = clock
        self.licences = licences
        self.obligations = obligations
        self.licensing = licensing
        self.alerts = alerts
        self.reconciliations = reconciliations
        self.leadership = leadership
        self.settle = settle
        self.settled: set[str] = set()
        """Request ids this process saw done (a cache: the store is the record)."""
        self.listeners: list[Callable[[CalendarRun], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._run_lock = threading.Lock()

    # ------------------------------------------------------------------ one run

    def run_due(self) -> CalendarRun:
        """Does every item due by the ledger's clock now, when this instance leads;
        returns what it did."""
        with self._run_lock, self.leadership.hold() as leading:
            now = self.clock()
            run = CalendarRun(now, leading)
            if leading:
                self.obligations.refresh()
                for licence_id in self.licences.all_ids():
                    self._licence_due(licence_id, now, run)
        for listener in self.listeners:
            listener(run)
        return run

    def _licence_due(self, licence_id: UUID, now: datetime, run: CalendarRun) -> None:
        licence = self.store.read_typed(licence_id, Licence, "licence")
        if licence.is_due_to_expire(now):
            self._do(run, "expiry", f"calendar:expire:{licence_id}",
                     lambda rid: self.licensing.expire_licence(rid, licence_id))
        if not isinstance(licence, MiningLicence):
            return
        granted = self.obligations.granted_at.get(licence_id)
        term_start, term_end = licence.valid_from, licence.term_end()
        month = month_start(term_start)
        while month < term_end:
            following = next_month(month)
            due_day = int(self.store.policy_at(following - timedelta(microseconds=1))
                          .decimal("output_report_due_day"))
            deadline = report_deadline(month, due_day)
            if deadline + self.settle > now:
                break
            if granted is None or deadline > granted:
                start, end = max(month, term_start), min(following, term_end)
                label = f"{licence_id}:{month:%Y-%m}"
                self._do(run, "report_missing", f"calendar:report-missing:{label}",
                         partial(self._report_missing, licence=licence, start=start,
                                 end=end, deadline=deadline))
                self._do(run, "period_close", f"calendar:close:{label}",
                         partial(self._close, licence_id=licence_id, start=start, end=end))
            month = following

    def _do(self, run: CalendarRun, kind: str, request_id: str,
            action: Callable[[str], bool]) -> None:
        """Runs one item unless this process saw it done; counts what it did."""
        if request_id in self.settled:
            return
        try:
            acted = action(request_id)
        except LedgerError:
            run.failed += 1
            log.exception("calendar item failed; retried on the next run",
                          extra={"request_id": request_id})
            return
        self.settled.add(request_id)
        if acted:
            run.done[kind] += 1

    def _report_missing(self, request_id: str, licence: MiningLicence, start: datetime,
                        end: datetime, deadline: datetime) -> bool:
        """Raises REPORT_MISSING when reports recorded before ``deadline`` leave part of
        [start, end) uncovered; returns True when it raised one now."""
        alert_id = Alert.create_id(REGULATOR, request_id, "REPORT_MISSING", licence.id)
        if self.store.find(alert_id) is not None:
            return False
        spans = [(r.start, r.end) for r in self.obligations.reports.get(licence.id, [])
                 if r.recorded_at < deadline]
        gaps = uncovered(spans, start, end)
        if not gaps:
            return False
        missing = ", ".join(f"{a.isoformat()} to {b.isoformat()}" for a, b in gaps)
        receipt = self.alerts.raise_alert(
            request_id, "REPORT_MISSING", licence.id, licence.participant_id,
            f"no output report of licence {licence.id} for {missing}, due by "
            f"{deadline.isoformat()}",
            [], {"licence": str(licence.id), "period_start": start.isoformat(),
                 "period_end": end.isoformat(), "deadline": deadline.isoformat(),
                 "uncovered": missing, "reports_on_time": str(len(spans))},
            at=deadline)
        return not receipt.replayed

    def _close(self, request_id: str, licence_id: UUID, start: datetime,
               end: datetime) -> bool:
        """Closes the reconciliation of [start, end); returns True when it closed it now
        (False: done already, by this calendar or by hand)."""
        try:
            receipt = self.reconciliations.close(request_id, licence_id, start, end)
        except RuleViolation as refusal:
            if refusal.rule == "RECONCILIATION_ALREADY_CLOSED":
                return False
            raise
        return not receipt.replayed

    # -------------------------------------------------------------- in the background

    def start(self, interval_seconds: float = DEFAULT_INTERVAL_SECONDS) -> None:
        """Runs the calendar every ``interval_seconds`` in a daemon thread until
        :meth:`stop` (the first run at once: it catches up what was missed)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(interval_seconds,),
                                        name="supervisory-calendar", daemon=True)
        self._thread.start()

    def _loop(self, interval_seconds: float) -> None:
        while not self._stop.is_set():
            try:
                self.run_due()
            except Exception:
                log.exception("calendar run failed; retrying")
            self._stop.wait(interval_seconds)

    def stop(self) -> None:
        """Stops the background thread, if any, after the run in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

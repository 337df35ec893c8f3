"""The period a report covers: a calendar month (``2026-11``) or any [from, to) in UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodError(ValueError):
    """A period that cannot be read; the message names the option."""


@dataclass(frozen=True)
class ReportPeriod:
    """[start, end) in UTC, with the label the report shows."""

    start: datetime
    end: datetime
    label: str
    is_month: bool = False

    def previous(self) -> ReportPeriod:
        """Returns the period just before: the previous calendar month for a month, else
        the span of the same length that ends where this one starts."""
        if self.is_month:
            year, month = self.start.year, self.start.month - 1
            if month == 0:
                year, month = year - 1, 12
            return month_period(year, month)
        length = self.end - self.start
        return span_period(self.start - length, self.start)

    def contains(self, at: datetime) -> bool:
        """Returns True when ``at`` lies in [start, end)."""
        return self.start <= at < self.end

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Returns True when [start, end) shares an instant with this period."""
        return start < self.end and end > self.start

    def months_back(self, count: int) -> list[tuple[datetime, datetime, str]]:
        """Returns the ``count`` calendar months up to the one holding the period's last
        instant, oldest first, each as (start, end, ``YYYY-MM``)."""
        last = self.end - timedelta(microseconds=1)
        year, month = last.year, last.month
        months = []
        for _ in range(count):
            months.append(month_period(year, month))
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        return [(m.start, m.end, m.label) for m in reversed(months)]


def month_period(year: int, month: int) -> ReportPeriod:
    """Returns the calendar month ``year-month`` (UTC)."""
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return ReportPeriod(start, end, f"{year:04d}-{month:02d}", is_month=True)


def span_period(start: datetime, end: datetime) -> ReportPeriod:
    """Returns [start, end), labelled by its dates (or times when not whole days)."""
    whole_days = all(t.hour == t.minute == t.second == t.microsecond == 0
                     for t in (start, end))

    def show(t: datetime) -> str:
        return t.date().isoformat() if whole_days else t.strftime("%Y-%m-%d %H:%M UTC")

    return ReportPeriod(start, end, f"{show(start)} – {show(end)}")


def _instant(text: str, option: str) -> datetime:
    """Returns a date (midnight UTC) or an ISO time (UTC unless it says otherwise)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"{option} {text!r} is not a date (2026-11-01) or an ISO time "
                          "(2026-11-01T00:00Z)") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_period(period: str | None, start: str | None, end: str | None,
                 now: datetime) -> ReportPeriod:
    """Returns the period of ``--period YYYY-MM`` or ``--from``/``--to``; with neither, the
    calendar month holding ``now``. Raises PeriodError naming the option."""
    if period is not None and (start is not None or end is not None):
        raise PeriodError("give --period or --from/--to, not both")
    if period is not None:
        found = _MONTH.match(period.strip())
        if not found or not 1 <= int(found.group(2)) <= 12:
            raise PeriodError(f"--period {period!r} is not a month such as 2026-11")
        return month_period(int(found.group(1)), int(found.group(2)))
    if start is None and end is None:
        return month_period(now.year, now.month)
    if start is None or end is None:
        raise PeriodError("--from and --to go together: give both")
    begin, finish = _instant(start, "--from"), _instant(end, "--to")
    if finish <= begin:
        raise PeriodError(f"--to {end!r} is not after --from {start!r}")
    if finish - begin > timedelta(days=3660):
        raise PeriodError("a report covers at most ten years (--from to --to)")
    return span_period(begin, finish)

"""The supervisor's report: what a central bank reads every month (DESIGN §7 ``report``).

``gather`` reads the records up to the newest signed checkpoint (``source``) and computes
each section's plain data model (``sections``, one function per section: summary,
mining, market, alerts, integrity); ``render`` draws them (``charts``, ``render``) as
HTML, PDF and JSON with units. Section functions never draw and the renderer never reads
the store, so a new figure is a field in ``model`` filled by a function in ``sections``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from ledger import Ledger, StoreConfig
from services.report.model import Report
from services.report.period import PeriodError, ReportPeriod, month_period, parse_period
from services.report.render import Rendered, render
from services.report.sections import (
    HISTORY_MONTHS,
    alerts_section,
    integrity_section,
    market_section,
    mining_section,
    summary_section,
)
from services.report.source import read_snapshot

__all__ = ["PeriodError", "Rendered", "Report", "ReportPeriod", "gather", "month_period",
           "parse_period", "render"]


def gather(ledger: Ledger, config: StoreConfig, period: ReportPeriod,
           generated_at: datetime | None = None,
           progress: Callable[[int], None] | None = None) -> Report:
    """Returns the report of ``period`` made from the records up to the newest signed
    checkpoint of the store (the whole log when there is none)."""
    previous = period.previous()
    window_start = min(previous.start, period.months_back(HISTORY_MONTHS)[0][0])
    snapshot = read_snapshot(ledger, config,
                             lambda at: window_start <= at < period.end, progress)
    store = config.url_for_display
    notes = []
    if snapshot.checkpoint is None:
        notes.append("No signed checkpoint covers this store: the figures are those of the "
                     "whole log, and a printed copy cannot be checked against the audit log.")
    elif snapshot.records_after:
        notes.append(f"{snapshot.records_after:,} records were added to the log after the "
                     "newest signed checkpoint; they are not in this report.")
    now = generated_at or datetime.now(UTC)
    if period.end > now:
        notes.append(f"The period has not ended (it ends {period.end.isoformat()}): its "
                     "figures are those recorded so far.")
    return Report(
        generated_at=now, store=store, period=period, previous=previous,
        summary=summary_section(snapshot, period, previous),
        mining=mining_section(snapshot, period),
        market=market_section(snapshot, period),
        alerts=alerts_section(snapshot, period),
        integrity=integrity_section(snapshot, store), notes=notes)

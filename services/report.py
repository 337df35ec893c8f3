"""The regulator's report: a self-contained HTML page, PNG charts and the figures as JSON.

``gather`` reads the figures from the ledger (closed reconciliations and alerts); ``render``
draws them. Charts are embedded in the HTML as data URIs and also written as PNG files, so
the page can be mailed or archived on its own.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

if TYPE_CHECKING:
    from ledger import Ledger

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt


@dataclass(frozen=True)
class LicenceFigures:
    """One licence's reconciliation figures for one period."""

    licence_id: str
    holder: str
    period: str
    licensed_ths: Decimal
    proved_ths: Decimal
    proved_ths_low: Decimal
    proved_ths_high: Decimal
    expected_output: Decimal
    expected_output_low: Decimal
    expected_output_high: Decimal
    reported_output: Decimal
    metered_kwh: Decimal
    quota_kwh: Decimal
    verdicts: tuple[str, ...]


@dataclass(frozen=True)
class AlertFigures:
    """One alert as the report lists it."""

    raised_at: datetime
    kind: str
    subject: str
    message: str
    resolved: bool


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows."""

    generated_at: datetime
    store: str
    licences: Sequence[LicenceFigures]
    alerts: Sequence[AlertFigures]
    event_count: int
    notes: dict[str, str] = field(default_factory=dict)


CHARTS = ("hashrate.png", "output.png", "energy.png", "alerts.png")


def _label(row: LicenceFigures) -> str:
    return f"{row.holder}\n{row.licence_id[:8]}"


def _save(fig: plt.Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _hashrate_chart(rows: Sequence[LicenceFigures], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4))
    xs = range(len(rows))
    proved = [float(r.proved_ths) for r in rows]
    errors = [[float(r.proved_ths - r.proved_ths_low) for r in rows],
              [float(r.proved_ths_high - r.proved_ths) for r in rows]]
    ax.bar(xs, proved, yerr=errors, capsize=6, color="#4c72b0", label="proved (95% CI)")
    ax.scatter(xs, [float(r.licensed_ths) for r in rows], marker="_", s=900, color="#c44e52",
               linewidths=3, label="licensed capacity", zorder=3)
    ax.set_xticks(list(xs), [_label(r) for r in rows], fontsize=8)
    ax.set_ylabel("hashrate (TH/s)")
    ax.set_title("Proved hashrate against licensed capacity")
    ax.legend()
    _save(fig, path)


def _output_chart(rows: Sequence[LicenceFigures], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4))
    xs = range(len(rows))
    expected = [float(r.expected_output) for r in rows]
    errors = [[float(r.expected_output - r.expected_output_low) for r in rows],
              [float(r.expected_output_high - r.expected_output) for r in rows]]
    ax.bar([x - 0.2 for x in xs], expected, width=0.4, yerr=errors, capsize=5,
           color="#55a868", label="expected from proved work (95% CI)")
    ax.bar([x + 0.2 for x in xs], [float(r.reported_output) for r in rows], width=0.4,
           color="#dd8452", label="reported")
    ax.set_xticks(list(xs), [_label(r) for r in rows], fontsize=8)
    ax.set_ylabel("output (coins)")
    ax.set_title("Reported against expected output")
    ax.legend()
    _save(fig, path)


def _energy_chart(rows: Sequence[LicenceFigures], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4))
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [float(r.metered_kwh) for r in rows], width=0.4,
           color="#8172b3", label="metered")
    ax.bar([x + 0.2 for x in xs], [float(r.quota_kwh) for r in rows], width=0.4,
           color="#937860", label="quota (MW × hours)")
    ax.set_xticks(list(xs), [_label(r) for r in rows], fontsize=8)
    ax.set_ylabel("energy (kWh)")
    ax.set_title("Metered energy against quota")
    ax.legend()
    _save(fig, path)


def _alerts_chart(alerts: Sequence[AlertFigures], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 3.5))
    kinds = sorted({a.kind for a in alerts})
    for row, kind in enumerate(kinds):
        times = [a.raised_at for a in alerts if a.kind == kind]
        ax.scatter(mdates.date2num(times), [row] * len(times), s=60, label=kind)
    ax.set_yticks(range(len(kinds)), kinds, fontsize=8)
    ax.set_title("Alerts over time")
    ax.set_xlabel("raised at (UTC)")
    ax.xaxis_date()
    fig.autofmt_xdate()
    _save(fig, path)


def _fmt(value: Decimal, places: int = 6) -> str:
    return f"{value:,.{places}g}" if abs(value) < 1 else f"{value:,.3f}"


def render(data: ReportData, out_dir: Path) -> Path:
    """Writes the PNG charts and ``report.html`` into ``out_dir``; returns the HTML path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = list(data.licences)
    _hashrate_chart(rows, out_dir / CHARTS[0])
    _output_chart(rows, out_dir / CHARTS[1])
    _energy_chart(rows, out_dir / CHARTS[2])
    _alerts_chart(list(data.alerts), out_dir / CHARTS[3])
    images = "".join(
        f'<figure><img alt="{name}" src="data:image/png;base64,'
        f'{base64.b64encode((out_dir / name).read_bytes()).decode()}"></figure>'
        for name in CHARTS)
    e = html.escape
    licence_rows = "".join(
        "<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in (
            r.licence_id, r.holder, r.period, _fmt(r.licensed_ths),
            f"{_fmt(r.proved_ths)} [{_fmt(r.proved_ths_low)}, {_fmt(r.proved_ths_high)}]",
            f"{_fmt(r.expected_output)} [{_fmt(r.expected_output_low)}, "
            f"{_fmt(r.expected_output_high)}]",
            _fmt(r.reported_output), _fmt(r.metered_kwh), _fmt(r.quota_kwh),
            ", ".join(r.verdicts) or "OK")) + "</tr>"
        for r in rows)
    alert_rows = "".join(
        f"<tr><td>{e(a.raised_at.isoformat())}</td><td>{e(a.kind)}</td><td>{e(a.subject)}</td>"
        f"<td>{e(a.message)}</td><td>{'resolved' if a.resolved else 'open'}</td></tr>"
        for a in data.alerts)
    counts = Counter(a.kind for a in data.alerts)
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "none"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>valedger report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; }}
th {{ background: #f0f0f0; }}
figure {{ display: inline-block; margin: 0.5em; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>valedger — regulator's report</h1>
<p>Generated {e(data.generated_at.isoformat())} from <code>{e(data.store)}</code>:
log position {data.event_count}; alerts by kind: {e(summary)}.</p>
<h2>Reconciliation per licence</h2>
<table id="licences"><tr><th>licence</th><th>holder</th><th>period</th>
<th>licensed TH/s</th><th>proved TH/s [95% CI]</th><th>expected output [95% CI]</th>
<th>reported output</th><th>metered kWh</th><th>quota kWh</th><th>verdicts</th></tr>
{licence_rows}</table>
<h2>Charts</h2>{images}
<h2>Alerts</h2>
<table id="alerts"><tr><th>raised at</th><th>kind</th><th>subject</th><th>message</th>
<th>state</th></tr>{alert_rows}</table>
</body></html>
"""
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    (out_dir / "report.json").write_text(json.dumps(_as_json(data), indent=2), encoding="utf-8")
    return path


def _as_json(data: ReportData) -> dict[str, object]:
    """Returns the report's figures exactly (decimals as strings) for other tools."""
    return {
        "generated_at": data.generated_at.isoformat(),
        "store": data.store,
        "log_position": data.event_count,
        "licences": [{k: str(v) if isinstance(v, Decimal) else v
                      for k, v in dataclasses.asdict(row).items()} for row in data.licences],
        "alerts": [{"raised_at": a.raised_at.isoformat(), "kind": a.kind, "subject": a.subject,
                    "message": a.message, "resolved": a.resolved} for a in data.alerts],
    }


def gather(ledger: Ledger, store: str) -> ReportData:
    """Returns the report's figures, read from the ledger's closed reconciliations and alerts."""
    rows = []
    for rec in ledger.list_reconciliations():
        licence = ledger.get_mining_licence(rec.licence_id)
        holder = ledger.get_participant(licence.participant_id).legal_name
        low, high = rec.hashrate_interval_ths
        expected = rec.expected_output if rec.expected_output is not None else Decimal(0)
        interval = rec.expected_output_interval or (expected, expected)
        rows.append(LicenceFigures(
            licence_id=str(rec.licence_id), holder=holder,
            period=f"{rec.period_start.isoformat()} – {rec.period_end.isoformat()}",
            licensed_ths=rec.licensed_capacity_ths, proved_ths=rec.hashrate_ths,
            proved_ths_low=low, proved_ths_high=high if high.is_finite() else low,
            expected_output=expected, expected_output_low=interval[0],
            expected_output_high=interval[1],
            reported_output=rec.reported_output or Decimal(0),
            metered_kwh=rec.metered_kwh or Decimal(0), quota_kwh=rec.quota_kwh,
            verdicts=tuple(rec.verdicts)))
    alerts = [AlertFigures(raised_at=a.raised_at, kind=a.kind, subject=str(a.subject_id),
                           message=a.message, resolved=not a.is_open)
              for a in ledger.list_alerts()]
    return ReportData(generated_at=datetime.now(UTC), store=store, licences=rows,
                      alerts=alerts, event_count=ledger.recorder.max_notification_id() or 0)

"""Drawing the report: HTML (Jinja2), PDF (WeasyPrint, from the same HTML), JSON, charts.

``render`` writes into one directory: ``report.html`` (self-contained: charts embedded
as data URIs with alt text), ``report.pdf``, ``report.json`` (every figure with its unit),
the charts as PNG files, and ``checkpoint.note`` (the cosigned checkpoint the report was
made from) when there is one.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from services.report import units
from services.report.charts import (
    Chart,
    alerts_chart,
    energy_chart,
    hashrate_chart,
    outflows_chart,
    output_chart,
    utilisation_chart,
)
from services.report.model import KeyFigure, Quantity, Report, as_json
from services.report.names import span

TEMPLATES = Path(__file__).parent / "templates"
COUNT_UNITS = frozenset({"trades", "attempts", "alerts", "reconciliations"})
JSON_FORMAT = "valedger-report/1"


@dataclass(frozen=True)
class Rendered:
    """The files ``render`` wrote."""

    html: Path
    pdf: Path
    json: Path
    charts: list[Path]
    note: Path | None
    pdf_pages: int


def show(quantity: Quantity) -> str:
    """Returns a figure with its unit, scaled for its own size."""
    value, unit = quantity.value, quantity.unit
    if value is None:
        return "–"
    if unit == "H/s":
        return units.hashrate(value)
    if unit == "kWh":
        return units.energy(value)
    if unit == "USD":
        return units.money(value)
    if unit == "1":
        return units.percent(value)
    if unit in COUNT_UNITS:
        return units.number(value)
    return f"{units.number(value)} {unit}"


def change(figure: KeyFigure) -> str:
    """Returns the change against the previous period, with its percentage when defined."""
    delta = figure.change
    if delta is None:
        return "–"
    text = show(Quantity(abs(delta), figure.current.unit))
    sign = "+" if delta > 0 else "−" if delta < 0 else "±"
    before = figure.previous.value
    if before:
        return f"{sign}{text} ({sign}{abs(delta) / abs(before) * 100:.0f} %)"
    return f"{sign}{text}"


def scaled_number(quantity: Quantity, scale: units.Scale) -> str:
    """Returns a figure's number in ``scale`` without the unit (∞ named)."""
    value = quantity.value
    if value is None:
        return "–"
    return units.number(scale.of(value) if value.is_finite() else value)


def charts_of(report: Report) -> list[Chart]:
    """Returns every chart the report has data for."""
    drawn = [hashrate_chart(report.mining.rows),
             utilisation_chart(report.mining.history, report.alerts.months),
             output_chart(report.mining.rows), energy_chart(report.mining.rows),
             outflows_chart(report.market), alerts_chart(report.alerts)]
    return [c for c in drawn if c is not None]


def html_of(report: Report, charts: list[Chart]) -> str:
    """Returns the report's HTML page."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    rows = report.mining.rows
    hs = units.hashrate_scale([v for m in rows for v in (m.licensed_capacity.value,
                                                         m.proved_hashrate.value)])
    kwh = units.energy_scale([v for m in rows for v in (m.metered_energy.value,
                                                        m.energy_quota.value)])
    embedded = [{"name": c.name, "alt": c.alt, "caption": c.caption,
                 "data": base64.b64encode(c.png).decode()} for c in charts]
    return environment.get_template("report.html.j2").render(
        r=report, charts=embedded,
        css=markupsafe.Markup((TEMPLATES / "report.css").read_text(encoding="utf-8")),
        hs=hs, kwh=kwh, show=show, change=change, scaled_num=scaled_number, span=span,
        num=units.number, money=units.money, percent=units.percent,
        p_value=units.p_value)


def json_of(report: Report) -> dict[str, Any]:
    """Returns ``report.json``: the same figures as the page, each with its unit."""
    return {"format": JSON_FORMAT, **as_json(report)}


def _decimal_default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def render(report: Report, out_dir: Path) -> Rendered:
    """Writes the report's files into ``out_dir`` (which must exist); returns them."""
    charts = charts_of(report)
    chart_paths = []
    for chart in charts:
        path = out_dir / chart.name
        path.write_bytes(chart.png)
        chart_paths.append(path)
    page = html_of(report, charts)
    html_path = out_dir / "report.html"
    html_path.write_text(page, encoding="utf-8")
    pdf_path = out_dir / "report.pdf"
    from weasyprint import HTML

    document = HTML(string=page, base_url=str(out_dir)).render()
    document.write_pdf(pdf_path)
    json_path = out_dir / "report.json"
    json_path.write_text(json.dumps(json_of(report), indent=1, ensure_ascii=False,
                                    default=_decimal_default), encoding="utf-8")
    note_path = None
    if report.integrity.signed_note is not None and report.integrity.note_file:
        note_path = out_dir / report.integrity.note_file
        note_path.write_text(report.integrity.signed_note, encoding="utf-8")
    return Rendered(html_path, pdf_path, json_path, chart_paths, note_path,
                    len(document.pages))

"""The report's charts (matplotlib): PNG bytes with alt text, drawn from the section models.

Accessibility: the Okabe-Ito palette (safe for the common colour-vision deficiencies),
a distinct marker or hatch beside each colour, and alt text that states the figures.
Units: every axis is scaled by :mod:`services.report.units` (``kH/s`` … ``EH/s``, ``kWh`` …
``GWh``) and written plainly, never with an offset or a ``1e−10`` multiplier. A value that
would leave the axis (an infinite interval bound, or one far above the rest) is drawn at
the top with an arrow and its value written beside it, never dropped.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MaxNLocator

from services.report import units
from services.report.model import AlertsSection, MarketSection, MiningRow, Quantity
from services.report.names import span

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
             "#000000")
"""Okabe & Ito (2008): blue, orange, bluish green, vermillion, reddish purple, sky blue,
yellow, black."""
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
HATCHES = ("", "//", "..", "xx", "\\\\", "++", "oo", "--")
DPI = 110
OUTLIER_FACTOR = 3
"""Interval bounds more than this many times the largest other value are drawn clipped."""


@dataclass(frozen=True)
class Chart:
    """One chart: its file name, PNG bytes, alt text and caption."""

    name: str
    png: bytes
    alt: str
    caption: str


def _png(fig: plt.Figure) -> bytes:
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def _plain(ax: Axes, axis: str = "y") -> None:
    """Writes the axis's numbers plainly (no offset, no scientific multiplier)."""
    formatter = FuncFormatter(lambda v, _pos: f"{Decimal(f'{float(v):.6g}').normalize():,f}")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)


def _label(row: MiningRow) -> str:
    name = "\n".join(textwrap.wrap(row.holder, 18))
    return f"{name}\n{span(row.period_start, row.period_end)}"


def _f(q: Quantity, scale: units.Scale) -> float | None:
    return None if q.value is None or not q.value.is_finite() else float(scale.of(q.value))


def _clip_marker(ax: Axes, x: float, top: float, text: str, color: str) -> None:
    """Draws an arrow at the top of the axis for a value above it, with the value."""
    ax.annotate(text, xy=(x, top), xytext=(x + 0.06, top * 0.97), ha="left", va="top",
                fontsize=7, color=color,
                arrowprops={"arrowstyle": "->", "color": color, "lw": 1.2})


def hashrate_chart(rows: Sequence[MiningRow]) -> Chart | None:
    """Returns proved hashrate (95% CI) against licensed capacity and the alert line."""
    if not rows:
        return None
    scale = units.hashrate_scale(
        [v for r in rows for v in (r.licensed_capacity.value, r.tolerance_line.value,
                                   r.proved_hashrate.value)])
    fig, ax = plt.subplots(figsize=(min(16, max(8, 1.6 * len(rows))), 4.6))
    levels = [v for r in rows for v in (_f(r.licensed_capacity, scale),
                                        _f(r.tolerance_line, scale),
                                        _f(r.proved_hashrate, scale)) if v is not None]
    ceiling = max(levels, default=1.0) or 1.0
    highs = [h for r in rows if (h := _f(r.proved_high, scale)) is not None
             and h <= OUTLIER_FACTOR * ceiling]
    top = max([ceiling, *highs]) * 1.18
    for x, row in enumerate(rows):
        proved = _f(row.proved_hashrate, scale)
        low = _f(row.proved_low, scale)
        high = _f(row.proved_high, scale)
        capacity = _f(row.licensed_capacity, scale)
        line = _f(row.tolerance_line, scale)
        if capacity is not None:
            ax.hlines(capacity, x - 0.32, x + 0.32, colors=OKABE_ITO[0], linewidth=2.5,
                      label="licensed capacity" if x == 0 else "_nolegend_")
        if line is not None:
            ax.hlines(line, x - 0.32, x + 0.32, colors=OKABE_ITO[3], linewidth=2,
                      linestyles="dashed",
                      label="alert line: capacity × (1 + tolerance)" if x == 0 else "_nolegend_")
        if proved is None:
            continue
        shown_high = top if high is None or high > top else high
        ax.vlines(x, low or 0.0, shown_high, colors="#000000", linewidth=1.4)
        ax.plot([x], [proved], marker="o", color=OKABE_ITO[2], markersize=8,
                markeredgecolor="#000000", linestyle="none",
                label="proved hashrate (95% interval)" if x == 0 else "_nolegend_")
        if high is None or high > top:
            text = ("upper bound ∞\n(no shares)" if row.proved_high.is_extreme
                    else f"upper bound\n{units.scaled(row.proved_high.value, scale)}")
            _clip_marker(ax, x, top, text, "#000000")
        if proved > top:
            _clip_marker(ax, x, top, units.scaled(row.proved_hashrate.value, scale),
                         OKABE_ITO[2])
    ax.set_ylim(0, top)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_xticks(range(len(rows)), [_label(r) for r in rows], fontsize=7)
    ax.set_ylabel(f"hashrate ({scale.unit})")
    _plain(ax)
    ax.set_title("Proved hashrate against licensed capacity and the alert line")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=3,
              frameon=False)
    alt = "Proved hashrate with its 95% interval, per licence and period: " + "; ".join(
        f"{r.holder} {span(r.period_start, r.period_end)}: proved "
        f"{units.scaled(r.proved_hashrate.value, scale)} "
        f"[{units.scaled(r.proved_low.value, scale)}, {units.scaled(r.proved_high.value, scale)}]"
        f", capacity {units.scaled(r.licensed_capacity.value, scale)}, alert line "
        f"{units.scaled(r.tolerance_line.value, scale)}" for r in rows) + "."
    return Chart("hashrate.png", _png(fig), alt,
                 "Proved hashrate (dot, 95% interval as a bar) against the licensed capacity "
                 "(solid) and the line above which OVER_CAPACITY fires, capacity × (1 + "
                 "tolerance) (dashed).")


def utilisation_chart(history: Sequence[MiningRow], months: Sequence[str]) -> Chart | None:
    """Returns each licence's proved hashrate as a share of its capacity over twelve
    months, with the 100% line and the alert line."""
    if not history:
        return None
    fig, ax = plt.subplots(figsize=(10, 4.4))
    licences = list(dict.fromkeys(r.licence for r in history))
    ratios: list[float] = []
    points: dict[str, list[tuple[datetime, float | None, float | None, float | None]]] = {}
    for row in history:
        capacity = row.licensed_capacity.value
        mid = row.period_start + (row.period_end - row.period_start) / 2

        def share(q: Quantity, capacity: Decimal | None = capacity) -> float | None:
            if q.value is None or not q.value.is_finite() or not capacity:
                return None
            return float(q.value / capacity * 100)

        value = share(row.proved_hashrate)
        points.setdefault(row.licence, []).append(
            (mid, value, share(row.proved_low), share(row.proved_high)))
        if value is not None:
            ratios.append(value)
    tolerances = {r.tolerance.value for r in history if r.tolerance.value is not None}
    alert_level = 100 * (1 + float(max(tolerances))) if tolerances else None
    top = max([*ratios, alert_level or 100.0, 100.0]) * 1.25
    for i, licence in enumerate(licences):
        series = points[licence]
        color, marker = OKABE_ITO[i % len(OKABE_ITO)], MARKERS[i % len(MARKERS)]
        xs = [mdates.date2num(p[0]) for p in series if p[1] is not None]
        ys = [p[1] for p in series if p[1] is not None]
        ax.plot(xs, ys, marker=marker, color=color, linewidth=1.2,
                label="\n".join(textwrap.wrap(licence, 40)))
        for mid, value, low, high in series:
            if value is None:
                _clip_marker(ax, mdates.date2num(mid), top, "no capacity\n(suspended?)", color)
                continue
            upper = top if high is None or high > top else high
            ax.vlines(mdates.date2num(mid), low or 0.0, upper, colors=color, linewidth=0.9,
                      alpha=0.8)
            if high is None or high > top:
                _clip_marker(ax, mdates.date2num(mid), top, "∞" if high is None else
                             f"{high:,.0f} %", color)
    ax.axhline(100, color="#000000", linewidth=1.2, label="licensed capacity (100 %)")
    if alert_level is not None:
        ax.axhline(alert_level, color=OKABE_ITO[3], linestyle="--", linewidth=1.2,
                   label=f"alert line ({alert_level:.0f} %)")
    first = datetime.strptime(months[0], "%Y-%m").replace(tzinfo=history[0].period_start.tzinfo)
    last = datetime.strptime(months[-1], "%Y-%m").replace(
        tzinfo=history[0].period_start.tzinfo) + timedelta(days=31)
    ax.set_xlim(mdates.date2num(first), mdates.date2num(last.replace(day=1)))
    ax.xaxis.set_major_locator(mdates.MonthLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    ax.set_ylim(0, top)
    ax.set_ylabel("proved hashrate, % of licensed capacity")
    _plain(ax)
    ax.set_title("Licences over twelve months: proved hashrate against capacity")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    alt = "Proved hashrate as a share of licensed capacity, per licence over twelve months: " \
        + "; ".join(f"{name}: " + ", ".join(
            f"{mid:%Y-%m-%d} {'no capacity' if v is None else f'{v:.0f} %'}"
            for mid, v, _, _ in points[name]) for name in licences) + "."
    return Chart("utilisation.png", _png(fig), alt,
                 "Each licence's proved hashrate as a percentage of its licensed capacity, "
                 "period by period, with the 95% interval; above the dashed line the "
                 "interval's lower bound triggers OVER_CAPACITY.")


def output_chart(rows: Sequence[MiningRow]) -> Chart | None:
    """Returns expected output (95% CI) against reported output, asset on the axis."""
    if not rows:
        return None
    assets = sorted({r.asset for r in rows})
    fig, axes = plt.subplots(1, len(assets), figsize=(min(16, max(8, 1.6 * len(rows))), 4.4),
                             squeeze=False)
    for ax, asset in zip(axes[0], assets, strict=True):
        mine = [r for r in rows if r.asset == asset]
        xs = range(len(mine))
        expected = [_f(r.expected_output, units.Scale(asset, Decimal(1))) or 0.0 for r in mine]
        low = [_f(r.expected_low, units.Scale(asset, Decimal(1))) for r in mine]
        high = [_f(r.expected_high, units.Scale(asset, Decimal(1))) for r in mine]
        errors = [[e - (lo if lo is not None else e) for e, lo in zip(expected, low,
                                                                        strict=True)],
                  [(hi if hi is not None else e) - e for e, hi in zip(expected, high,
                                                                        strict=True)]]
        reported = [_f(r.reported_output, units.Scale(asset, Decimal(1))) for r in mine]
        ax.bar([x - 0.2 for x in xs], expected, width=0.4, yerr=errors, capsize=4,
               color=OKABE_ITO[2], edgecolor="#000000", label="expected from proved work "
               "(95% interval)")
        ax.bar([x + 0.2 for x in xs], [v or 0.0 for v in reported], width=0.4,
               color=OKABE_ITO[1], edgecolor="#000000", hatch="//", label="reported")
        for x, value in zip(xs, reported, strict=True):
            if value is None:
                ax.text(x + 0.2, 0, "none\nreported", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(list(xs), [_label(r) for r in mine], fontsize=7)
        ax.set_ylabel(f"output ({asset})")
        _plain(ax)
        ax.set_title(f"Reported against expected output, {asset}")
        ax.legend(fontsize=7)
    alt = "Expected output from proved work against reported output: " + "; ".join(
        f"{r.holder} {span(r.period_start, r.period_end)}: expected "
        f"{units.number(r.expected_output.value)} {r.asset} "
        f"[{units.number(r.expected_low.value)}, {units.number(r.expected_high.value)}], "
        f"reported {units.number(r.reported_output.value)} {r.asset}" for r in rows) + "."
    return Chart("output.png", _png(fig), alt,
                 "Output the proved work finds on average (with its 95% interval) against "
                 "the output each licence reported, in the asset's own units.")


def energy_chart(rows: Sequence[MiningRow]) -> Chart | None:
    """Returns metered energy against the energy quota (licensed MW × hours)."""
    if not rows:
        return None
    scale = units.energy_scale([v for r in rows for v in (r.metered_energy.value,
                                                          r.energy_quota.value)])
    fig, ax = plt.subplots(figsize=(min(16, max(8, 1.6 * len(rows))), 4.4))
    xs = range(len(rows))
    metered = [_f(r.metered_energy, scale) for r in rows]
    ax.bar([x - 0.2 for x in xs], [v or 0.0 for v in metered], width=0.4,
           color=OKABE_ITO[5], edgecolor="#000000", label="metered")
    ax.bar([x + 0.2 for x in xs], [_f(r.energy_quota, scale) or 0.0 for r in rows], width=0.4,
           color=OKABE_ITO[4], edgecolor="#000000", hatch="..",
           label="quota: licensed power × hours")
    for x, value in zip(xs, metered, strict=True):
        if value is None:
            ax.text(x - 0.2, 0, "no\nreading", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(list(xs), [_label(r) for r in rows], fontsize=7)
    ax.set_ylabel(f"energy ({scale.unit})")
    _plain(ax)
    ax.set_title("Metered energy against quota")
    ax.legend(fontsize=7)
    alt = "Metered energy against quota: " + "; ".join(
        f"{r.holder} {span(r.period_start, r.period_end)}: metered "
        f"{units.scaled(r.metered_energy.value, scale)}, quota "
        f"{units.scaled(r.energy_quota.value, scale)}" for r in rows) + "."
    return Chart("energy.png", _png(fig), alt,
                 f"Energy the grid operator metered against the quota the licensed power "
                 f"allows over the period, in {scale.unit}.")


def alerts_chart(section: AlertsSection) -> Chart | None:
    """Returns alerts raised per month, stacked by kind, with each month's total."""
    if not section.monthly:
        return None
    kinds = sorted({m.kind for m in section.monthly})
    counts = {(m.month, m.kind): m.count for m in section.monthly}
    fig, ax = plt.subplots(figsize=(10, 4.2))
    xs = range(len(section.months))
    bottom = [0] * len(section.months)
    for i, kind in enumerate(kinds):
        heights = [counts.get((month, kind), 0) for month in section.months]
        ax.bar(xs, heights, bottom=bottom, color=OKABE_ITO[i % len(OKABE_ITO)],
               edgecolor="#000000", hatch=HATCHES[i % len(HATCHES)], label=kind)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    for x, total in zip(xs, bottom, strict=True):
        if total:
            ax.text(x, total, str(total), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs), section.months, rotation=45, fontsize=7)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, max(bottom) * 1.2 + 1)
    ax.set_ylabel("alerts raised")
    ax.set_title("Alerts raised per month, by kind")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    alt = "Alerts raised per month by kind: " + "; ".join(
        f"{month}: " + (", ".join(f"{counts[(month, k)]} {k}" for k in kinds
                                  if counts.get((month, k))) or "none")
        for month in section.months) + "."
    return Chart("alerts.png", _png(fig), alt,
                 "Alerts raised each month over twelve months, stacked by kind (colour and "
                 "hatching); the number above a bar is the month's total.")


def outflows_chart(section: MarketSection) -> Chart | None:
    """Returns outflows by destination country: recorded and blocked value."""
    rows = section.outflows_by_country
    if not rows:
        return None
    scale = units.money_scale([v for r in rows for v in (r.value.value,
                                                         r.blocked_value.value)])
    fig, ax = plt.subplots(figsize=(9, max(2.6, 0.55 * len(rows) + 1.4)))
    ys = range(len(rows))
    ax.barh([y - 0.2 for y in ys], [_f(r.value, scale) or 0.0 for r in rows], height=0.4,
            color=OKABE_ITO[0], edgecolor="#000000", label="recorded")
    ax.barh([y + 0.2 for y in ys], [_f(r.blocked_value, scale) or 0.0 for r in rows],
            height=0.4, color=OKABE_ITO[3], edgecolor="#000000", hatch="//",
            label="blocked attempts")
    ax.set_yticks(list(ys), [r.key for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"value ({scale.unit})")
    _plain(ax, "x")
    ax.set_title("Outflows to foreign or self-hosted wallets, by destination country")
    ax.legend(fontsize=7)
    alt = "Outflows by destination country: " + "; ".join(
        f"{r.key}: {units.money(r.value.value)} in {r.trades} trades, "
        f"{units.money(r.blocked_value.value)} in {r.blocked} blocked attempts" for r in rows) + "."
    return Chart("outflows.png", _png(fig), alt,
                 "Value leaving the country (foreign counterparties and self-hosted wallets) "
                 "by destination, recorded and blocked.")

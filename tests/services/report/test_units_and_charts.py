"""Units chosen from the data, periods as a supervisor names them, and charts that show
infinite and extreme values instead of dropping them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.report import units
from services.report.charts import hashrate_chart, utilisation_chart
from services.report.model import MiningRow, Quantity
from services.report.period import PeriodError, month_period, parse_period

NOW = datetime(2026, 11, 15, 12, tzinfo=UTC)


@given(st.decimals(min_value=1, max_value=Decimal("9.99e20"), allow_nan=False,
                   allow_infinity=False, places=3))
def test_hashrate_prefix_keeps_the_number_between_1_and_1000(value: Decimal) -> None:
    scale = units.hashrate_scale([value])
    assert scale.unit.endswith("H/s")
    assert Decimal(1) <= scale.of(value) < 1000 or scale.unit == "EH/s"


@pytest.mark.parametrize(("kwh", "unit"), [
    (Decimal("0.5"), "Wh"), (Decimal(12), "kWh"), (Decimal(4500), "MWh"),
    (Decimal("7.2e6"), "GWh"), (Decimal("1.066667E-12"), "nWh"), (Decimal(0), "kWh")])
def test_energy_unit_follows_the_data(kwh: Decimal, unit: str) -> None:
    assert units.energy_scale([kwh]).unit == unit


def test_numbers_are_plain_and_infinity_is_named() -> None:
    assert units.hashrate(Decimal("2.5e14")) == "250 TH/s"
    assert units.hashrate(Decimal("Infinity")) == "∞ H/s"
    assert units.number(Decimal("0.0000123456")) == "0.00001235"
    assert units.number(Decimal(1234567)) == "1,234,567"
    assert units.number(None) == "–"
    assert units.money(Decimal("1234.5")) == "1,234.50 USD"


def test_periods() -> None:
    november = parse_period("2026-11", None, None, NOW)
    assert (november.start, november.end) == (datetime(2026, 11, 1, tzinfo=UTC),
                                              datetime(2026, 12, 1, tzinfo=UTC))
    assert november.previous().label == "2026-10"
    assert month_period(2026, 1).previous().label == "2025-12"
    assert parse_period(None, None, None, NOW).label == "2026-11"
    span = parse_period(None, "2026-11-03", "2026-11-17", NOW)
    assert span.label == "2026-11-03 – 2026-11-17"
    assert (span.previous().start, span.previous().end) == (
        datetime(2026, 10, 20, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))
    months = november.months_back(12)
    assert [m[2] for m in months][:2] == ["2025-12", "2026-01"] and months[-1][2] == "2026-11"


@pytest.mark.parametrize(("args", "message"), [
    (("2026-13", None, None), "--period '2026-13' is not a month"),
    (("2026-11", "2026-11-01", None), "not both"),
    ((None, "2026-11-01", None), "go together"),
    ((None, "2026-11-09", "2026-11-01"), "is not after"),
    ((None, "yesterday", "2026-11-01"), "--from 'yesterday' is not a date")])
def test_period_mistakes_name_the_option(args: tuple[str | None, str | None, str | None],
                                         message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        parse_period(*args, NOW)


def _row(holder: str, proved: str, low: str, high: str, capacity: str = "1e15") -> MiningRow:
    def hs(v: str) -> Quantity:
        return Quantity(Decimal(v), "H/s")

    start = datetime(2026, 11, 1, tzinfo=UTC)
    return MiningRow(
        licence_id="x", licence=f"{holder}, North", holder=holder, site="North",
        period_start=start, period_end=datetime(2026, 12, 1, tzinfo=UTC), asset="BTC",
        licensed_capacity=hs(capacity), tolerance=Quantity(Decimal("0.05"), "1"),
        tolerance_line=hs(str(Decimal(capacity) * Decimal("1.05"))), proved_hashrate=hs(proved),
        proved_low=hs(low), proved_high=hs(high), expected_output=Quantity(Decimal(1), "BTC"),
        expected_low=Quantity(Decimal(0), "BTC"), expected_high=Quantity(Decimal(2), "BTC"),
        reported_output=Quantity(None, "BTC"), metered_energy=Quantity(None, "kWh"),
        energy_quota=Quantity(Decimal(720000), "kWh"),
        implied_efficiency=Quantity(None, "J/TH"), verdicts=[])


def test_infinite_and_extreme_bounds_are_drawn_and_named() -> None:
    rows = [_row("Idle Mining LLP", "0", "0", "Infinity"),
            _row("Spiky Hash JSC", "9e14", "1e14", "9e17"),
            _row("Steady Hash LLP", "8e14", "7.5e14", "8.5e14")]
    chart = hashrate_chart(rows)
    assert chart is not None and chart.png.startswith(b"\x89PNG")
    assert "Idle Mining LLP 2026-11-01 – 2026-12-01: proved 0 PH/s [0 PH/s, ∞ PH/s]" in chart.alt
    assert "[0.1000 PH/s, 900 PH/s]" in chart.alt
    assert "capacity 1 PH/s, alert line 1.050 PH/s" in chart.alt
    over_time = utilisation_chart(rows, [f"2026-{m:02d}" for m in range(1, 12)])
    assert over_time is not None and "Idle Mining LLP" in over_time.alt

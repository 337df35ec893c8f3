"""Units the report shows: SI prefixes chosen from the data, never an axis multiplier.

Figures are kept in base units (H/s, kWh, J/TH, USD, coins of an asset); a scale is chosen
once per table column or chart axis from the largest finite value it shows, so every
number on one axis reads in the same unit. Infinite values are named, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

HASHRATE_PREFIXES = ("", "k", "M", "G", "T", "P", "E")
"""H/s through EH/s."""


@dataclass(frozen=True)
class Scale:
    """A unit with its factor from the base unit: value_in_unit = base_value ÷ factor."""

    unit: str
    factor: Decimal

    def of(self, value: Decimal) -> Decimal:
        """Returns ``value`` (base units) in this scale's unit."""
        return value / self.factor


def _largest(values: Iterable[Decimal | None]) -> Decimal:
    finite = [abs(v) for v in values if v is not None and v.is_finite()]
    return max(finite, default=Decimal(0))


def hashrate_scale(values: Iterable[Decimal | None]) -> Scale:
    """Returns H/s, kH/s … EH/s: the largest prefix that keeps the largest value ≥ 1."""
    largest = _largest(values)
    power = 0
    while power + 1 < len(HASHRATE_PREFIXES) and largest >= Decimal(1000) ** (power + 1):
        power += 1
    return Scale(f"{HASHRATE_PREFIXES[power]}H/s", Decimal(1000) ** power)


ENERGY_UNITS = (("TWh", Decimal(10) ** 9), ("GWh", Decimal(10) ** 6), ("MWh", Decimal(1000)),
                ("kWh", Decimal(1)), ("Wh", Decimal("1e-3")), ("mWh", Decimal("1e-6")),
                ("µWh", Decimal("1e-9")), ("nWh", Decimal("1e-12")), ("pWh", Decimal("1e-15")))
"""Energy units by their size in kWh (below Wh only for laboratory-scale sites)."""


def energy_scale(values: Iterable[Decimal | None]) -> Scale:
    """Returns pWh … TWh for values in kWh: the largest unit that keeps the largest value
    at 1 or more (kWh for zero)."""
    largest = _largest(values)
    if largest == 0:
        return Scale("kWh", Decimal(1))
    for unit, factor in ENERGY_UNITS:
        if largest >= factor:
            return Scale(unit, factor)
    return Scale(*ENERGY_UNITS[-1])


def money_scale(values: Iterable[Decimal | None], currency: str = "USD") -> Scale:
    """Returns USD, thousand USD or million USD for an axis of amounts."""
    largest = _largest(values)
    if largest >= Decimal(10) ** 7:
        return Scale(f"million {currency}", Decimal(10) ** 6)
    if largest >= Decimal(10) ** 4:
        return Scale(f"thousand {currency}", Decimal(1000))
    return Scale(currency, Decimal(1))


def number(value: Decimal | None, digits: int = 4) -> str:
    """Returns ``value`` for a reader: thousands separated, ``digits`` significant digits
    for small numbers, whole numbers as they are; ∞ for infinity, – for none."""
    if value is None:
        return "–"
    if value.is_nan():
        return "not a number"
    if value.is_infinite():
        return "∞" if value > 0 else "−∞"
    if value == 0:
        return "0"
    if value == value.to_integral_value() and abs(value) < Decimal(10) ** 15:
        return f"{int(value):,}"
    magnitude = abs(value).adjusted()  # floor(log10 |value|)
    places = max(0, digits - 1 - magnitude)
    return f"{value:,.{places}f}"


def scaled(value: Decimal | None, scale: Scale, digits: int = 4) -> str:
    """Returns ``value`` (base units) written in ``scale``'s unit, unit included."""
    if value is None:
        return "–"
    return f"{number(scale.of(value) if value.is_finite() else value, digits)} {scale.unit}"


def hashrate(value: Decimal | None) -> str:
    """Returns a hashrate in H/s with the prefix its own size calls for."""
    return scaled(value, hashrate_scale([value]))


def energy(value: Decimal | None) -> str:
    """Returns an energy (given in kWh) with the prefix its own size calls for."""
    return scaled(value, energy_scale([value]))


def money(value: Decimal | None, currency: str = "USD") -> str:
    """Returns an amount with its currency, to the cent."""
    if value is None:
        return "–"
    return f"{value:,.2f} {currency}"


def percent(value: Decimal | None) -> str:
    """Returns a fraction as a percentage (one decimal place)."""
    if value is None:
        return "–"
    if not value.is_finite():
        return number(value)
    return f"{value * 100:.1f} %"


P_FLOOR = Decimal("0.0001")
"""p-values below this are written "< 0.0001" (never as an exponent)."""


def p_value(value: Decimal | None) -> str:
    """Returns a p-value to four decimal places, "< 0.0001" below that, "–" for none."""
    if value is None:
        return "–"
    if value < P_FLOOR:
        return "< 0.0001"
    return f"{value:.4f}"

"""Policy: every threshold the rules use, versioned as events with an effective time."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate, derived_id
from ledger.domain.country import is_country_code
from ledger.errors import InvalidRequest, RuleViolation

POLICY_ID = derived_id("Policy", "national")
"""The one Policy aggregate of the ledger."""

HOME_COUNTRY = "home_country"
"""The parameter naming this country: no default (DESIGN §3: no placeholder)."""

OFFSHORE_DEFAULT = ("AD,AG,AI,BB,BM,BS,BZ,CK,CW,DM,GD,GG,GI,IM,JE,KN,KY,LC,LI,LR,MC,MH,MS,MU,"
                    "NR,NU,PA,SC,TC,VC,VG,VI,VU,WS")
"""Offshore zones by default (a typical national list; the regulator sets its own)."""

FX_PREFIX = "fx_usd."
"""``fx_usd.EUR`` = how many USD one EUR is worth (USD itself is always 1)."""


@dataclass(frozen=True)
class Parameter:
    """A policy parameter: its default and the range its values must lie in."""

    name: str
    default: str | None
    """None: no default; the parameter must be set before any rule reads it."""
    description: str
    minimum: Decimal | None = Decimal(0)
    maximum: Decimal | None = None
    text: bool = False
    whole: bool = False
    """Only whole numbers (a day of the month, a count)."""
    observed: bool = False
    """An observation of the world (network difficulty, subsidy, fees, exchange rates),
    recorded for the time it held, which may lie before it is recorded (within the
    regulator's window); every other parameter is a rule and never takes effect in the
    past (``ledger.policies``)."""
    founding: bool = False
    """A fact of the ledger set when it is initialised (the home country): before its
    first value takes effect, that first value holds (it describes the record from its
    start; it is not a rule that changed)."""


PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in [
        Parameter("efficiency_floor_jth", "12", "best J/TH a licence may declare"),
        Parameter("travel_rule_threshold_usd", "1000", "travel-rule data required at or above"),
        Parameter("outflow_cap_usd", "50000",
                  "outflow to foreign or self-hosted wallets per participant per month"),
        Parameter("structuring_count", "3", "near-threshold transfers in the window that alert",
                  minimum=Decimal(1)),
        # At most 28 days: the structuring rule reads (and takes the version of) a
        # transfer's own month and the two beside it, and no more (ledger.trading).
        Parameter("structuring_window_hours", "24", "window of the structuring rule",
                  maximum=Decimal(672)),
        Parameter("structuring_band_low", "0.90", "lower edge, as a share of the threshold",
                  maximum=Decimal(1)),
        Parameter("structuring_band_high", "1",
                  "upper edge (excluded), as a share of the threshold", maximum=Decimal(1)),
        Parameter("mandatory_sale_share", "0.50",
                  "share of mined output to sell through licensed exchanges", maximum=Decimal(1)),
        Parameter("output_report_due_day", "20",
                  "day of the next month by which a month's output reports are due "
                  "(REPORT_MISSING after it)", minimum=Decimal(1), maximum=Decimal(28),
                  whole=True),
        Parameter("capacity_tolerance", "0.05", "tolerance above licensed hashrate"),
        Parameter("efficiency_min_jth", "12", "lowest plausible implied J/TH"),
        Parameter("efficiency_max_jth", "40", "highest plausible implied J/TH"),
        Parameter("pool_output_tolerance", "0.05",
                  "how far a pool miner's reported output may lie from the expected value "
                  "net of the pool fee, as a fraction", minimum=Decimal("0.0001"),
                  maximum=Decimal("0.99")),
        Parameter("network_difficulty", "100000000000000", "network difficulty feed",
                  minimum=Decimal("1e-30"), observed=True),
        Parameter("block_subsidy", "3.125", "block subsidy, in coins", observed=True),
        Parameter("mean_fees", "0.025", "mean fees per block, in coins", observed=True),
        Parameter("clock_skew_seconds", "300",
                  "how far a client's time may lie after the server's clock"),
        Parameter("trade_window_hours", "24",
                  "how far a trade's time may lie before the server's clock"),
        Parameter("meter_reading_window_hours", "168",
                  "how far a meter reading's time may lie before the server's clock"),
        Parameter("output_report_window_hours", "744",
                  "how far an output report's time may lie before the server's clock"),
        Parameter("proof_batch_window_hours", "168",
                  "how far a proof batch's time may lie before the server's clock"),
        Parameter("regulator_window_hours", "720",
                  "how far a regulator decision's time may lie before the server's clock"),
        Parameter("screening_match_score", "88",
                  "name similarity (0-100, rapidfuzz) from which a listed name is a match",
                  minimum=Decimal(50), maximum=Decimal(100)),
        Parameter("offshore_jurisdictions", OFFSHORE_DEFAULT,
                  "ISO codes of offshore zones, comma-separated (founders barred)",
                  minimum=None, text=True),
        Parameter("home_country", None,
                  "ISO 3166 alpha-2 code of this country (set at `valedger db init`)",
                  minimum=None, text=True, founding=True),
    ]
}


def is_observation(parameter: str) -> bool:
    """Returns True when ``parameter`` records an observation (it may take effect in the
    past): the network figures and exchange rates."""
    if parameter.startswith(FX_PREFIX):
        return True
    spec = PARAMETERS.get(parameter)
    return spec is not None and spec.observed


def validate(parameter: str, value: str) -> str:
    """Returns the canonical text of ``value`` for ``parameter``, or raises InvalidRequest."""
    if parameter.startswith(FX_PREFIX):
        currency = parameter[len(FX_PREFIX):]
        if not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
            raise InvalidRequest("parameter", f"bad currency code in {parameter!r}")
        spec = Parameter(parameter, "", "USD value of one unit", minimum=Decimal("1e-30"))
    else:
        try:
            spec = PARAMETERS[parameter]
        except KeyError:
            known = ", ".join(sorted(PARAMETERS))
            raise InvalidRequest(
                "parameter", f"unknown policy parameter {parameter!r} (known: {known}, "
                f"{FX_PREFIX}CCY)") from None
    if spec.text:
        if not value or not value.strip():
            raise InvalidRequest("value", f"{parameter} must not be empty")
        if parameter == HOME_COUNTRY:
            code = value.strip()
            if not is_country_code(code):
                raise InvalidRequest("value", f"{parameter} must be an assigned ISO 3166 "
                                              f"alpha-2 code such as KZ, got {code[:10]!r}")
            return code
        if parameter == "offshore_jurisdictions":
            codes = [c.strip() for c in value.split(",") if c.strip()]
            bad = [c for c in codes if not is_country_code(c)]
            if bad:
                raise InvalidRequest("value", f"{parameter}: not assigned ISO 3166 alpha-2 "
                                              f"codes: {', '.join(bad[:5])[:60]!r}")
            return ",".join(sorted(set(codes)))
        return value.strip()
    try:
        number = Decimal(value)
    except (InvalidOperation, TypeError):
        raise InvalidRequest("value", f"{parameter} must be a decimal number, got {value!r}")\
            from None
    if not number.is_finite():
        raise InvalidRequest("value", f"{parameter} must be finite")
    if spec.minimum is not None and number < spec.minimum:
        raise InvalidRequest("value", f"{parameter} must be at least {spec.minimum}")
    if spec.maximum is not None and number > spec.maximum:
        raise InvalidRequest("value", f"{parameter} must be at most {spec.maximum}")
    if spec.whole and number != number.to_integral_value():
        raise InvalidRequest("value", f"{parameter} must be a whole number")
    return str(number)


@dataclass(frozen=True)
class PolicyValue:
    """One versioned value of a parameter."""

    parameter: str
    value: str
    effective_from: datetime
    version: int


class Policy(LedgerAggregate):
    """The national policy: a history of parameter values, each effective from a time."""

    @staticmethod
    def create_id() -> UUID:
        return POLICY_ID

    @event("Created")
    def __init__(self) -> None:
        self.history: dict[str, list[PolicyValue]] = {}

    @event("Set")
    def set(self, request_id: str, at: datetime, parameter: str, value: str,
            effective_from: datetime) -> None:
        values = self.history.setdefault(parameter, [])
        values.append(PolicyValue(parameter, value, effective_from, self.version + 1))
        values.sort(key=lambda v: (v.effective_from, v.version))

    def value_at(self, parameter: str, at: datetime) -> str | None:
        """Returns the value of ``parameter`` in force at ``at``, or None if never set (a
        founding parameter's first value holds before it takes effect)."""
        values = self.history.get(parameter, [])
        current = None
        for value in values:
            if value.effective_from <= at:
                current = value.value
        if current is None and values:
            spec = PARAMETERS.get(parameter)
            if spec is not None and spec.founding:
                return values[0].value
        return current


class PolicyView:
    """Typed read access to the policy in force at one time, with defaults. A view
    remembers the values it read: the policy it reads must not change meanwhile (the
    cache's aggregates never do)."""

    def __init__(self, policy: Policy | None, at: datetime) -> None:
        self.policy = policy
        self.at = at
        self._texts: dict[str, str] = {}
        self._decimals: dict[str, Decimal] = {}

    def text(self, parameter: str) -> str:
        """Returns the value in force, else the default."""
        value = self._texts.get(parameter)
        if value is None:
            value = self._texts[parameter] = self._text(parameter)
        return value

    def _text(self, parameter: str) -> str:
        value = self.policy.value_at(parameter, self.at) if self.policy else None
        if value is not None:
            return value
        if parameter in PARAMETERS:
            default = PARAMETERS[parameter].default
            if default is None:
                raise RuleViolation(
                    f"{parameter.upper()}_NOT_SET",
                    f"policy parameter {parameter} is not set: set it with `valedger db "
                    f"init --{parameter.replace('_', '-')}` or SetPolicy",
                    {"parameter": parameter})
            return default
        if parameter == FX_PREFIX + "USD":
            return "1"
        raise KeyError(parameter)

    def decimal(self, parameter: str) -> Decimal:
        """Returns a numeric value in force, else its default."""
        number = self._decimals.get(parameter)
        if number is None:
            number = self._decimals[parameter] = Decimal(self.text(parameter))
        return number

    def usd_rate(self, currency: str) -> Decimal | None:
        """Returns the USD value of one unit of ``currency``, or None when unknown."""
        try:
            return self.decimal(FX_PREFIX + currency)
        except KeyError:
            return None


class PolicyViews:
    """Views of one policy at many times (the trades of a batch): the times between the
    same two changes of the policy see the same values, so they share one view and what
    it has read. The policy must not change while the views are used."""

    def __init__(self, policy: Policy | None) -> None:
        self.policy = policy
        self.changes = sorted(value.effective_from for values in policy.history.values()
                              for value in values) if policy else []
        self.views: dict[int, PolicyView] = {}

    def at(self, at: datetime) -> PolicyView:
        """Returns a view of the values in force at ``at`` (its own ``at`` may be another
        time with the same values)."""
        epoch = bisect_right(self.changes, at)
        view = self.views.get(epoch)
        if view is None:
            view = self.views[epoch] = PolicyView(self.policy, at)
        return view

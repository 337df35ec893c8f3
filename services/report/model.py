"""The report's figures as plain data: one dataclass per section, base units throughout.

Each section is computed by one function of ``services.report.sections`` and drawn by
``services.report.render``; nothing here knows the store or the page. A measured figure is
a :class:`Quantity` (a Decimal with its unit, None when not recorded, ±Infinity kept), so
``report.json`` carries every number with its unit. A new figure (a later supervision or
AML rule) is a new field or section here, filled by its own function.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.report.period import ReportPeriod


@dataclass(frozen=True)
class Quantity:
    """A figure in a base unit: H/s, kWh, J/TH, USD, an asset's coins, or ``1`` (a ratio)."""

    value: Decimal | None
    unit: str

    @property
    def is_extreme(self) -> bool:
        """Returns True for an infinite or not-a-number value (shown by name)."""
        return self.value is not None and not self.value.is_finite()


# ---------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class LicenceStateCount:
    """How many licences of one kind were in one state at the period's end."""

    kind: str
    state: str
    count: int


@dataclass(frozen=True)
class KeyFigure:
    """One headline figure of this period beside the previous period's."""

    name: str
    current: Quantity
    previous: Quantity

    @property
    def change(self) -> Decimal | None:
        """Returns current − previous (None when either is unknown or infinite)."""
        now, before = self.current.value, self.previous.value
        if now is None or before is None or not (now.is_finite() and before.is_finite()):
            return None
        return now - before


@dataclass(frozen=True)
class SummarySection:
    """Licences by state, alerts opened and resolved, key figures against last period."""

    licences_by_state: list[LicenceStateCount]
    alerts_opened: int
    alerts_resolved: int
    alerts_open_at_end: int
    key_figures: list[KeyFigure]


# ----------------------------------------------------------------------------- mining


@dataclass(frozen=True)
class VerdictCheck:
    """One check a reconciliation evaluated: its verdict, whether it fired, its p-value."""

    verdict: str
    triggered: bool
    p_value: Quantity


@dataclass(frozen=True)
class MiningRow:
    """One closed reconciliation: a licence over one period (DESIGN §5)."""

    licence_id: str
    licence: str
    holder: str
    site: str
    period_start: datetime
    period_end: datetime
    asset: str
    licensed_capacity: Quantity
    tolerance: Quantity
    tolerance_line: Quantity
    proved_hashrate: Quantity
    proved_low: Quantity
    proved_high: Quantity
    expected_output: Quantity
    expected_low: Quantity
    expected_high: Quantity
    reported_output: Quantity
    metered_energy: Quantity
    energy_quota: Quantity
    implied_efficiency: Quantity
    verdicts: list[str]
    mode: str = "solo"
    """How the licence mines: "solo", or "pool NAME (SCHEME, fee F)"."""
    checks: list[VerdictCheck] = field(default_factory=list)
    """Every check evaluated, with its p-value where the test has one."""
    shares_not_active: Quantity = Quantity(None, "shares")
    """Shares of the period refused as LICENCE_NOT_ACTIVE (outside the licence's standing)."""


@dataclass(frozen=True)
class SuspensionRow:
    """One suspension of a licence that overlaps the period."""

    licence: str
    kind: str
    start: datetime
    end: datetime | None
    reason: str


@dataclass(frozen=True)
class MissingReportRow:
    """A REPORT_MISSING alert of the supervisory calendar raised in the period."""

    raised_at: datetime
    licence: str
    message: str
    state: str


@dataclass(frozen=True)
class MiningSection:
    """The period's reconciliations, the licences' history, and licences not reconciled."""

    rows: list[MiningRow]
    history: list[MiningRow]
    """Reconciliations of the twelve months up to the period's end (licences over time)."""
    not_reconciled: list[str]
    """Mining licences active during the period without a reconciliation in it."""
    suspensions: list[SuspensionRow] = field(default_factory=list)
    """Suspensions of licences (mining and exchange) overlapping the period."""
    reports_missing: list[MissingReportRow] = field(default_factory=list)
    """REPORT_MISSING alerts the supervisory calendar raised in the period."""


# ----------------------------------------------------------------------------- market


@dataclass(frozen=True)
class AssetRow:
    """Recorded trades of one asset."""

    asset: str
    trades: int
    quantity: Quantity
    value: Quantity


@dataclass(frozen=True)
class BlockedRow:
    """Blocked attempts under one rule."""

    rule: str
    attempts: int
    value: Quantity


@dataclass(frozen=True)
class OutflowRow:
    """Outflows (to foreign or self-hosted wallets) grouped by one key."""

    key: str
    trades: int
    value: Quantity
    blocked: int
    blocked_value: Quantity


@dataclass(frozen=True)
class TravelRuleFigures:
    """Travel-rule completeness: trades at or above the threshold that carried the data."""

    threshold: Quantity
    required: int
    complete: int
    blocked_missing: int

    @property
    def completeness(self) -> Quantity:
        """Returns complete ÷ (required recorded + blocked for missing data)."""
        asked = self.required + self.blocked_missing
        return Quantity(None if asked == 0 else Decimal(self.complete) / Decimal(asked), "1")


@dataclass(frozen=True)
class StructuringRow:
    """One structuring alert."""

    raised_at: datetime
    participant: str
    message: str
    state: str


@dataclass(frozen=True)
class MarketSection:
    """Trades, blocked attempts, outflows, travel rule and structuring in the period."""

    home_country: str
    by_asset: list[AssetRow]
    blocked_by_rule: list[BlockedRow]
    outflows_by_country: list[OutflowRow]
    outflows_by_vasp: list[OutflowRow]
    outflows_by_participant: list[OutflowRow]
    travel_rule: TravelRuleFigures
    structuring: list[StructuringRow]
    screening_hits: list[StructuringRow] = field(default_factory=list)
    """SCREENING_HIT alerts raised in the period (a trade's or a participant's persons
    matched a sanctions or watch list)."""


# ----------------------------------------------------------------------------- alerts


@dataclass(frozen=True)
class MonthlyAlertCount:
    """Alerts of one kind raised in one calendar month."""

    month: str
    kind: str
    count: int


@dataclass(frozen=True)
class AlertRow:
    """One alert raised in the period."""

    raised_at: datetime
    kind: str
    participant: str
    subject: str
    message: str
    state: str


@dataclass(frozen=True)
class AgeRow:
    """Open alerts of one kind in one age band at the period's end."""

    band: str
    kind: str
    count: int


@dataclass(frozen=True)
class CaseRow:
    """Open alert cases at the period's end, counted by age band, severity and assignee."""

    band: str
    severity: str
    assignee: str
    count: int


@dataclass(frozen=True)
class EscalatedRow:
    """One open case escalated, as the checkpoint's records leave it."""

    raised_at: datetime
    kind: str
    participant: str
    severity: str
    assignee: str
    escalated_to: str


@dataclass(frozen=True)
class AlertsSection:
    """Alerts by kind over twelve months, the period's alerts, open cases by age."""

    months: list[str]
    monthly: list[MonthlyAlertCount]
    raised: list[AlertRow]
    open_by_age: list[AgeRow]
    open_cases: list[CaseRow] = field(default_factory=list)
    """Open cases by age band, severity and assignee ("unassigned" when none)."""
    escalated: list[EscalatedRow] = field(default_factory=list)


# -------------------------------------------------------------------------- integrity


@dataclass(frozen=True)
class Cosignature:
    """A witness's cosignature of the checkpoint."""

    witness: str
    signed_at: datetime | None


@dataclass(frozen=True)
class IntegritySection:
    """The signed checkpoint whose records the report was made from, and how to check it."""

    origin: str | None
    tree_size: int | None
    root_hex: str | None
    root_base64: str | None
    signed_at: str | None
    signers: list[str]
    cosignatures: list[Cosignature]
    signed_note: str | None
    log_position: int
    records_after: int
    verify_command: str
    note_file: str | None


# ------------------------------------------------------------------------------ whole


@dataclass(frozen=True)
class Report:
    """Everything the report shows."""

    generated_at: datetime
    store: str
    period: ReportPeriod
    previous: ReportPeriod
    summary: SummarySection
    mining: MiningSection
    market: MarketSection
    alerts: AlertsSection
    integrity: IntegritySection
    notes: list[str] = field(default_factory=list)


def as_json(value: Any) -> Any:
    """Returns ``value`` for ``report.json``: a Quantity as {value, unit} (the value a
    decimal string, "Infinity" kept), times in ISO 8601, dataclasses as objects."""
    if isinstance(value, Quantity):
        return {"value": None if value.value is None else str(value.value), "unit": value.unit}
    if isinstance(value, ReportPeriod):
        return {"label": value.label, "start": value.start.isoformat(),
                "end": value.end.isoformat()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        found = {f.name: as_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, TravelRuleFigures):
            found["completeness"] = as_json(value.completeness)
        if isinstance(value, KeyFigure):
            change = value.change
            found["change"] = as_json(Quantity(change, value.current.unit))
        return found
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    return value

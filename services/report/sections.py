"""One function per section: each computes its plain data model from the snapshot.

The functions read only the :class:`~services.report.source.Snapshot` (records up to the
signed checkpoint) and the policy in force at the times they name; they never draw.
Participants and licences are named by their legal names and sites, never by ids.
A new figure slots in as a new function (or a field filled by an existing one).
"""

from __future__ import annotations

import base64
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger import (
    InvalidRequest,
    MiningLicence,
    Reconciliation,
    missing_data,
    travel_rule_from_record,
)
from services.report.model import (
    AgeRow,
    AlertRow,
    AlertsSection,
    AssetRow,
    BlockedRow,
    CaseRow,
    Cosignature,
    EscalatedRow,
    IntegritySection,
    KeyFigure,
    LicenceStateCount,
    MarketSection,
    MiningRow,
    MiningSection,
    MissingReportRow,
    MonthlyAlertCount,
    OutflowRow,
    Quantity,
    StructuringRow,
    SummarySection,
    SuspensionRow,
    TravelRuleFigures,
    VerdictCheck,
)
from services.report.names import TERA, Names
from services.report.period import ReportPeriod
from services.report.source import Snapshot, TradeRow
from tlog.cosignature import cosignature_timestamp, parse_signature_lines
from tlog.note import parse_note

HISTORY_MONTHS = 12
AGE_BANDS = ((timedelta(days=7), "under 7 days"), (timedelta(days=30), "7–30 days"),
             (timedelta(days=90), "30–90 days"), (None, "over 90 days"))
"""Bands of an open alert's age at the period's end."""
NOTE_FILE = "checkpoint.note"
"""The file beside the report holding the cosigned checkpoint it was made from."""
ONE_MICROSECOND = timedelta(microseconds=1)


def _last_instant(period: ReportPeriod) -> datetime:
    return period.end - ONE_MICROSECOND


# ---------------------------------------------------------------------------- summary


def summary_section(snapshot: Snapshot, period: ReportPeriod,
                    previous: ReportPeriod) -> SummarySection:
    """Returns licences by state at the period's end, the alerts opened and resolved in it,
    and the key figures beside the previous period's."""
    states: Counter[tuple[str, str]] = Counter()
    for licence in snapshot.licences.values():
        kind = "mining" if isinstance(licence, MiningLicence) else "exchange"
        states[(kind, licence.status_at(_last_instant(period)))] += 1
    alerts = list(snapshot.alerts.values())
    opened = sum(1 for a in alerts if period.contains(a.raised_at))
    resolved = sum(1 for a in alerts
                   if a.resolved_at is not None and period.contains(a.resolved_at))
    open_at_end = sum(1 for a in alerts if a.raised_at < period.end
                      and (a.resolved_at is None or a.resolved_at >= period.end))
    figures = [_key_figures(snapshot, p) for p in (period, previous)]
    names = list(dict.fromkeys([*figures[0], *figures[1]]))
    key_figures = []
    for name in names:
        now = figures[0].get(name)
        before = figures[1].get(name)
        unit = (now or before or Quantity(None, "")).unit
        key_figures.append(KeyFigure(name, now or Quantity(Decimal(0), unit),
                                     before or Quantity(Decimal(0), unit)))
    return SummarySection(
        licences_by_state=[LicenceStateCount(k, s, n) for (k, s), n in sorted(states.items())],
        alerts_opened=opened, alerts_resolved=resolved, alerts_open_at_end=open_at_end,
        key_figures=key_figures)


def _key_figures(snapshot: Snapshot, period: ReportPeriod) -> dict[str, Quantity]:
    """Returns the headline figures of one period, by name."""
    trades = [t for t in snapshot.trades if period.contains(t.at)]
    recorded = [t for t in trades if not t.is_blocked]
    blocked = [t for t in trades if t.is_blocked]
    outflows = [t for t in recorded if _is_outflow(t, snapshot)]
    recons = _reconciliations_in(snapshot, period)
    figures = {
        "trades recorded": Quantity(Decimal(len(recorded)), "trades"),
        "value traded": Quantity(sum((t.value_usd for t in recorded), Decimal(0)), "USD"),
        "attempts blocked": Quantity(Decimal(len(blocked)), "attempts"),
        "outflows": Quantity(sum((t.value_usd for t in outflows), Decimal(0)), "USD"),
        "alerts raised": Quantity(Decimal(sum(1 for a in snapshot.alerts.values()
                                              if period.contains(a.raised_at))), "alerts"),
        "reconciliations closed": Quantity(Decimal(len(recons)), "reconciliations"),
        "reconciliations with a finding": Quantity(
            Decimal(sum(1 for r in recons if r.verdicts)), "reconciliations"),
        "metered energy": Quantity(sum((r.metered_kwh or Decimal(0) for r in recons),
                                       Decimal(0)), "kWh"),
    }
    reported: dict[str, Decimal] = defaultdict(Decimal)
    for recon in recons:
        reported[recon.asset] += recon.reported_output or Decimal(0)
    for asset, amount in sorted(reported.items()):
        figures[f"output reported ({asset})"] = Quantity(amount, asset)
    return figures


# ----------------------------------------------------------------------------- mining


def _reconciliations_in(snapshot: Snapshot, period: ReportPeriod) -> list[Reconciliation]:
    """Returns the reconciliations whose period overlaps ``period``, in period order."""
    found = [r for r in snapshot.reconciliations.values()
             if period.overlaps(r.period_start, r.period_end)]
    return sorted(found, key=lambda r: (r.period_start, r.period_end, str(r.licence_id)))


def _figure(recon: Reconciliation, name: str) -> Decimal | None:
    value = recon.figures.get(name)
    return None if value is None else Decimal(value)


def _hashrate(recon: Reconciliation, name: str) -> Decimal | None:
    """Returns a hashrate figure in H/s (older records kept only TH/s)."""
    found = _figure(recon, f"{name}_hs")
    if found is not None:
        return found
    ths = _figure(recon, f"{name}_ths")
    return None if ths is None else ths * TERA


def mining_row(recon: Reconciliation, names: Names) -> MiningRow:
    """Returns one reconciliation's figures in base units."""
    licence = names.snapshot.licences.get(recon.licence_id)
    capacity = recon.licensed_capacity_ths * TERA
    check = recon.check("OVER_CAPACITY")
    limit = None
    if check is not None and "limit_ths" in check.get("figures", {}):
        limit = Decimal(check["figures"]["limit_ths"]) * TERA
    tolerance = None if limit is None or capacity == 0 else limit / capacity - 1
    asset = recon.asset
    return MiningRow(
        licence_id=str(recon.licence_id), licence=names.licence(recon.licence_id),
        holder=names.participant(recon.participant_id),
        site=names.site(licence) if isinstance(licence, MiningLicence) else "unknown",
        period_start=recon.period_start, period_end=recon.period_end, asset=asset,
        licensed_capacity=Quantity(capacity, "H/s"),
        tolerance=Quantity(tolerance, "1"),
        tolerance_line=Quantity(limit, "H/s"),
        proved_hashrate=Quantity(_hashrate(recon, "hashrate"), "H/s"),
        proved_low=Quantity(_hashrate(recon, "hashrate_low"), "H/s"),
        proved_high=Quantity(_hashrate(recon, "hashrate_high"), "H/s"),
        expected_output=Quantity(recon.expected_output, asset),
        expected_low=Quantity(_figure(recon, "expected_output_low"), asset),
        expected_high=Quantity(_figure(recon, "expected_output_high"), asset),
        reported_output=Quantity(recon.reported_output, asset),
        metered_energy=Quantity(recon.metered_kwh, "kWh"),
        energy_quota=Quantity(recon.quota_kwh, "kWh"),
        mode=names.mode(licence) if isinstance(licence, MiningLicence) else "unknown",
        checks=[VerdictCheck(c["verdict"], bool(c.get("triggered")),
                             Quantity(None if c.get("p_value") is None
                                      else Decimal(c["p_value"]), "1"))
                for c in recon.checks],
        shares_not_active=Quantity(_figure(recon, "shares_not_active"), "shares"),
        implied_efficiency=Quantity(recon.implied_j_per_th, "J/TH"),
        verdicts=list(recon.verdicts))


def mining_section(snapshot: Snapshot, period: ReportPeriod) -> MiningSection:
    """Returns the period's reconciliations, twelve months of them for the licences'
    history, and the mining licences active in the period that have none."""
    names = Names(snapshot)
    rows = [mining_row(r, names) for r in _reconciliations_in(snapshot, period)]
    history_start = period.months_back(HISTORY_MONTHS)[0][0]
    history = [mining_row(r, names) for r in sorted(
        snapshot.reconciliations.values(), key=lambda r: (r.period_start, str(r.licence_id)))
        if r.period_start >= history_start and r.period_end <= period.end]
    reconciled = {UUID(row.licence_id) for row in rows}
    not_reconciled = sorted(
        names.licence(licence.id) for licence in snapshot.licences.values()
        if isinstance(licence, MiningLicence) and licence.id not in reconciled
        and _active_during(licence, period))
    return MiningSection(rows=rows, history=history, not_reconciled=not_reconciled,
                         suspensions=_suspensions(snapshot, period, names),
                         reports_missing=[
                             MissingReportRow(a.raised_at, names.subject(a.subject_id),
                                              names.message(a.message), _state(a, period))
                             for a in _alerts_in(snapshot, period)
                             if a.kind == "REPORT_MISSING"])


def _suspensions(snapshot: Snapshot, period: ReportPeriod,
                 names: Names) -> list[SuspensionRow]:
    """Returns the licences' suspensions that overlap the period, oldest first."""
    rows = []
    for licence in snapshot.licences.values():
        kind = "mining" if isinstance(licence, MiningLicence) else "exchange"
        reasons = list(licence.suspension_reasons)
        for i, (start, end) in enumerate(licence.suspensions.spans):
            if period.overlaps(start, end or period.end):
                reason = reasons[i] if i < len(reasons) else ""
                rows.append(SuspensionRow(names.licence(licence.id), kind, start, end,
                                          names.message(reason)))
    return sorted(rows, key=lambda r: (r.start, r.licence))


def _state(alert: Any, period: ReportPeriod) -> str:
    """Returns "open" or "resolved" as of the period's end."""
    return ("open" if alert.resolved_at is None or alert.resolved_at >= period.end
            else "resolved")


def _active_during(licence: MiningLicence, period: ReportPeriod) -> bool:
    """Returns True when the licence was active at the period's start or end."""
    return licence.is_active_at(period.start) or licence.is_active_at(_last_instant(period))


# ----------------------------------------------------------------------------- market


def _home(snapshot: Snapshot, at: datetime) -> str:
    return snapshot.policy_at(at).text("home_country")


def _country(trade: TradeRow, snapshot: Snapshot) -> str:
    """Returns the country a trade's value goes to as ``ledger.counterparty`` decides it:
    the registered VASP's country when one is named (a blocked attempt keeps only the
    client's claim), else the country claimed, else the home country."""
    vasp = None if trade.counterparty_vasp_id is None \
        else snapshot.vasps.get(trade.counterparty_vasp_id)
    if vasp is not None:
        return str(vasp.country)
    return trade.counterparty_country or _home(snapshot, trade.at)


def _is_outflow(trade: TradeRow, snapshot: Snapshot) -> bool:
    """Returns True for a transfer to a self-hosted wallet or abroad (the outflow cap's
    own definition, ledger.trading, with the home country in force at the trade)."""
    return (trade.wallet_kind == "SELF_HOSTED"
            or _country(trade, snapshot) != _home(snapshot, trade.at))


def _outflow_rows(trades: Iterable[TradeRow], key: Callable[[TradeRow], str]) -> list[OutflowRow]:
    """Returns outflows grouped by ``key``, largest recorded value first."""
    groups: dict[str, list[TradeRow]] = defaultdict(list)
    for trade in trades:
        groups[key(trade)].append(trade)
    rows = []
    for name, group in groups.items():
        done = [t for t in group if not t.is_blocked]
        refused = [t for t in group if t.is_blocked]
        rows.append(OutflowRow(
            key=name, trades=len(done),
            value=Quantity(sum((t.value_usd for t in done), Decimal(0)), "USD"),
            blocked=len(refused),
            blocked_value=Quantity(sum((t.value_usd for t in refused), Decimal(0)), "USD")))
    return sorted(rows, key=lambda r: (-(r.value.value or 0), -r.blocked, r.key))


def market_section(snapshot: Snapshot, period: ReportPeriod) -> MarketSection:
    """Returns trades and volumes by asset, blocked attempts by rule, outflows by country,
    counterparty VASP and participant, travel-rule completeness and structuring."""
    names = Names(snapshot)
    trades = [t for t in snapshot.trades if period.contains(t.at)]
    recorded = [t for t in trades if not t.is_blocked]
    by_asset: dict[str, list[TradeRow]] = defaultdict(list)
    for trade in recorded:
        by_asset[trade.asset].append(trade)
    assets = [AssetRow(asset, len(group),
                       Quantity(sum((t.quantity for t in group), Decimal(0)), asset),
                       Quantity(sum((t.value_usd for t in group), Decimal(0)), "USD"))
              for asset, group in sorted(by_asset.items())]
    rules: dict[str, list[TradeRow]] = defaultdict(list)
    for trade in trades:
        if trade.is_blocked:
            rules[trade.rule].append(trade)
    blocked = sorted((BlockedRow(rule, len(group),
                                 Quantity(sum((t.value_usd for t in group), Decimal(0)), "USD"))
                      for rule, group in rules.items()), key=lambda r: (-r.attempts, r.rule))
    outflows = [t for t in trades if _is_outflow(t, snapshot)]

    home = snapshot.policy_at(_last_instant(period)).text("home_country")

    def country(code: str) -> str:
        return f"{code} (home: self-hosted wallets)" if code == home else code

    def vasp(trade: TradeRow) -> str:
        if trade.wallet_kind == "SELF_HOSTED":
            return "self-hosted wallet"
        return f"{names.vasp(trade.counterparty_vasp_id)} ({_country(trade, snapshot)})"

    return MarketSection(
        home_country=home,
        by_asset=assets, blocked_by_rule=blocked,
        outflows_by_country=_outflow_rows(outflows, lambda t: country(_country(t, snapshot))),
        outflows_by_vasp=_outflow_rows(outflows, vasp),
        outflows_by_participant=_outflow_rows(outflows,
                                              lambda t: names.participant(t.buyer_id)),
        travel_rule=_travel_rule(trades, period, snapshot),
        structuring=[StructuringRow(a.raised_at, names.participant(a.participant_id),
                                    names.message(a.message), "open" if a.is_open else "resolved")
                     for a in _alerts_in(snapshot, period) if a.kind == "STRUCTURING"],
        screening_hits=[StructuringRow(a.raised_at, names.participant(a.participant_id),
                                       names.message(a.message), _state(a, period))
                        for a in _alerts_in(snapshot, period) if a.kind == "SCREENING_HIT"])


def _travel_rule(trades: list[TradeRow], period: ReportPeriod,
                 snapshot: Snapshot) -> TravelRuleFigures:
    """Returns how many recorded trades needed travel-rule data (at or above the threshold
    in force at the trade), how many carried all of it, and the attempts blocked for it."""
    required = complete = 0
    for trade in trades:
        if trade.is_blocked:
            continue
        threshold = snapshot.policy_at(trade.at).decimal("travel_rule_threshold_usd")
        if trade.value_usd >= threshold:
            required += 1
            complete += _travel_rule_complete(trade)
    missing = sum(1 for t in trades if t.rule == "TRAVEL_RULE_DATA_MISSING")
    threshold_now = snapshot.policy_at(_last_instant(period)).decimal("travel_rule_threshold_usd")
    return TravelRuleFigures(Quantity(threshold_now, "USD"), required, complete, missing)


def _travel_rule_complete(trade: TradeRow) -> bool:
    """Returns True when a trade at or above the threshold carries all that FATF R.16
    requires, by the ledger's own rule (``ledger.domain.travel_rule.missing_data``)."""
    try:
        travel = travel_rule_from_record(trade.travel_rule)
    except InvalidRequest:
        return False
    self_hosted = trade.wallet_kind == "SELF_HOSTED"
    return not missing_data(travel, at_or_above=True, self_hosted=self_hosted,
                            transfer=self_hosted or trade.counterparty_vasp_id is not None)


# ----------------------------------------------------------------------------- alerts


def _alerts_in(snapshot: Snapshot, period: ReportPeriod) -> list[Any]:
    return sorted((a for a in snapshot.alerts.values() if period.contains(a.raised_at)),
                  key=lambda a: (a.raised_at, a.kind))


def alerts_section(snapshot: Snapshot, period: ReportPeriod) -> AlertsSection:
    """Returns alerts by kind for each of the twelve months up to the period's end, the
    period's alerts with names, and the alerts open at its end by age."""
    names = Names(snapshot)
    months = period.months_back(HISTORY_MONTHS)
    monthly: Counter[tuple[str, str]] = Counter()
    for alert in snapshot.alerts.values():
        for start, end, label in months:
            if start <= alert.raised_at < end:
                monthly[(label, alert.kind)] += 1
    raised = [AlertRow(a.raised_at, a.kind, names.participant(a.participant_id),
                       names.subject(a.subject_id), names.message(a.message),
                       "open" if a.resolved_at is None or a.resolved_at >= period.end
                       else "resolved")
              for a in _alerts_in(snapshot, period)]
    ages: Counter[tuple[str, str]] = Counter()
    for alert in snapshot.alerts.values():
        if alert.raised_at >= period.end or (alert.resolved_at is not None
                                             and alert.resolved_at < period.end):
            continue
        age = period.end - alert.raised_at
        band = next(name for limit, name in AGE_BANDS if limit is None or age < limit)
        ages[(band, alert.kind)] += 1
    order = {name: i for i, (_, name) in enumerate(AGE_BANDS)}
    cases: Counter[tuple[str, str, str]] = Counter()
    escalated = []
    for alert in snapshot.alerts.values():
        if alert.raised_at >= period.end or (alert.resolved_at is not None
                                             and alert.resolved_at < period.end):
            continue
        age = period.end - alert.raised_at
        band = next(name for limit, name in AGE_BANDS if limit is None or age < limit)
        severity = alert.severity.value
        cases[(band, severity, alert.assignee or "unassigned")] += 1
        if alert.escalated_to:
            escalated.append(EscalatedRow(alert.raised_at, alert.kind,
                                          names.participant(alert.participant_id), severity,
                                          alert.assignee or "unassigned", alert.escalated_to))
    severity_rank = {s: i for i, s in enumerate(("CRITICAL", "HIGH", "MEDIUM", "LOW"))}
    return AlertsSection(
        open_cases=[CaseRow(b, s, a, n) for (b, s, a), n in sorted(
            cases.items(), key=lambda item: (order[item[0][0]],
                                             severity_rank.get(item[0][1], 9), item[0][2]))],
        escalated=sorted(escalated, key=lambda r: r.raised_at),
        months=[label for _, _, label in months],
        monthly=[MonthlyAlertCount(m, k, n) for (m, k), n in sorted(monthly.items())],
        raised=raised,
        open_by_age=[AgeRow(b, k, n) for (b, k), n in
                     sorted(ages.items(), key=lambda item: (order[item[0][0]], item[0][1]))])


# -------------------------------------------------------------------------- integrity


def integrity_section(snapshot: Snapshot, store: str) -> IntegritySection:
    """Returns the checkpoint the report was made from (origin, size, root, signatures
    and cosignatures) and the command that checks the store against it."""
    checkpoint = snapshot.checkpoint
    command = (f"valedger audit verify --db '{store}' --public-key audit.pub "
               f"--trusted-checkpoint {NOTE_FILE}")
    if checkpoint is None:
        return IntegritySection(
            origin=None, tree_size=None, root_hex=None, root_base64=None, signed_at=None,
            signers=[], cosignatures=[], signed_note=None, log_position=snapshot.position,
            records_after=snapshot.records_after,
            verify_command=f"valedger audit checkpoint --db '{store}' --key audit.key",
            note_file=None)
    note = parse_note(checkpoint.note)
    origin = note.text.split("\n", 1)[0]
    cosignatures = []
    if checkpoint.cosignatures:
        for line in parse_signature_lines("".join(checkpoint.cosignatures)):
            try:
                at: datetime | None = datetime.fromtimestamp(cosignature_timestamp(line),
                                                             tz=UTC)
            except ValueError:
                at = None
            cosignatures.append(Cosignature(line.name, at))
    if cosignatures:
        command += " --witness-key WITNESS.pub … --quorum K"
    return IntegritySection(
        origin=origin, tree_size=checkpoint.size, root_hex=checkpoint.root_hash.hex(),
        root_base64=base64.b64encode(checkpoint.root_hash).decode(),
        signed_at=checkpoint.created_at, signers=[s.name for s in note.signatures],
        cosignatures=cosignatures, signed_note=checkpoint.cosigned_note,
        log_position=snapshot.position, records_after=snapshot.records_after,
        verify_command=command, note_file=NOTE_FILE)

"""The supervisor's report against the store it was made from (SQLite and PostgreSQL):
every figure recomputed here from the stored events up to the signed checkpoint."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from ledger.audit.log import AuditLog
from ledger.config import StoreConfig
from ledger.domain.alert import Alert
from ledger.domain.licence import MiningLicence
from ledger.domain.reconciliation import Reconciliation
from ledger.domain.trade import Trade
from ledger.domain.travel_rule import missing_data, travel_rule_from_record
from ledger.domain.vasp import Vasp
from services.report.names import Names
from services.report.source import read_snapshot
from tests.ledger.conftest import events_of
from tests.services.report.conftest import Made
from tests.services.report.scenario import ESCALATION, HOME, NAMES, POOL_NAME, SUSPENSION
from tlog.checkpoint import open_checkpoint

TERA = Decimal(10) ** 12
MARCH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
RECORDED = cast(Any, Trade).Recorded
BLOCKED = cast(Any, Trade).Blocked


def signed_events(made: Made) -> list[Any]:
    """Returns the stored events the checkpoint covers (leaves are the records in order)."""
    return events_of(made.ledger.ledger)[:made.scenario.checkpoint_size]


def in_march(at: datetime) -> bool:
    return MARCH[0] <= at < MARCH[1]


def test_mining_rows_are_the_reconciliations_of_the_period(made: Made) -> None:
    recons = [r for r in made.ledger.list_reconciliations()
              if r.period_start < MARCH[1] and r.period_end > MARCH[0]]
    rows = made.report.mining.rows
    assert len(rows) == len(recons) == 2
    written = json.loads(made.files.json.read_text())["mining"]["rows"]
    for rec, row, saved in zip(sorted(recons, key=lambda r: str(r.licence_id)),
                               sorted(rows, key=lambda r: r.licence_id),
                               sorted(written, key=lambda r: r["licence_id"]), strict=True):
        assert row.licence_id == str(rec.licence_id)
        capacity = rec.licensed_capacity_ths * TERA
        assert row.licensed_capacity.value == capacity
        assert row.tolerance.value == Decimal("0.05")
        assert row.tolerance_line.value == Decimal(
            cast(dict[str, Any], rec.check("OVER_CAPACITY"))["figures"]["limit_ths"]) * TERA
        assert abs(row.tolerance_line.value - capacity * Decimal("1.05")) < capacity * Decimal(
            "1e-20")
        assert row.proved_hashrate.value == Decimal(rec.figures["hashrate_hs"])
        assert (row.proved_low.value, row.proved_high.value) == (
            Decimal(rec.figures["hashrate_low_hs"]), Decimal(rec.figures["hashrate_high_hs"]))
        assert row.expected_output.value == rec.expected_output
        assert row.reported_output.value == rec.reported_output
        assert row.asset == "BTC" and row.reported_output.unit == "BTC"
        assert row.metered_energy.value == rec.metered_kwh
        assert row.energy_quota.value == rec.quota_kwh
        assert row.verdicts == rec.verdicts
        holder = made.ledger.get_participant(rec.participant_id).legal_name
        assert row.holder == holder and row.licence.startswith(holder)
        assert saved["proved_hashrate"] == {"value": rec.figures["hashrate_hs"], "unit": "H/s"}
        assert saved["energy_quota"] == {"value": str(rec.quota_kwh), "unit": "kWh"}
        assert saved["tolerance_line"]["unit"] == "H/s"
    assert {r.holder: r.verdicts for r in rows} == {
        NAMES["steppe"]: [], NAMES["tengri"]: ["OVER_CAPACITY", "ENERGY_OVER_QUOTA"]}
    # The licences over time: February's reconciliation too, March's once each.
    history = made.report.mining.history
    assert sorted((r.holder, r.period_start.month) for r in history) == [
        (NAMES["steppe"], 2), (NAMES["steppe"], 3), (NAMES["tengri"], 3)]
    assert made.report.mining.not_reconciled == []
    # The licence mode and every check with the p-value the reconciliation recorded.
    for rec in recons:
        row = next(r for r in rows if r.licence_id == str(rec.licence_id))
        assert row.mode == "solo"
        assert [(c.verdict, c.triggered, c.p_value.value) for c in row.checks] == [
            (c["verdict"], c["triggered"],
             None if c.get("p_value") is None else Decimal(c["p_value"])) for c in rec.checks]
        assert row.shares_not_active.value == Decimal(rec.figures["shares_not_active"])
    assert any(c.p_value.value is not None for r in rows for c in r.checks)
    # The suspension of March, with its reason and end; no report went missing.
    assert [(s.licence.split(",")[0], s.start, s.end, s.reason)
            for s in made.report.mining.suspensions] == [
        (NAMES["tengri"], *SUSPENSION, "capacity under review")]
    assert made.report.mining.reports_missing == []


def test_market_figures_equal_the_signed_trades(made: Made) -> None:
    trades = [e for e in signed_events(made)
              if isinstance(e, RECORDED | BLOCKED) and in_march(e.at)]
    recorded = [t for t in trades if not isinstance(t, BLOCKED)]
    blocked = [t for t in trades if isinstance(t, BLOCKED)]
    market = made.report.market
    by_asset: dict[str, list[Any]] = defaultdict(list)
    for trade in recorded:
        by_asset[trade.asset].append(trade)
    assert [(a.asset, a.trades, a.quantity.value, a.value.value) for a in market.by_asset] == [
        (asset, len(group), sum(t.quantity for t in group), sum(t.value_usd for t in group))
        for asset, group in sorted(by_asset.items())]
    rules = Counter(t.rule for t in blocked)
    assert {b.rule: b.attempts for b in market.blocked_by_rule} == dict(rules) == {
        "OUTFLOW_CAP_EXCEEDED": 1, "TRAVEL_RULE_DATA_MISSING": 1}
    vasps = {e.originator_id: e for e in signed_events(made)
             if isinstance(e, cast(Any, Vasp).Registered)}

    def country(trade: Any) -> str:
        vasp = vasps.get(trade.counterparty_vasp_id)
        return vasp.country if vasp is not None else trade.counterparty_country

    outflows = [t for t in trades if t.wallet_kind == "SELF_HOSTED" or country(t) != HOME]
    by_country: dict[str, Decimal] = defaultdict(Decimal)
    for trade in outflows:
        if not isinstance(trade, BLOCKED):
            by_country[country(trade)] += trade.value_usd
    assert {r.key.split(" ")[0]: r.value.value for r in market.outflows_by_country} == \
        dict(by_country) == {"TR": Decimal(12000), HOME: Decimal(6000)}
    assert {r.key: (r.trades, r.blocked) for r in market.outflows_by_vasp} == {
        "Bosphorus VASP (TR)": (1, 1), "self-hosted wallet": (1, 0)}
    assert [(r.key, r.value.value) for r in market.outflows_by_participant] == [
        ("Aru Traders LLP", Decimal(18000))]
    needing = [t for t in recorded if t.value_usd >= 1000]
    travel = market.travel_rule
    assert travel.required == len(needing) == 4
    assert travel.complete == sum(
        not missing_data(travel_rule_from_record(t.travel_rule), True,
                         t.wallet_kind == "SELF_HOSTED",
                         t.wallet_kind == "SELF_HOSTED" or t.counterparty_vasp_id is not None)
        for t in needing)
    assert travel.blocked_missing == 1 and travel.completeness.value == Decimal("0.8")
    assert [s.participant for s in market.structuring] == ["Aru Traders LLP"]
    # The trade recorded after the checkpoint is not in the report.
    assert all(t.exchange_trade_id != "x-after-checkpoint" for t in trades)
    assert sum(a.trades for a in market.by_asset) == 8
    hits = [e for e in signed_events(made) if isinstance(e, cast(Any, Alert).Raised)
            and e.kind == "SCREENING_HIT" and in_march(e.at)]
    assert [(h.participant, h.state) for h in market.screening_hits] == [
        ("Aru Traders LLP", "open")] * len(hits) and len(hits) == 1


def test_summary_and_alerts_equal_the_signed_alerts(made: Made) -> None:
    alerts = {}
    for event in signed_events(made):
        if isinstance(event, cast(Any, Alert).Raised):
            alerts[event.originator_id] = event
    resolved = [e for e in signed_events(made) if isinstance(e, cast(Any, Alert).Resolved)]
    summary = made.report.summary
    assert summary.alerts_opened == sum(in_march(a.at) for a in alerts.values()) == 4
    assert summary.alerts_resolved == len(resolved) == 1
    assert summary.alerts_open_at_end == 3
    assert {(s.kind, s.state): s.count for s in summary.licences_by_state} == {
        ("mining", "ACTIVE"): 2, ("mining", "PENDING"): 1, ("exchange", "ACTIVE"): 1}
    figures = {k.name: k for k in summary.key_figures}
    assert figures["trades recorded"].current.value == 8
    assert figures["trades recorded"].previous.value == 1
    assert figures["attempts blocked"].current.value == 2
    assert figures["reconciliations closed"].previous.value == 1
    section = made.report.alerts
    assert section.months[0] == "2025-04" and section.months[-1] == "2026-03"
    assert len(section.months) == 12
    by_month = Counter((f"{a.at:%Y-%m}", a.kind) for a in alerts.values())
    assert {(m.month, m.kind): m.count for m in section.monthly} == dict(by_month)
    assert sorted(a.kind for a in section.raised) == sorted(a.kind for a in alerts.values())
    assert sum(a.count for a in section.open_by_age) == 3
    for row in section.raised:
        assert not UUID_TEXT.search(row.message + row.subject + row.participant), row
    # Open cases by age, severity and assignee; the escalated case.
    open_alerts = [a for a in made.ledger.list_alerts() if a.resolved_at is None]
    cases = Counter((a.severity.value, a.assignee or "unassigned") for a in open_alerts)
    assert Counter({(c.severity, c.assignee): c.count for c in section.open_cases}) == cases
    escalated = [a for a in open_alerts if a.escalated_to]
    assert [(e.kind, e.participant, e.assignee, e.escalated_to) for e in section.escalated] == [
        (a.kind, NAMES["tengri"], *ESCALATION) for a in escalated]
    assert len(escalated) == 1
    subjects = {row.kind: row.subject for row in section.raised}
    assert subjects["STRUCTURING"] == "a trade"
    assert subjects["OVER_CAPACITY"].startswith(f"reconciliation of {NAMES['tengri']}, ")


def test_integrity_names_the_checkpoint_and_its_command_verifies(made: Made) -> None:
    log = AuditLog(made.ledger.ledger.recorder, create_tables=False)
    checkpoint = log.latest_checkpoint()
    assert checkpoint is not None
    integrity = made.report.integrity
    assert integrity.tree_size == checkpoint.size == made.scenario.checkpoint_size
    assert integrity.root_hex == checkpoint.root_hash.hex()
    assert integrity.origin == "report.valedger.test/ledger"
    assert integrity.signers == ["report.valedger.test/ledger"]
    assert integrity.records_after == 1
    assert made.files.note is not None
    opened = open_checkpoint(made.files.note.read_text(), [made.scenario.signer.verifier])
    assert opened.checkpoint.size == checkpoint.size
    assert opened.checkpoint.root_hash == checkpoint.root_hash
    assert "--trusted-checkpoint checkpoint.note" in integrity.verify_command
    assert any("after the newest signed checkpoint" in n for n in made.report.notes)


def test_files_name_participants_not_ids_and_carry_units(made: Made) -> None:
    page = made.files.html.read_text()
    assert not UUID_TEXT.search(page)
    for name in ("Steppe Hash LLP", "Tengri Compute JSC", "Aru Traders LLP",
                 "OUTFLOW_CAP_EXCEEDED", "TRAVEL_RULE_DATA_MISSING", "Bosphorus VASP (TR)",
                 "capacity × (1 + tolerance)", made.report.integrity.root_hex or "?",
                 "capacity under review", ESCALATION[1], "Checks and p-values", "solo"):
        assert name in page, name
    assert page.count('<img src="data:image/png;base64,') == len(made.files.charts) == 6
    assert 'alt=""' not in page
    assert "1e-" not in page and "E-1" not in page  # no raw exponents anywhere
    pdf = made.files.pdf.read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert made.files.pdf_pages >= 3

    def quantities(node: Any) -> list[dict[str, Any]]:
        if isinstance(node, dict):
            found = [node] if not isinstance(node.get("value", {}), dict) else []
            return found + [q for v in node.values() for q in quantities(v)]
        if isinstance(node, list):
            return [q for v in node for q in quantities(v)]
        return []

    written = json.loads(made.files.json.read_text())
    assert written["format"] == "valedger-report/1"
    assert written["period"] == {"label": "2026-03", "start": "2026-03-01T00:00:00+00:00",
                                 "end": "2026-04-01T00:00:00+00:00"}
    found = quantities(written)
    assert len(found) > 50
    assert all(isinstance(q.get("unit"), str) and q["unit"] for q in found), found


def test_a_pool_licence_is_named_by_its_registered_pool(made: Made) -> None:
    snapshot = read_snapshot(made.ledger.ledger, StoreConfig(made.url), lambda at: False)
    names = Names(snapshot)
    modes = {names.participant(licence.participant_id): names.mode(licence)
             for licence in snapshot.licences.values() if isinstance(licence, MiningLicence)}
    assert modes == {NAMES["steppe"]: "solo", NAMES["tengri"]: "solo",
                     "Altai Pool Miners LLP": f"pool {POOL_NAME} (FPPS, fee 2 %)"}


def test_reconciliation_figures_are_those_recorded(made: Made) -> None:
    closed = [e for e in signed_events(made)
              if isinstance(e, cast(Any, Reconciliation).Closed)]
    assert len(closed) == 3
    assert len(made.report.mining.history) == 3

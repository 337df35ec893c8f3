"""Alert case management (``ledger.alerts``, ``Alert``): assign, severity, escalate,
resolve with a note and an STR reference, reopen; lists by state and assignee; the STR
export (``ledger.str_report``), on both stores."""

from __future__ import annotations

import hashlib
import json
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.domain.alert import AlertState, Severity
from ledger.errors import InvalidRequest, RuleViolation
from tests.ledger.conftest import START, T0, Market, hours


def structuring(market: Market) -> UUID:
    """Returns the STRUCTURING alert three 999.99 USD transfers raise."""
    receipts = market.ledger.record_trades([
        market.trade(f"s{i}", "999.99", at=T0 + hours(i)) for i in range(3)])
    [alert_id] = receipts[2].alert_ids
    return alert_id


def test_a_case_is_assigned_escalated_resolved_and_reopened(market: Market) -> None:
    ledger: Ledger = market.ledger
    alert_id = structuring(market)
    alert = ledger.alerts.get_alert(alert_id)
    assert (alert.state, alert.severity, alert.assignee) == \
        (AlertState.OPEN, Severity.HIGH, "")
    ledger.assign_alert("as", alert_id, "head", "analyst-1", at=T0 + hours(3))
    assert [a.id for a in ledger.list_alerts(assignee="analyst-1")] == [alert_id]
    assert ledger.list_alerts(assignee="analyst-2") == []
    ledger.set_alert_severity("sev", alert_id, "analyst-1", "CRITICAL", "repeat pattern",
                              at=T0 + hours(3))
    ledger.escalate_alert("esc", alert_id, "analyst-1", "FIU liaison", "file an STR",
                          at=T0 + hours(4))
    assert [a.id for a in ledger.list_alerts(state=AlertState.ESCALATED)] == [alert_id]
    alert = ledger.alerts.get_alert(alert_id)
    assert alert.severity is Severity.CRITICAL  # escalation never lowers it
    ledger.resolve_alert("res", alert_id, "head", "reported", at=T0 + hours(5),
                         str_reference="STR-2026-0001")
    assert ledger.list_alerts(state=AlertState.OPEN) == []
    with pytest.raises(RuleViolation) as caught:
        ledger.assign_alert("as2", alert_id, "head", "analyst-2", at=T0 + hours(5))
    assert caught.value.rule == "ALERT_ALREADY_RESOLVED"
    ledger.reopen_alert("re", alert_id, "head", "new evidence", at=T0 + hours(6))
    alert = ledger.alerts.get_alert(alert_id)
    assert alert.state is AlertState.OPEN and alert.str_reference == ""
    assert [s.action for s in alert.history] == [
        "ASSIGNED", "SEVERITY CRITICAL", "ESCALATED to FIU liaison", "RESOLVED", "REOPENED"]
    with pytest.raises(RuleViolation) as again:
        ledger.reopen_alert("re2", alert_id, "head", "twice", at=T0 + hours(6))
    assert again.value.rule == "ALERT_NOT_RESOLVED"
    # A retried command returns its first result and records nothing new.
    assert ledger.reopen_alert("re", alert_id, "head", "new evidence",
                               at=T0 + hours(6)).replayed


def test_bad_case_input_names_its_field(market: Market) -> None:
    alert_id = structuring(market)
    with pytest.raises(InvalidRequest) as caught:
        market.ledger.set_alert_severity("s", alert_id, "head", "URGENT", "n", at=T0)
    assert caught.value.field == "severity"
    with pytest.raises(InvalidRequest) as empty:
        market.ledger.resolve_alert("r", alert_id, "head", " ", at=T0 + hours(3))
    assert empty.value.field == "note"


def test_the_str_export_holds_the_case_its_transactions_and_parties(market: Market) -> None:
    alert_id = structuring(market)
    document = market.ledger.suspicious_transaction_report([alert_id], "head")
    report = json.loads(document)
    assert report["format"] == "valedger-str/1"
    [case] = report["cases"]
    assert case["kind"] == "STRUCTURING" and case["severity"] == "HIGH"
    assert sorted(t["value_usd"] for t in case["transactions"]) == ["999.99"] * 3
    assert {p["legal_name"] for p in case["parties"]} == {"buyer Ltd", "seller Ltd"}
    digest = report.pop("digest")
    canonical = json.dumps(report, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert digest == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    with pytest.raises(InvalidRequest):
        market.ledger.suspicious_transaction_report([], "head")


def test_alerts_start_at_a_severity_by_kind(ledger: Ledger) -> None:
    receipt = ledger.raise_alert("r", "OVER_CAPACITY", UUID(int=1), None, "m", [], {},
                                 at=START)
    assert ledger.alerts.get_alert(receipt.aggregate_id).severity is Severity.MEDIUM

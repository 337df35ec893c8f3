"""Alerts: raised by rules and reconciliations, worked as cases by the regulator
(assign, severity, escalate, resolve with a note, reopen), listed by state and assignee."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from ledger.clock import Clock
from ledger.commands import UseCase
from ledger.domain.alert import Alert, AlertState, Severity
from ledger.errors import InvalidRequest
from ledger.indexes import AlertIndex
from ledger.receipts import Receipt
from ledger.requests import REGULATOR, check_requester
from ledger.store import LedgerStore
from ledger.validation import check_request_id, check_text
from ledger.windows import WindowKind


def severity_of(value: str) -> Severity:
    """Returns the severity named ``value``; InvalidRequest naming ``severity``."""
    try:
        return Severity(value)
    except ValueError:
        raise InvalidRequest("severity", f"must be one of "
                             f"{', '.join(s.value for s in Severity)}, got {value[:20]!r}"
                             ) from None


class Alerts(UseCase):
    """Raises alerts, works them as cases and lists them."""

    def __init__(self, store: LedgerStore, clock: Clock, index: AlertIndex) -> None:
        super().__init__(store, clock)
        self.index = index

    def raise_alert(self, request_id: str, kind: str, subject_id: UUID,
                    participant_id: UUID | None, message: str, evidence: Iterable[str],
                    figures: dict[str, str], at: datetime | None = None,
                    requester: str = REGULATOR) -> Receipt:
        """Raises an alert about ``subject_id`` (idempotent per request, kind and subject)."""
        check_request_id(request_id)
        check_requester(requester)
        check_text("kind", kind, 100)
        check_text("message", message)
        refs = [check_text("evidence", ref, 200) for ref in evidence]
        stamp, when = self.begin("RaiseAlert", requester, request_id, at, None, kind=kind,
                                 subject_id=subject_id, message=message,
                                 participant_id=participant_id, evidence=refs,
                                 figures=figures)
        alert_id = Alert.create_id(requester, request_id, kind, subject_id)
        return self.create(stamp, request_id, Alert, alert_id, lambda: [Alert(
            request_id=request_id, at=when, kind=kind, subject_id=subject_id,
            participant_id=participant_id, message=message, evidence=refs,
            figures=dict(figures))])

    def assign_alert(self, request_id: str, alert_id: UUID, by: str, assignee: str,
                     at: datetime | None = None) -> Receipt:
        """Assigns an open alert to an analyst."""
        check_text("by", by, 200)
        check_text("assignee", assignee, 200)
        stamp, when = self.begin("AssignAlert", REGULATOR, request_id, at,
                                 WindowKind.REGULATOR, alert_id=alert_id, by=by,
                                 assignee=assignee)
        return self.mutate(stamp, request_id, alert_id, Alert, "alert",
                           lambda alert: alert.assign(request_id=request_id, at=when, by=by,
                                                      assignee=assignee.strip()))

    def set_severity(self, request_id: str, alert_id: UUID, by: str, severity: str,
                     note: str, at: datetime | None = None) -> Receipt:
        """Sets an open alert's severity (LOW, MEDIUM, HIGH, CRITICAL) with a note."""
        check_text("by", by, 200)
        level = severity_of(severity)
        check_text("note", note)
        stamp, when = self.begin("SetAlertSeverity", REGULATOR, request_id, at,
                                 WindowKind.REGULATOR, alert_id=alert_id, by=by,
                                 severity=severity, note=note)
        return self.mutate(stamp, request_id, alert_id, Alert, "alert",
                           lambda alert: alert.set_severity(request_id=request_id, at=when,
                                                            by=by, severity=level, note=note))

    def escalate_alert(self, request_id: str, alert_id: UUID, by: str, to: str, note: str,
                       at: datetime | None = None) -> Receipt:
        """Escalates an open alert to ``to`` with a note (severity HIGH at least)."""
        check_text("by", by, 200)
        check_text("to", to, 200)
        check_text("note", note)
        stamp, when = self.begin("EscalateAlert", REGULATOR, request_id, at,
                                 WindowKind.REGULATOR, alert_id=alert_id, by=by, to=to,
                                 note=note)
        return self.mutate(stamp, request_id, alert_id, Alert, "alert",
                           lambda alert: alert.escalate(request_id=request_id, at=when, by=by,
                                                        to=to.strip(), note=note))

    def resolve_alert(self, request_id: str, alert_id: UUID, by: str, note: str,
                      at: datetime | None = None, str_reference: str = "") -> Receipt:
        """Resolves an open alert with a note (and the reference of the
        suspicious-transaction report filed, if any)."""
        check_request_id(request_id)
        check_text("by", by, 200)
        check_text("note", note)
        if str_reference:
            check_text("str_reference", str_reference, 200)
        stamp, when = self.begin("ResolveAlert", REGULATOR, request_id, at,
                                 WindowKind.REGULATOR, alert_id=alert_id, by=by, note=note,
                                 str_reference=str_reference)
        return self.mutate(stamp, request_id, alert_id, Alert, "alert",
                           lambda alert: alert.resolve(request_id=request_id, at=when, by=by,
                                                       note=note,
                                                       str_reference=str_reference.strip()))

    def reopen_alert(self, request_id: str, alert_id: UUID, by: str, note: str,
                     at: datetime | None = None) -> Receipt:
        """Reopens a resolved alert with the reason."""
        check_text("by", by, 200)
        check_text("note", note)
        stamp, when = self.begin("ReopenAlert", REGULATOR, request_id, at,
                                 WindowKind.REGULATOR, alert_id=alert_id, by=by, note=note)
        return self.mutate(stamp, request_id, alert_id, Alert, "alert",
                           lambda alert: alert.reopen(request_id=request_id, at=when, by=by,
                                                      note=note))

    def list_alerts(self, open_only: bool = False, participant_id: UUID | None = None,
                    state: AlertState | None = None, assignee: str | None = None
                    ) -> list[Alert]:
        """Returns alerts in the order they were raised, filtered by openness,
        participant, state and assignee ("" for unassigned)."""
        found = self.store.read_many(self.index.all_ids())
        alerts = [a for a in found.values() if isinstance(a, Alert)]
        return [a for a in alerts
                if (not open_only or a.is_open)
                and (participant_id is None or a.participant_id == participant_id)
                and (state is None or a.state is state)
                and (assignee is None or a.assignee == assignee)]

    def get_alert(self, alert_id: UUID) -> Alert:
        """Returns a private copy of an alert, or raises NotFound."""
        return self.store.get_typed(alert_id, Alert, "alert")

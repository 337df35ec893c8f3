"""Alert: a compliance finding with its evidence and figures, worked as a case: assigned,
given a severity, escalated, resolved with a note (and the suspicious-transaction report
it led to, if any), reopened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate, derived_id
from ledger.errors import RuleViolation


class Severity(Enum):
    """How urgent a case is, lowest first."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        """Returns the severity's place in the order LOW < MEDIUM < HIGH < CRITICAL."""
        return list(Severity).index(self)


class AlertState(Enum):
    """Where a case stands."""

    OPEN = "OPEN"
    ESCALATED = "ESCALATED"
    RESOLVED = "RESOLVED"


HIGH_KINDS = frozenset({"STRUCTURING", "SCREENING_HIT", "OFFSHORE_FOUNDER"})
"""Kinds of finding raised at HIGH severity (a confirmed screening hit: CRITICAL);
every other kind starts at MEDIUM."""


def initial_severity(kind: str, figures: dict[str, str]) -> Severity:
    """Returns the severity an alert of ``kind`` is raised with."""
    if kind == "SCREENING_HIT" and figures.get("confirmed") == "true":
        return Severity.CRITICAL
    return Severity.HIGH if kind in HIGH_KINDS else Severity.MEDIUM


@dataclass(frozen=True)
class CaseStep:
    """One step of a case's history: what was done, by whom, when, with what note."""

    action: str
    by: str
    at: datetime
    note: str


class Alert(LedgerAggregate):
    """Raised by a rule or a reconciliation; worked by the regulator's analysts.

    The command methods guard the case's lifecycle (an alert is assigned, escalated or
    given a severity only while open; resolved once until reopened; reopened only when
    resolved); relied on by ``ledger.alerts``, which decides and saves."""

    @staticmethod
    def create_id(requester: str, request_id: str, kind: str, subject_id: UUID) -> UUID:
        return derived_id("Alert", requester, request_id, kind, subject_id)

    @event("Raised")
    def __init__(
        self,
        request_id: str,
        at: datetime,
        kind: str,
        subject_id: UUID,
        participant_id: UUID | None,
        message: str,
        evidence: list[str],
        figures: dict[str, str],
    ) -> None:
        self.raised_at = at
        self.kind = kind
        self.subject_id = subject_id
        self.participant_id = participant_id
        self.message = message
        self.evidence = list(evidence)
        self.figures = dict(figures)
        self.severity = initial_severity(kind, self.figures)
        self.assignee = ""
        self.escalated_to = ""
        self.resolved_at: datetime | None = None
        self.resolved_by = ""
        self.resolution_note = ""
        self.str_reference = ""
        self.history: list[CaseStep] = []

    # ------------------------------------------------------------------ commands

    def assign(self, request_id: str, at: datetime, by: str, assignee: str) -> None:
        """Assigns the open case to an analyst."""
        self._require_open("assign")
        self._assign(request_id=request_id, at=at, by=by, assignee=assignee)

    def set_severity(self, request_id: str, at: datetime, by: str, severity: Severity,
                     note: str) -> None:
        """Sets the open case's severity, with the reason."""
        self._require_open("set the severity of")
        if severity is self.severity:
            raise RuleViolation("SEVERITY_UNCHANGED", f"alert {self.id} is {severity.value}")
        self._set_severity(request_id=request_id, at=at, by=by, severity=severity.value,
                           note=note)

    def escalate(self, request_id: str, at: datetime, by: str, to: str, note: str) -> None:
        """Escalates the open case to ``to`` (a senior officer, the FIU); its severity
        rises to HIGH at least."""
        self._require_open("escalate")
        severity = max(self.severity, Severity.HIGH, key=lambda s: s.rank)
        self._escalate(request_id=request_id, at=at, by=by, to=to, note=note,
                       severity=severity.value)

    def resolve(self, request_id: str, at: datetime, by: str, note: str,
                str_reference: str = "") -> None:
        """Resolves the case with a note (and the reference of the suspicious-transaction
        report filed, if one was); RuleViolation ALERT_ALREADY_RESOLVED."""
        if not self.is_open:
            raise RuleViolation("ALERT_ALREADY_RESOLVED", f"alert {self.id} is resolved")
        self._resolve(request_id=request_id, at=at, by=by, note=note,
                      str_reference=str_reference)

    def reopen(self, request_id: str, at: datetime, by: str, note: str) -> None:
        """Reopens a resolved case; RuleViolation ALERT_NOT_RESOLVED when it is open."""
        if self.is_open:
            raise RuleViolation("ALERT_NOT_RESOLVED", f"alert {self.id} is open")
        self._reopen(request_id=request_id, at=at, by=by, note=note)

    def _require_open(self, what: str) -> None:
        if not self.is_open:
            raise RuleViolation("ALERT_ALREADY_RESOLVED",
                                f"cannot {what} alert {self.id}: it is resolved (reopen it)")

    # -------------------------------------------------------------------- events

    @event("Assigned")
    def _assign(self, request_id: str, at: datetime, by: str, assignee: str) -> None:
        self.assignee = assignee
        self.history.append(CaseStep("ASSIGNED", by, at, assignee))

    @event("SeveritySet")
    def _set_severity(self, request_id: str, at: datetime, by: str, severity: str,
                      note: str) -> None:
        self.severity = Severity(severity)
        self.history.append(CaseStep(f"SEVERITY {severity}", by, at, note))

    @event("Escalated")
    def _escalate(self, request_id: str, at: datetime, by: str, to: str, note: str,
                  severity: str) -> None:
        self.escalated_to = to
        self.severity = Severity(severity)
        self.history.append(CaseStep(f"ESCALATED to {to}", by, at, note))

    @event("Resolved")
    def _resolve(self, request_id: str, at: datetime, by: str, note: str,
                 str_reference: str = "") -> None:
        self.resolved_at = at
        self.resolved_by = by
        self.resolution_note = note
        self.str_reference = str_reference
        self.history.append(CaseStep("RESOLVED", by, at, note))

    @event("Reopened")
    def _reopen(self, request_id: str, at: datetime, by: str, note: str) -> None:
        self.resolved_at = None
        self.resolved_by = ""
        self.resolution_note = ""
        self.str_reference = ""
        self.escalated_to = ""
        self.history.append(CaseStep("REOPENED", by, at, note))

    # ------------------------------------------------------------------- queries

    @property
    def is_open(self) -> bool:
        """Returns True until the alert is resolved (again after a reopening)."""
        return self.resolved_at is None

    @property
    def state(self) -> AlertState:
        """Returns OPEN, ESCALATED (open, escalated) or RESOLVED."""
        if not self.is_open:
            return AlertState.RESOLVED
        return AlertState.ESCALATED if self.escalated_to else AlertState.OPEN

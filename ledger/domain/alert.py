"""Alert: a compliance finding with its evidence and figures, until someone resolves it."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate, derived_id
from ledger.errors import RuleViolation


class Alert(LedgerAggregate):
    """Raised by a rule or a reconciliation; resolved by the regulator with a note."""

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
        self.resolved_at: datetime | None = None
        self.resolved_by = ""
        self.resolution_note = ""

    def resolve(self, request_id: str, at: datetime, by: str, note: str) -> None:
        """Resolves the alert with a note; RuleViolation ALERT_ALREADY_RESOLVED."""
        if not self.is_open:
            raise RuleViolation("ALERT_ALREADY_RESOLVED", f"alert {self.id} is resolved")
        self._resolve(request_id=request_id, at=at, by=by, note=note)

    @event("Resolved")
    def _resolve(self, request_id: str, at: datetime, by: str, note: str) -> None:
        self.resolved_at = at
        self.resolved_by = by
        self.resolution_note = note

    @property
    def is_open(self) -> bool:
        """Returns True until the alert is resolved."""
        return self.resolved_at is None

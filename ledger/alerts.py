"""Alerts: raised by rules and reconciliations, resolved by the regulator."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from ledger.clock import Clock
from ledger.commands import UseCase
from ledger.domain.alert import Alert
from ledger.indexes import AlertIndex
from ledger.receipts import Receipt
from ledger.requests import REGULATOR, check_requester
from ledger.store import LedgerStore
from ledger.validation import check_request_id, check_text
from ledger.windows import WindowKind


class Alerts(UseCase):
    """Raises, resolves and lists alerts."""

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

    def resolve_alert(self, request_id: str, alert_id: UUID, by: str, note: str,
                      at: datetime | None = None) -> Receipt:
        """Resolves an open alert with a note."""
        check_request_id(request_id)
        check_text("by", by, 200)
        check_text("note", note)
        stamp, when = self.begin("ResolveAlert", REGULATOR, request_id, at,
                                 WindowKind.REGULATOR, alert_id=alert_id, by=by, note=note)
        return self.mutate(stamp, request_id, alert_id, Alert, "alert",
                           lambda alert: alert.resolve(request_id=request_id, at=when, by=by,
                                                       note=note))

    def list_alerts(self, open_only: bool = False,
                    participant_id: UUID | None = None) -> list[Alert]:
        """Returns alerts in the order they were raised."""
        found = self.store.read_many(self.index.all_ids())
        alerts = [a for a in found.values() if isinstance(a, Alert)]
        return [a for a in alerts
                if (not open_only or a.is_open)
                and (participant_id is None or a.participant_id == participant_id)]

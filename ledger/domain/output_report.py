"""OutputReport: what a licensed miner says it mined in a period, and where it went."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate, derived_id
from ledger.domain.envelope import Envelope, EnvelopeRecord, from_record


class OutputReport(LedgerAggregate):
    """One report of mined output for a licence and period."""

    @staticmethod
    def create_id(requester: str, request_id: str) -> UUID:
        return derived_id("OutputReport", requester, request_id)

    @event("Reported")
    def __init__(
        self,
        request_id: str,
        at: datetime,
        licence_id: UUID,
        participant_id: UUID,
        period_start: datetime,
        period_end: datetime,
        asset: str,
        amount: Decimal,
        wallets: list[str],
        sold_through_exchange: Decimal,
        envelope: EnvelopeRecord | None = None,
    ) -> None:
        self.reported_at = at
        self.licence_id = licence_id
        self.participant_id = participant_id
        self.period_start = period_start
        self.period_end = period_end
        self.asset = asset
        self.amount = amount
        self.wallets = list(wallets)
        self.sold_through_exchange = sold_through_exchange
        self.envelope_record = dict(envelope or {})

    @property
    def envelope(self) -> Envelope | None:
        """Returns the signed envelope the report came in, or None."""
        return from_record(self.envelope_record)

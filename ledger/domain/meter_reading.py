"""MeterReading: energy a mining site drew in a period, as the grid operator metered it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate, derived_id


class MeterReading(LedgerAggregate):
    """One reading of a site meter over a period."""

    @staticmethod
    def create_id(requester: str, request_id: str) -> UUID:
        return derived_id("MeterReading", requester, request_id)

    @event("Recorded")
    def __init__(
        self,
        request_id: str,
        at: datetime,
        meter_id: str,
        licence_id: UUID,
        period_start: datetime,
        period_end: datetime,
        kwh: Decimal,
    ) -> None:
        self.read_at = at
        self.meter_id = meter_id
        self.licence_id = licence_id
        self.period_start = period_start
        self.period_end = period_end
        self.kwh = kwh

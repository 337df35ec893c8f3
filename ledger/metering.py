"""Meter readings: energy a mining site drew, as the grid operator metered it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from eventsourcing.domain import Aggregate

from ledger.clock import Clock
from ledger.commands import UseCase
from ledger.domain.base import Stamp
from ledger.domain.meter_reading import MeterReading
from ledger.errors import NotFound
from ledger.indexes import LicenceIndex
from ledger.receipts import Receipt
from ledger.requests import GRID, check_requester, digest_of
from ledger.store import LedgerStore
from ledger.validation import (
    check_after,
    check_request_id,
    check_text,
    event_time,
    non_negative,
    required_time,
)
from ledger.windows import WindowKind, check_window


class MeterReadings(UseCase):
    """Records site meter readings against the licence the meter belongs to."""

    def __init__(self, store: LedgerStore, clock: Clock, licences: LicenceIndex) -> None:
        super().__init__(store, clock)
        self.licences = licences

    def record_meter_reading(self, request_id: str, meter_id: str, period_start: datetime,
                             period_end: datetime, kwh: Decimal | str,
                             at: datetime | None = None, requester: str = GRID) -> Receipt:
        """Records a site meter reading; the meter must belong to a mining licence."""
        check_request_id(request_id)
        check_requester(requester)
        check_text("meter_id", meter_id, 200)
        start = required_time(period_start, "period_start")
        end = required_time(period_end, "period_end")
        check_after("period_end", end, start)
        energy = non_negative("kwh", kwh)
        recorded_at = self.clock()
        when = event_time(at, recorded_at)
        digest = digest_of("RecordMeterReading", {
            "request_id": request_id, "meter_id": meter_id, "period_start": start,
            "period_end": end, "kwh": energy, "at": at})
        stamp = Stamp(requester, digest, recorded_at)

        def build() -> list[Aggregate]:
            check_window(WindowKind.METER_READING, when, recorded_at,
                         self.store.policy_at(recorded_at))
            licence_id = self.licences.licence_for_meter(meter_id)
            if licence_id is None:
                raise NotFound("meter", meter_id)
            return [MeterReading(request_id=request_id, at=when, meter_id=meter_id,
                                 licence_id=licence_id, period_start=start, period_end=end,
                                 kwh=energy)]

        return self.create(stamp, request_id, MeterReading,
                           MeterReading.create_id(requester, request_id), build)

"""Meter readings: energy a mining site drew, as the grid operator metered it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from eventsourcing.domain import Aggregate

from ledger.clock import Clock
from ledger.commands import UseCase
from ledger.domain.meter_reading import MeterReading
from ledger.errors import NotFound
from ledger.indexes import LicenceIndex
from ledger.receipts import Receipt
from ledger.requests import GRID, check_requester
from ledger.store import LedgerStore
from ledger.validation import (
    check_after,
    check_request_id,
    check_text,
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
        start = required_time(period_start, "period.start_time")
        end = required_time(period_end, "period.end_time")
        check_after("period.end_time", end, start)
        energy = non_negative("kwh", kwh)
        stamp, when = self.begin("RecordMeterReading", requester, request_id, at, None,
                                 meter_id=meter_id, period_start=start, period_end=end,
                                 kwh=energy)
        recorded_at = stamp.recorded_at

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

"""Meter readings: energy a mining site drew, as the grid operator metered it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from ledger.attempts import keep_refusal, sent_text
from ledger.clock import Clock
from ledger.commands import UseCase
from ledger.domain.alert import Alert
from ledger.domain.base import Stamp, derived_id
from ledger.domain.licence import MiningLicence
from ledger.domain.meter_reading import MeterReading
from ledger.domain.participant import Participant
from ledger.errors import InvalidRequest, NotFound, RuleViolation, amount
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
    """Records site meter readings against the licence the meter was bound to.

    A reading is the grid operator's measurement of a fact: energy a site drew. It is
    recorded whatever the licence's standing, against the licence that bound the meter
    at the period's start (or the last one before it); when that licence or its holder
    was not active for some of the period (revoked, expired, suspended, not yet valid)
    the reading is recorded *and* a LICENCE_NOT_ACTIVE alert keeps its figures. A
    reading refused outright (bad figures, time outside its window, a meter no licence
    ever named) is kept on the record by ``ledger.attempts``.
    """

    def __init__(self, store: LedgerStore, clock: Clock, licences: LicenceIndex) -> None:
        super().__init__(store, clock)
        self.licences = licences

    def record_meter_reading(self, request_id: str, meter_id: str, period_start: datetime,
                             period_end: datetime, kwh: Decimal | str,
                             at: datetime | None = None, requester: str = GRID) -> Receipt:
        """Records a site meter reading; the meter must belong to a mining licence."""
        check_request_id(request_id)
        check_requester(requester)
        sent = {"meter_id": meter_id, "period.start_time": period_start,
                "period.end_time": period_end, "kwh": kwh, "at": at or ""}
        subject = meter_subject(meter_id)
        try:
            check_text("meter_id", meter_id, 200)
            start = required_time(period_start, "period.start_time")
            end = required_time(period_end, "period.end_time")
            check_after("period.end_time", end, start)
            energy = non_negative("kwh", kwh)
        except InvalidRequest as bad:
            stamp, when = self.begin("RefusedMeterReading", requester, request_id,
                                     at if isinstance(at, datetime) else None, None,
                                     sent={k: sent_text(v) for k, v in sent.items()})
            self.keep(stamp, request_id, when, subject, bad, sent)
            raise
        stamp, when = self.begin("RecordMeterReading", requester, request_id, at, None,
                                 meter_id=meter_id, period_start=start, period_end=end,
                                 kwh=energy)
        recorded_at = stamp.recorded_at
        reading_id = MeterReading.create_id(requester, request_id)

        def attempt() -> Receipt:
            existing = self.store.find(reading_id)
            if existing is not None:
                if not isinstance(existing, MeterReading):
                    raise InvalidRequest("request_id", "already used for another command")
                existing.version_of_request(requester, request_id, stamp.digest)
                return Receipt(reading_id, 1, replayed=True)
            try:
                check_window(WindowKind.METER_READING, when, recorded_at,
                             self.store.policy_at(recorded_at))
                licence = self.licence_at(meter_id, start)
            except RuleViolation as refusal:
                keep_refusal(self.store, requester, request_id, when, "meter reading",
                             subject, None, refusal, sent)
                if refusal.rule == "METER_NOT_LICENSED":
                    raise NotFound("meter", meter_id) from None
                raise
            reading = MeterReading(request_id=request_id, at=when, meter_id=meter_id,
                                   licence_id=licence.id, period_start=start,
                                   period_end=end, kwh=energy)
            why = self.not_active(licence, start, end)
            alert = None if why is None else Alert(
                request_id=request_id, at=when, kind="LICENCE_NOT_ACTIVE",
                subject_id=licence.id, participant_id=licence.participant_id,
                message=f"meter {meter_id!r} drew {amount(energy)} kWh from "
                        f"{start.isoformat()} to {end.isoformat()} while licence "
                        f"{licence.id} {why}",
                evidence=[f"{reading_id}:1"],
                figures={"meter_id": meter_id, "kwh": amount(energy),
                         "period_start": start.isoformat(), "period_end": end.isoformat(),
                         "licence": str(licence.id), "why": why})
            self.store.save(reading, alert)
            return Receipt(reading_id, 1)

        return self.run(stamp, attempt)

    def keep(self, stamp: Stamp, request_id: str, when: datetime, subject: UUID,
             refusal: InvalidRequest, sent: dict[str, object]) -> None:
        """Keeps a reading refused for its figures on the record (``keep_refusal``)."""
        self.run(stamp, lambda: keep_refusal(self.store, stamp.requester, request_id, when,
                                             "meter reading", subject, None, refusal, sent))

    def licence_at(self, meter_id: str, start: datetime) -> MiningLicence:
        """Returns the licence that bound the meter at ``start``: the one whose term
        covers it, else the last granted before it, else the first; RuleViolation
        METER_NOT_LICENSED when no licence ever named the meter."""
        found = [self.store.read_typed(i, MiningLicence, "mining licence")
                 for i in self.licences.licences_for_meter(meter_id)]
        if not found:
            raise RuleViolation("METER_NOT_LICENSED",
                                f"no mining licence names meter {meter_id!r}",
                                {"meter_id": meter_id})
        for licence in found:
            if licence.valid_from <= start < licence.term_end():
                return licence
        before = [lic for lic in found if lic.valid_from <= start]
        return max(before, key=lambda lic: lic.valid_from) if before else found[0]

    def not_active(self, licence: MiningLicence, start: datetime,
                   end: datetime) -> str | None:
        """Returns why the licence or its holder was not active for some of [start, end),
        or None when both were active throughout."""
        if start < licence.valid_from:
            return f"was not yet valid before {licence.valid_from.isoformat()}"
        if licence.revoked_at is not None and licence.revoked_at < end:
            return f"was revoked on {licence.revoked_at.isoformat()}"
        if licence.valid_until < end:
            return f"expired on {licence.valid_until.isoformat()}"
        for span_start, span_end in licence.suspensions.spans:
            if span_start < end and (span_end is None or start < span_end):
                return f"was suspended from {span_start.isoformat()}"
        holder = self.store.read_typed(licence.participant_id, Participant, "participant")
        if holder.deregistered_at is not None and holder.deregistered_at < end:
            return f"belongs to a holder deregistered on {holder.deregistered_at.isoformat()}"
        for span_start, span_end in holder.suspensions.spans:
            if span_start < end and (span_end is None or start < span_end):
                return f"belongs to a holder suspended from {span_start.isoformat()}"
        return None


def meter_subject(meter_id: object) -> UUID:
    """Returns the id refusals of a meter's readings are filed under when no licence is
    known: derived from the meter id as sent."""
    return derived_id("Meter", sent_text(meter_id))

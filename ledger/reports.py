"""Output reports: what a miner says it mined in a period, in a signed envelope.

Reports are monthly obligations: ``ledger.supervision`` raises REPORT_MISSING when a
calendar month of an active licence is not covered by reports recorded by the policy due
day of the next month. Any period may be reported (several reports may cover a month).
A licence that expired may still report periods of its term until the deadline of its
last month (``OutputReports.reporting_holder``): otherwise every term's last month would
be missing by construction. A revoked licence never reports again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from ledger.attempts import envelope_figures, keep_refusal, sent_text
from ledger.clock import Clock
from ledger.commands import UseCase
from ledger.domain.alert import Alert
from ledger.domain.envelope import Envelope
from ledger.domain.licence import MiningLicence
from ledger.domain.output_report import OutputReport
from ledger.domain.participant import Participant
from ledger.errors import InvalidRequest, RuleViolation, amount
from ledger.keys import EnvelopeVerifier
from ledger.receipts import Receipt
from ledger.requests import participant_requester
from ledger.standing import licensed_holder
from ledger.store import LedgerStore
from ledger.supervision import month_start, next_month, report_deadline
from ledger.validation import (
    check_after,
    check_request_id,
    check_text,
    non_negative,
    required_time,
)
from ledger.windows import WindowKind

MAX_WALLETS = 100


class OutputReports(UseCase):
    """Records miners' output reports; a sale share below policy raises an alert."""

    def __init__(self, store: LedgerStore, clock: Clock, envelopes: EnvelopeVerifier) -> None:
        super().__init__(store, clock)
        self.envelopes = envelopes

    def report_output(self, request_id: str, licence_id: UUID, period_start: datetime,
                      period_end: datetime, asset: str, amount_mined: Decimal | str,
                      wallets: Iterable[str], sold_through_exchange: Decimal | str,
                      at: datetime | None = None,
                      envelope: Envelope | None = None) -> Receipt:
        """Records a miner's output report; returns its receipt.

        ``envelope`` is the signed report as the miner sent it: checked by
        ``EnvelopeVerifier`` (key valid at ``at`` and when recorded) and stored. The licence
        and its holder must be active at both times and ``at`` within the report window.
        A refusal (bad figures, a rule, a key or signature) is raised after it is kept on
        the record with everything sent (``ledger.attempts``).
        """
        check_request_id(request_id)
        if not isinstance(licence_id, UUID):
            raise InvalidRequest("licence_id", "must be a UUID")
        if envelope is not None and not isinstance(envelope, Envelope):
            raise InvalidRequest("envelope", "must be an Envelope")
        holder_id = self.store.read_typed(licence_id, MiningLicence,
                                          "mining licence").participant_id
        requester = participant_requester(holder_id)
        sent = {"licence_id": licence_id, "period.start_time": period_start,
                "period.end_time": period_end, "asset": asset, "amount": amount_mined,
                "wallets": wallets if isinstance(wallets, str) else list(wallets),
                "sold_through_exchange_amount": sold_through_exchange, "at": at or ""}
        try:
            fields = checked_report(period_start, period_end, asset, amount_mined,
                                    sent["wallets"], sold_through_exchange)
        except InvalidRequest as bad:
            self.keep(request_id, requester, holder_id, licence_id, at, bad, sent, envelope)
            raise
        start, end, mined, sold, wallet_list = fields
        stamp, when = self.begin("ReportOutput", requester, request_id, at, None,
                                 licence_id=licence_id, period_start=start, period_end=end,
                                 asset=asset, amount=mined, wallets=wallet_list,
                                 sold_through_exchange=sold)
        recorded_at, digest = stamp.recorded_at, stamp.digest
        report_id = OutputReport.create_id(requester, request_id)
        alert_id = Alert.create_id(requester, request_id, "SALE_SHARE_SHORTFALL", report_id)

        def attempt() -> Receipt:
            alert = self.store.find(alert_id)
            if isinstance(alert, Alert):  # the first attempt was refused: refuse again
                alert.version_of_request(requester, request_id, digest)
                raise RuleViolation("SALE_SHARE_SHORTFALL", alert.message, {
                    k: v for k, v in alert.figures.items()
                    if not k.startswith(("sent.", "envelope."))})
            existing = self.store.find(report_id)
            if existing is not None:
                existing.version_of_request(requester, request_id, digest)
                return Receipt(report_id, 1, replayed=True)
            try:
                licence, holder = self.reporting_holder(licence_id, start, end, when,
                                                        recorded_at)
                if envelope is not None:
                    self.envelopes.require(envelope, holder, when, recorded_at)
            except RuleViolation as refusal:
                keep_refusal(self.store, requester, request_id, when, "output report",
                             licence_id, holder_id, refusal, sent, envelope)
                raise
            share = self.store.policy_at(when).decimal("mandatory_sale_share")
            required = mined * share
            if sold < required:
                figures = {"amount": amount(mined), "sold_through_exchange": amount(sold),
                           "required_share": amount(share), "required": amount(required)}
                message = (f"mandatory sale share {amount(share * 100)}% not met: sold "
                           f"{amount(sold)} of {amount(mined)} {asset} through exchanges, "
                           f"{amount(required)} required")
                kept = {f"sent.{k}": sent_text(v) for k, v in sent.items()}
                self.store.save(Alert(request_id=request_id, at=when,
                                      kind="SALE_SHARE_SHORTFALL", subject_id=report_id,
                                      participant_id=licence.participant_id, message=message,
                                      evidence=[], figures=figures | kept
                                      | envelope_figures(envelope)))
                raise RuleViolation("SALE_SHARE_SHORTFALL", message, figures)
            self.store.save(OutputReport(
                request_id=request_id, at=when, licence_id=licence_id,
                participant_id=licence.participant_id, period_start=start, period_end=end,
                asset=asset, amount=mined, wallets=wallet_list, sold_through_exchange=sold,
                envelope={} if envelope is None else envelope.to_record()))
            return Receipt(report_id, 1)

        return self.run(stamp, attempt)

    def reporting_holder(self, licence_id: UUID, start: datetime, end: datetime,
                         when: datetime, recorded_at: datetime
                         ) -> tuple[MiningLicence, Participant]:
        """Returns the licence and its holder when they may report ``[start, end)`` now:
        in standing at both times (``licensed_holder``), or, for a licence whose term
        ended by expiry (not revocation), a report of a period inside the term until the
        report deadline of the term's last month, the holder still in standing (a term's
        last month can only be reported after it ends). Raises the refusal otherwise."""
        try:
            return licensed_holder(self.store, WindowKind.OUTPUT_REPORT, licence_id,
                                   MiningLicence, when, recorded_at, "mining licence")
        except RuleViolation as refusal:
            licence = self.store.read_typed(licence_id, MiningLicence, "mining licence")
            if refusal.rule != "LICENCE_NOT_ACTIVE" or licence.revoked_at is not None \
                    or not licence.valid_until <= when <= recorded_at \
                    or not licence.valid_from <= start < end <= licence.valid_until:
                raise
            last_month = month_start(licence.valid_until - timedelta(microseconds=1))
            due_day = int(self.store.policy_at(next_month(last_month)
                                               - timedelta(microseconds=1))
                          .decimal("output_report_due_day"))
            if recorded_at >= report_deadline(last_month, due_day):
                raise
            holder = self.store.read_typed(licence.participant_id, Participant,
                                           "participant")
            holder.require_standing(when, recorded_at)
            return licence, holder

    def keep(self, request_id: str, requester: str, holder_id: UUID, licence_id: UUID,
             at: datetime | None, refusal: InvalidRequest, sent: dict[str, object],
             envelope: Envelope | None) -> None:
        """Keeps a report refused for its figures on the record (``keep_refusal``)."""
        stamp, when = self.begin("RefusedOutputReport", requester, request_id,
                                 at if isinstance(at, datetime) else None, None,
                                 sent={k: sent_text(v) for k, v in sent.items()})
        self.run(stamp, lambda: keep_refusal(self.store, requester, request_id, when,
                                             "output report", licence_id, holder_id,
                                             refusal, sent, envelope))


def checked_report(period_start: datetime, period_end: datetime, asset: str,
                   amount_mined: Decimal | str, wallets: object,
                   sold_through_exchange: Decimal | str
                   ) -> tuple[datetime, datetime, Decimal, Decimal, list[str]]:
    """Returns the checked period, amount mined, amount sold and wallets of a report;
    raises InvalidRequest naming the field."""
    start = required_time(period_start, "period.start_time")
    end = required_time(period_end, "period.end_time")
    check_after("period.end_time", end, start)
    check_text("asset", asset, 20)
    mined = non_negative("amount", amount_mined)
    sold = non_negative("sold_through_exchange_amount", sold_through_exchange)
    if sold > mined:
        raise InvalidRequest("sold_through_exchange_amount",
                             f"{amount(sold)} is more than the amount mined {amount(mined)}")
    if isinstance(wallets, str) or not isinstance(wallets, list):
        raise InvalidRequest("wallets", "must be a list of wallet addresses")
    wallet_list = [check_text("wallets", w, 200) for w in wallets]
    if len(wallet_list) > MAX_WALLETS:
        raise InvalidRequest("wallets", f"at most {MAX_WALLETS} entries")
    return start, end, mined, sold, wallet_list

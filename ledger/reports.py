"""Output reports: what a miner says it mined in a period, in a signed envelope.

The report's ``sold_through_exchange`` is kept as the miner's statement only: whether the
mandatory sale share was met is judged by the reconciliation from the trades the ledger
recorded with the miner as seller (SALE_SHARE_SHORTFALL, ``ledger.reconciliations``), so
a report is never refused for what it claims was sold.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from ledger.clock import Clock
from ledger.commands import UseCase
from ledger.domain.envelope import Envelope
from ledger.domain.licence import MiningLicence
from ledger.domain.output_report import OutputReport
from ledger.errors import InvalidRequest, amount
from ledger.keys import EnvelopeVerifier
from ledger.receipts import Receipt
from ledger.requests import participant_requester
from ledger.standing import licensed_holder
from ledger.store import LedgerStore
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
    """Records miners' output reports."""

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
        """
        check_request_id(request_id)
        if not isinstance(licence_id, UUID):
            raise InvalidRequest("licence_id", "must be a UUID")
        start = required_time(period_start, "period.start_time")
        end = required_time(period_end, "period.end_time")
        check_after("period.end_time", end, start)
        check_text("asset", asset, 20)
        mined = non_negative("amount", amount_mined)
        sold = non_negative("sold_through_exchange_amount", sold_through_exchange)
        if sold > mined:
            raise InvalidRequest("sold_through_exchange_amount",
                                 f"{amount(sold)} is more than the amount mined {amount(mined)}")
        if isinstance(wallets, str):
            raise InvalidRequest("wallets", "must be a list of wallet addresses")
        wallet_list = [check_text("wallets", w, 200) for w in wallets]
        if len(wallet_list) > MAX_WALLETS:
            raise InvalidRequest("wallets", f"at most {MAX_WALLETS} entries")
        if envelope is not None and not isinstance(envelope, Envelope):
            raise InvalidRequest("envelope", "must be an Envelope")
        holder_id = self.store.read_typed(licence_id, MiningLicence,
                                          "mining licence").participant_id
        requester = participant_requester(holder_id)
        stamp, when = self.begin("ReportOutput", requester, request_id, at, None,
                                 licence_id=licence_id, period_start=start, period_end=end,
                                 asset=asset, amount=mined, wallets=wallet_list,
                                 sold_through_exchange=sold)
        recorded_at, digest = stamp.recorded_at, stamp.digest
        report_id = OutputReport.create_id(requester, request_id)

        def attempt() -> Receipt:
            existing = self.store.find(report_id)
            if existing is not None:
                existing.version_of_request(requester, request_id, digest)
                return Receipt(report_id, 1, replayed=True)
            licence, holder = licensed_holder(self.store, WindowKind.OUTPUT_REPORT,
                                              licence_id, MiningLicence, when, recorded_at,
                                              "mining licence")
            if envelope is not None:
                self.envelopes.require(envelope, holder, when, recorded_at)
            self.store.save(OutputReport(
                request_id=request_id, at=when, licence_id=licence_id,
                participant_id=licence.participant_id, period_start=start, period_end=end,
                asset=asset, amount=mined, wallets=wallet_list, sold_through_exchange=sold,
                envelope={} if envelope is None else envelope.to_record()))
            return Receipt(report_id, 1)

        return self.run(stamp, attempt)

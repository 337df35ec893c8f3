"""Pools: the regulator's registry of accredited mining pools (DESIGN §5).

:class:`Pools` records ``MiningPool.Registered``; a mining licence in mode POOL names one
(checked by ``ledger.licensing``) and reconciliation reads its payout scheme and fee
(``ledger.reconciliations``, and the audit replay).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.clock import Clock
from ledger.commands import UseCase
from ledger.domain.pool import PAYOUT_SCHEMES, MiningPool
from ledger.errors import InvalidRequest
from ledger.indexes import PoolIndex
from ledger.receipts import Receipt
from ledger.requests import REGULATOR
from ledger.store import LedgerStore
from ledger.validation import check_country, check_text, non_negative
from ledger.windows import WindowKind


class Pools(UseCase):
    """Accredits mining pools and lists them."""

    def __init__(self, store: LedgerStore, clock: Clock, pools: PoolIndex) -> None:
        super().__init__(store, clock)
        self.pools = pools

    def register(self, request_id: str, name: str, country: str, payout_scheme: str,
                 fee: Decimal | str, at: datetime | None = None) -> Receipt:
        """Accredits a pool; returns its receipt (id derived from the request).
        InvalidRequest names ``payout_scheme`` (PPS, FPPS or PPLNS) or ``fee`` (a
        fraction, 0 ≤ fee < 1)."""
        check_text("name", name)
        check_country("country", country)
        if payout_scheme not in PAYOUT_SCHEMES:
            raise InvalidRequest("payout_scheme", f"must be one of {', '.join(PAYOUT_SCHEMES)}"
                                 f", got {str(payout_scheme)[:20]!r}")
        share = non_negative("fee", fee)
        if share >= 1:
            raise InvalidRequest("fee", f"a fraction below 1 (0.02 is 2%), got {share}")
        stamp, when = self.begin("RegisterPool", REGULATOR, request_id, at,
                                 WindowKind.REGULATOR, name=name, country=country,
                                 payout_scheme=payout_scheme, fee=share)

        def build() -> list[Aggregate]:
            return [MiningPool(request_id=request_id, at=when, name=name.strip(),
                               country=country, payout_scheme=payout_scheme, fee=share)]

        return self.create(stamp, request_id, MiningPool,
                           MiningPool.create_id(REGULATOR, request_id), build)

    def list(self) -> list[UUID]:
        """Returns the ids of every accredited pool, in registration order."""
        return self.pools.all_ids()

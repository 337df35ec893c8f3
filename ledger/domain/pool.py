"""MiningPool: a mining pool the regulator accredited, with its payout scheme and fee.

A pool licence (``MiningLicence`` in mode POOL) names one; reconciliation compares the
pool miner's reported output with the expected value of its proved work net of the fee.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate, derived_id

PAYOUT_SCHEMES = ("PPS", "FPPS", "PPLNS")
"""Pay per share (subsidy only), full pay per share (subsidy and fees), pay per last N
shares (block rewards as the pool finds them)."""


class MiningPool(LedgerAggregate):
    """An accredited mining pool: its name, country, payout scheme and fee (a fraction
    of the miner's earnings, 0 ≤ fee < 1)."""

    @staticmethod
    def create_id(requester: str, request_id: str) -> UUID:
        return derived_id("MiningPool", requester, request_id)

    @event("Registered")
    def __init__(self, request_id: str, at: datetime, name: str, country: str,
                 payout_scheme: str, fee: Decimal) -> None:
        self.name = name
        self.country = country
        self.payout_scheme = payout_scheme
        self.fee = fee
        self.registered_at = at

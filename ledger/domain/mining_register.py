"""MiningRegister: the national register of what mining licences hold alone (their meter,
their coinbase tags), one entry per grant or renewal.

One aggregate for the ledger. Every grant and renewal of a mining licence records its
binding here in the same transaction as the licence, so two of them deciding at the same
time collide on the register's version: the second is decided again and then sees the
first (``ledger.licensing`` retries; ``ledger.licence_bindings`` owns the rules they
check). Grants are rare regulatory acts, so serialising them costs nothing that matters.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate, derived_id

MINING_REGISTER_ID = derived_id("MiningRegister", "national")
"""The one MiningRegister aggregate of the ledger."""


class MiningRegister(LedgerAggregate):
    """How many bindings were recorded, and the last licence bound (the events keep every
    binding: licence, meter and tags)."""

    @staticmethod
    def create_id() -> UUID:
        return MINING_REGISTER_ID

    @event("Created")
    def __init__(self) -> None:
        self.bindings = 0
        self.last_licence: UUID | None = None

    @event("Bound")
    def bind(self, request_id: str, at: datetime, licence_id: UUID, meter_id: str,
             coinbase_tags: list[str]) -> None:
        """Records that ``licence_id`` holds ``meter_id`` and ``coinbase_tags`` (checked
        free by the caller, inside the same decision)."""
        self.bindings += 1
        self.last_licence = licence_id

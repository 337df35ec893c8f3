"""TradeClaim: an exchange's own trade id, claimed by the one trade recorded under it.

An exchange trade id is unique per exchange licence (DESIGN §3): the claim's id is
derived from (licence, exchange trade id), so a second trade naming the same id conflicts
with the first in the store, however the two requests race. Relied on by
``ledger.trading``, which creates the claim with each recorded trade.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate, derived_id


class TradeClaim(LedgerAggregate):
    """The trade that holds one exchange trade id of one licence."""

    @staticmethod
    def create_id(exchange_licence_id: UUID, exchange_trade_id: str) -> UUID:
        return derived_id("TradeClaim", exchange_licence_id, exchange_trade_id)

    @event("Claimed")
    def __init__(self, exchange_licence_id: UUID, exchange_trade_id: str,
                 trade_id: UUID) -> None:
        self.exchange_licence_id = exchange_licence_id
        self.exchange_trade_id = exchange_trade_id
        self.trade_id = trade_id

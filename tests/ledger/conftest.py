"""Fixtures of the ledger tests: a fresh Ledger on each store, and a small market on it.

The market has three approved participants (an exchange, a buyer and a seller) and an
exchange licence valid through 2026; trades default to a domestic, hosted 100 USD trade at
``T0`` below every threshold, so each test changes only the field its rule looks at.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.config import StoreConfig
from ledger.domain.trade import TradeRequest, WalletKind
from tests.ontime import on_time_ledger

START = datetime(2026, 1, 1, tzinfo=UTC)
"""When the market's participants are approved and its licence starts."""

END = datetime(2027, 1, 1, tzinfo=UTC)
"""When the market's exchange licence ends."""

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
"""The default time of a trade."""

HOME = "KZ"
"""The home country the market's ledger is initialised with."""

FULL_TRAVEL_RULE: dict[str, Any] = {
    "originator": {"persons": [{"names": [{"primary": "Sadykova", "secondary": "Aigerim"}],
                                "customer_number": "C-0001"}],
                   "accounts": ["KZ01-0001"]},
    "beneficiary": {"persons": [{"names": [{"primary": "Omarov", "secondary": "Daniyar"}]}],
                    "accounts": ["bc1q-daniyar"]},
    "originating_vasp": {"legal": True, "names": [{"primary": "Steppe Exchange JSC"}]},
    "beneficiary_vasp": {"legal": True, "names": [{"primary": "Berlin Coins GmbH"}]},
}
"""IVMS101 travel-rule data complete at or above the threshold (FATF R.16)."""


def notifications(ledger: Ledger) -> int:
    """Returns the id of the last notification in the log (0 when empty)."""
    return ledger.recorder.max_notification_id() or 0


def kinds_since(ledger: Ledger, after: int) -> list[str]:
    """Returns what was recorded after notification ``after``: each event's class name,
    with an alert's kind (``Raised:REQUEST_ID_REUSED``)."""
    stored = ledger.recorder.select_notifications(start=after + 1, limit=1_000_000)
    events = [ledger.mapper.to_domain_event(n) for n in stored]
    return [type(e).__name__ + (f":{e.kind}" if hasattr(e, "kind") else "") for e in events]


def events_of(ledger: Ledger) -> list[Any]:
    """Returns every domain event of the log, in notification order."""
    stored = ledger.recorder.select_notifications(start=None, limit=1_000_000)
    return [ledger.mapper.to_domain_event(n) for n in stored]


@pytest.fixture
def ledger(store_url: str) -> Iterator[Ledger]:
    """Returns a Ledger on a fresh store (once on SQLite, once on PostgreSQL)."""
    app = on_time_ledger(StoreConfig(url=store_url))
    try:
        yield app
    finally:
        app.close()


@dataclass
class Market:
    """Participants and an exchange licence to trade with."""

    ledger: Ledger
    exchange: UUID
    buyer: UUID
    seller: UUID
    licence: UUID

    def participant(self, name: str, approve: bool = True,
                    at: datetime = START) -> UUID:
        """Registers (and approves) one more participant; returns its id."""
        receipt = self.ledger.register_participant(
            f"reg-{name}", "ENTERPRISE", f"{name} Ltd", f"TAX-{name}", HOME, at=at)
        if approve:
            self.ledger.approve_participant(f"approve-{name}", receipt.aggregate_id, at=at)
        return receipt.aggregate_id

    def vasp(self, country: str = "DE") -> UUID:
        """Returns the id of a foreign VASP in ``country``, registered on first use."""
        registered = self.ledger.register_vasp(
            f"vasp-{country}", f"VASP of {country}", country,
            foreign_registration=f"{country}-0001", at=START)
        return registered.aggregate_id

    def trade(self, request_id: str, usd: str = "100", **fields: Any) -> TradeRequest:
        """Returns a trade request worth ``usd`` USD (1 unit at that price)."""
        values: dict[str, Any] = {
            "request_id": request_id,
            "exchange_licence_id": self.licence,
            "exchange_trade_id": f"x-{request_id}",
            "asset": "BTC",
            "quantity": Decimal(1),
            "price": Decimal(usd),
            "quote_currency": "USD",
            "buyer_id": self.buyer,
            "seller_id": self.seller,
            "counterparty_vasp_id": None,
            "counterparty_country": HOME,
            "wallet_kind": WalletKind.HOSTED,
            "at": T0,
        }
        values.update(fields)
        return TradeRequest(**values)


def build_market(ledger: Ledger, home: str | None = HOME) -> Market:
    """Returns a market of three approved participants and an exchange licence, on a
    ledger whose home country is ``home`` (None: never set)."""
    market = Market(ledger, UUID(int=0), UUID(int=0), UUID(int=0), UUID(int=0))
    if home is not None:
        ledger.set_policy("home-country", "home_country", home, at=START)
    market.exchange = market.participant("exchange")
    market.buyer = market.participant("buyer")
    market.seller = market.participant("seller")
    market.licence = ledger.grant_exchange_licence(
        "grant-exchange", market.exchange, ["spot"], START, END, at=START).aggregate_id
    return market


@pytest.fixture
def market(ledger: Ledger) -> Market:
    """Returns a market on the test's ledger."""
    return build_market(ledger)


def hours(n: float) -> timedelta:
    """Returns a timedelta of ``n`` hours."""
    return timedelta(hours=n)

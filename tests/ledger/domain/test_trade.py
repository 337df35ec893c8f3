"""Trade requests of ``ledger.domain.trade``."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from ledger.domain.envelope import Envelope
from ledger.domain.trade import TradeRequest, WalletKind
from ledger.domain.travel_rule import EMPTY


def required_fields() -> dict[str, Any]:
    return {"request_id": "r-1", "exchange_licence_id": uuid4(), "exchange_trade_id": "x-1",
            "asset": "BTC", "quantity": "0.5", "price": Decimal("60000"),
            "quote_currency": "USD", "buyer_id": uuid4(), "seller_id": uuid4(),
            "counterparty_vasp_id": None, "counterparty_country": "KZ",
            "wallet_kind": WalletKind.HOSTED, "at": datetime(2026, 12, 3, tzinfo=UTC)}


def test_from_fields_makes_the_request_the_constructor_makes_defaults_included() -> None:
    fields = required_fields()
    made = TradeRequest.from_fields(fields)
    assert made == TradeRequest(**fields)
    assert vars(made) == vars(TradeRequest(**fields))
    assert made.travel_rule is EMPTY and made.envelope is None
    envelope = Envelope(b"payload", "valedger.v1.TradePayload", bytes(64), "k1")
    given = {**fields, "envelope": envelope, "travel_rule": {"originator": {}}}
    assert vars(TradeRequest.from_fields(given)) == vars(TradeRequest(**given))


def test_a_request_from_fields_is_as_frozen_and_hashable_as_one_constructed() -> None:
    fields = required_fields()
    made = TradeRequest.from_fields(fields)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.quantity = "1"  # type: ignore[misc]
    assert hash(made) == hash(TradeRequest(**fields))

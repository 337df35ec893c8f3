"""Trade requests checked at the edge of the ledger: every amount bounded, every text
clean, before any rule or arithmetic sees them (DESIGN §3 "Bounded input").

Relied on by ``ledger.trading`` alone (both RecordTrade and RecordTrades come through it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from ledger.domain.envelope import Envelope
from ledger.domain.trade import TradeRequest, WalletKind
from ledger.domain.travel_rule import TravelRule, travel_rule_from_record
from ledger.errors import InvalidRequest
from ledger.validation import (
    check_country,
    check_currency,
    check_request_id,
    check_text,
    positive,
)


def validate_trade(request: TradeRequest) -> TradeRequest:
    """Returns the request with its amounts bounded and its time in UTC; raises
    InvalidRequest for a malformed trade (nothing is recorded for it)."""
    if not isinstance(request, TradeRequest):
        raise InvalidRequest("trade", f"expected a TradeRequest, got {type(request).__name__}")
    check_request_id(request.request_id)
    for name in ("exchange_licence_id", "buyer_id", "seller_id"):
        if not isinstance(getattr(request, name), UUID):
            raise InvalidRequest(name, "must be a UUID")
    quantity = positive("quantity", request.quantity)
    price = positive("price", request.price)
    if not isinstance(request.wallet_kind, WalletKind):
        raise InvalidRequest("wallet_kind", "must be HOSTED or SELF_HOSTED")
    if not isinstance(request.at, datetime):
        raise InvalidRequest("at", "must be a datetime")
    if request.at.tzinfo is None:
        raise InvalidRequest("at", "must be timezone-aware (UTC)")
    if request.envelope is not None and not isinstance(request.envelope, Envelope):
        raise InvalidRequest("envelope", "must be an Envelope")
    travel = request.travel_rule
    if not isinstance(travel, TravelRule):
        # A library caller's record (the services build a TravelRule from the wire,
        # bounded once there): parsed and bounded here, once.
        travel = travel_rule_from_record(travel)
    check_text("exchange_trade_id", request.exchange_trade_id, 200)
    check_text("asset", request.asset, 20)
    check_currency("quote_currency", request.quote_currency)
    if request.counterparty_vasp_id is not None and not isinstance(
            request.counterparty_vasp_id, UUID):
        raise InvalidRequest("counterparty_vasp_id", "must be the UUID of a registered VASP")
    if request.counterparty_country:  # optional when a VASP is named
        check_country("counterparty_country", request.counterparty_country)
    if request.buyer_id == request.seller_id:
        raise InvalidRequest("seller_id", "buyer and seller must differ")
    at = request.at if request.at.tzinfo is UTC else request.at.astimezone(UTC)
    if (quantity is request.quantity and price is request.price and at is request.at
            and travel is request.travel_rule):
        return request
    return _with(request, quantity=quantity, price=price, at=at, travel_rule=travel)


def _with(request: TradeRequest, **changes: object) -> TradeRequest:
    """Returns a copy of the (frozen) request with ``changes``, which are already checked
    (``dataclasses.replace`` would run the frozen ``__init__``: see
    ``TradeRequest.from_fields``)."""
    return TradeRequest.from_fields({**request.__dict__, **changes})

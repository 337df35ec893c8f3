"""Trade: a trade an exchange records, or a blocked attempt that stays on the record."""

from __future__ import annotations

import hashlib
from dataclasses import MISSING, dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime
from decimal import Context, Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from ledger.domain.base import LedgerAggregate, derived_id
from ledger.domain.envelope import Envelope, EnvelopeRecord, from_record
from ledger.domain.travel_rule import EMPTY, TravelRule


class WalletKind(Enum):
    """Where the asset is delivered."""

    HOSTED = "HOSTED"
    SELF_HOSTED = "SELF_HOSTED"


@dataclass(frozen=True)
class TradeRequest:
    """A trade as an exchange submits it. Amounts may be text as they came on the wire:
    ``ledger.trade_validation.validate_trade`` bounds them and returns the request with Decimals."""

    request_id: str
    exchange_licence_id: UUID
    exchange_trade_id: str
    asset: str
    quantity: Decimal | str
    price: Decimal | str
    quote_currency: str
    buyer_id: UUID
    seller_id: UUID
    counterparty_vasp_id: UUID | None
    """The registered VASP on the other side (None: a trade inside the exchange, or a
    self-hosted wallet)."""
    counterparty_country: str
    """The country the client says the counterparty is in ("" when it names a VASP: the
    VASP's country is used, and a claim that differs is refused)."""
    wallet_kind: WalletKind
    at: datetime
    travel_rule: TravelRule | dict[str, Any] = EMPTY
    """IVMS101-shaped travel-rule data (``ledger.domain.travel_rule``): a TravelRule, or
    its record (``TravelRule.to_record``'s form), which ``validate_trade`` parses once."""
    envelope: Envelope | None = None
    """The signed trade as the exchange sent it; stored in the event when given."""

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> TradeRequest:
        """Returns the request holding ``fields``, which must name every field without a
        default and nothing but fields; like the dataclass's own ``__init__``, it checks
        no value (``validate_trade`` does). The frozen ``__init__`` sets sixteen fields
        one by one, through ``object.__setattr__``: several times the cost of this, which
        every trade of a stream paid twice (decoded from the wire, then bounded). Relied
        on by ``services.trading.trade_request`` and ``validate_trade``."""
        request = object.__new__(cls)
        state = request.__dict__
        state.update(_REQUEST_DEFAULTS)
        state.update(fields)
        return request

    @property
    def travel(self) -> TravelRule:
        """Returns the travel-rule data of a validated request (``validate_trade`` has
        parsed a record into a TravelRule)."""
        travel = self.travel_rule
        if not isinstance(travel, TravelRule):
            raise TypeError("travel_rule is read after validate_trade parses it")
        return travel

    def notional_in(self, context: Context) -> Decimal:
        """Returns quantity × price in the quote currency, rounded as ``context`` says."""
        return context.multiply(Decimal(self.quantity), Decimal(self.price))

    def digest(self) -> str:
        """Returns the digest of what this request asks (its envelope aside: a retry
        may be signed again), which tells a retry from a reused request id."""
        # A flat, canonical text of the fields (faster than the JSON form of
        # ledger.requests.digest_of: it runs once per trade).
        parts = ("RecordTrade", self.request_id, str(self.exchange_licence_id),
                 self.exchange_trade_id, self.asset, str(self.quantity), str(self.price),
                 self.quote_currency, str(self.buyer_id), str(self.seller_id),
                 str(self.counterparty_vasp_id), self.counterparty_country,
                 self.wallet_kind.value, self.at.isoformat(),
                 "" if self.travel_rule is EMPTY else self.travel_rule)
        return hashlib.sha256(repr(parts).encode()).hexdigest()

    def event_fields(self, value_usd: Decimal, country: str | None = None) -> dict[str, Any]:
        """Returns the fields both trade events carry (``country``: the counterparty's
        country as decided, default the one the request claims)."""
        return {
            "request_id": self.request_id,
            "at": self.at,
            "exchange_licence_id": self.exchange_licence_id,
            "exchange_trade_id": self.exchange_trade_id,
            "asset": self.asset,
            "quantity": self.quantity,
            "price": self.price,
            "quote_currency": self.quote_currency,
            "value_usd": value_usd,
            "buyer_id": self.buyer_id,
            "seller_id": self.seller_id,
            "counterparty_vasp_id": self.counterparty_vasp_id,
            "counterparty_country": self.counterparty_country if country is None else country,
            "wallet_kind": self.wallet_kind.value,
            "travel_rule": ({} if self.travel_rule is EMPTY or self.travel_rule == {}
                            else self.travel.to_record()),
            "envelope": {} if self.envelope is None else self.envelope.to_record(),
        }


_REQUEST_DEFAULTS = {field.name: field.default for field in dataclass_fields(TradeRequest)
                     if field.default is not MISSING}


class Trade(LedgerAggregate):
    """A recorded trade, or a blocked one with the rule and the numbers."""

    class Recorded(LedgerAggregate.Created):
        request_id: str
        at: datetime
        exchange_licence_id: UUID
        exchange_trade_id: str
        asset: str
        quantity: Decimal
        price: Decimal
        quote_currency: str
        value_usd: Decimal
        buyer_id: UUID
        seller_id: UUID
        counterparty_vasp_id: UUID | None
        counterparty_country: str
        wallet_kind: str
        travel_rule: dict[str, Any]
        envelope: EnvelopeRecord

    class Blocked(Recorded):
        rule: str
        message: str
        figures: dict[str, str]

    def __init__(
        self,
        request_id: str,
        at: datetime,
        exchange_licence_id: UUID,
        exchange_trade_id: str,
        asset: str,
        quantity: Decimal,
        price: Decimal,
        quote_currency: str,
        value_usd: Decimal,
        buyer_id: UUID,
        seller_id: UUID,
        counterparty_vasp_id: UUID | None,
        counterparty_country: str,
        wallet_kind: str,
        travel_rule: dict[str, Any],
        rule: str = "",
        message: str = "",
        figures: dict[str, str] | None = None,
        envelope: EnvelopeRecord | None = None,
    ) -> None:
        self.at = at
        self.exchange_licence_id = exchange_licence_id
        self.exchange_trade_id = exchange_trade_id
        self.asset = asset
        self.quantity = quantity
        self.price = price
        self.quote_currency = quote_currency
        self.value_usd = value_usd
        self.buyer_id = buyer_id
        self.seller_id = seller_id
        self.counterparty_vasp_id = counterparty_vasp_id
        self.counterparty_country = counterparty_country
        self.wallet_kind = WalletKind(wallet_kind)
        self.travel_rule = dict(travel_rule)
        self.rule = rule
        self.message = message
        self.figures = dict(figures or {})
        self.envelope_record = dict(envelope or {})

    @staticmethod
    def recorded_id(exchange_licence_id: UUID, exchange_trade_id: str) -> UUID:
        """Returns the id of the trade recorded under an exchange's own trade id: one per
        exchange licence and exchange trade id (DESIGN §3), by construction."""
        return derived_id("Trade", exchange_licence_id, exchange_trade_id)

    @staticmethod
    def attempt_id(requester: str, request_id: str) -> UUID:
        """Returns the id of a blocked attempt: a requester's request id (a blocked trade
        does not take its exchange trade id, which a corrected request may record)."""
        return derived_id("TradeAttempt", requester, request_id)

    @classmethod
    def record(cls, request: TradeRequest, trade_id: UUID, value_usd: Decimal,
               country: str | None = None) -> Trade:
        """Returns a new recorded trade (``country``: the counterparty's, as decided)."""
        return cls._create(cls.Recorded, id=trade_id,
                           **request.event_fields(value_usd, country))

    @classmethod
    def block(cls, request: TradeRequest, trade_id: UUID, value_usd: Decimal, rule: str,
              message: str, figures: dict[str, str]) -> Trade:
        """Returns a new blocked trade that keeps the attempt on the record."""
        return cls._create(cls.Blocked, id=trade_id, rule=rule, message=message,
                           figures=figures, **request.event_fields(value_usd))

    @property
    def envelope(self) -> Envelope | None:
        """Returns the signed envelope the trade came in, or None."""
        return from_record(self.envelope_record)

    @property
    def is_blocked(self) -> bool:
        """Returns True when a rule blocked this trade."""
        return bool(self.rule)

"""Trade rules: decides whether each trade is recorded or blocked, and what it moves.

A batch of trades is decided in memory against aggregates loaded once per batch, then
saved in one transaction by the ledger; the outflow accounts it touches make the cap exact
under concurrent writers (a conflicting writer retries against the new totals).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain.alert import Alert
from ledger.domain.envelope import Envelope
from ledger.domain.licence import ExchangeLicence
from ledger.domain.outflow import OutflowAccount, period_of, previous_period
from ledger.domain.participant import Participant
from ledger.domain.policy import PolicyView
from ledger.domain.trade import TRAVEL_RULE_FIELDS, Trade, TradeRequest, WalletKind
from ledger.errors import InvalidRequest, NotFound, RuleViolation, amount
from ledger.receipts import TradeReceipt, TradeStatus
from ledger.validation import check_country, check_request_id, check_text, positive

EXACT_PRECISION = 200
"""Significant digits that keep ``quantity × price × rate`` exact for any sane amount."""


class TradeBlocked(RuleViolation):
    """A trade broke a rule; it is recorded as ``Trade.Blocked`` and this carries its receipt."""

    def __init__(self, receipt: TradeReceipt) -> None:
        super().__init__(receipt.rule, receipt.message, receipt.figures)
        self.receipt = receipt


@dataclass
class TradeBatch:
    """Aggregates loaded or created while deciding a batch of commands.

    Two kinds: the rule inputs the batch only reads (licences, participants, the policy),
    shared with the ledger's cache and loaded many at a time; and the aggregates it may
    change (outflow accounts), each loaded as a private copy.
    """

    find: Callable[[UUID], Any]
    """Returns a private copy of an aggregate, or None."""
    read_many: Callable[[Collection[UUID]], dict[UUID, Any]]
    """Returns shared, read-only aggregates (None where absent), checked in one query."""
    loaded: dict[UUID, Aggregate | None] = field(default_factory=dict)
    changed: dict[UUID, Aggregate] = field(default_factory=dict)
    shared: dict[UUID, Any] = field(default_factory=dict)

    def prefetch(self, aggregate_ids: Iterable[UUID]) -> None:
        """Loads the rule inputs ``aggregate_ids`` (read-only) together."""
        wanted = [i for i in dict.fromkeys(aggregate_ids) if i not in self.shared]
        if wanted:
            self.shared.update(self.read_many(wanted))

    def read(self, aggregate_id: UUID) -> Any | None:
        """Returns a rule input, which must not be changed, or None when absent."""
        if aggregate_id in self.loaded:
            return self.loaded[aggregate_id]
        if aggregate_id not in self.shared:
            self.prefetch((aggregate_id,))
        return self.shared[aggregate_id]

    def get(self, aggregate_id: UUID) -> Aggregate | None:
        """Returns an aggregate the batch may change, loading it once per batch, or None
        when absent."""
        if aggregate_id not in self.loaded:
            self.loaded[aggregate_id] = self.find(aggregate_id)
        return self.loaded[aggregate_id]

    def add(self, aggregate: Aggregate) -> None:
        """Marks an aggregate for saving with the batch."""
        self.loaded[aggregate.id] = aggregate
        self.changed[aggregate.id] = aggregate


class TradeDesk:
    """Applies the trade rules of DESIGN.md §3 to one trade at a time within a batch."""

    def decide(self, request: TradeRequest, policy: PolicyView,
               batch: TradeBatch) -> TradeReceipt:
        rate = policy.usd_rate(request.quote_currency)
        if rate is None:
            raise InvalidRequest("quote_currency",
                                 f"no USD rate in policy for {request.quote_currency!r} "
                                 f"(set fx_usd.{request.quote_currency})")
        # Exact product (the default context would round beyond 28 significant digits).
        with localcontext(prec=EXACT_PRECISION):
            value_usd = request.notional * rate

        def block(rule: str, message: str, figures: dict[str, object]) -> TradeReceipt:
            text = {k: str(v) for k, v in figures.items()}
            trade = Trade.block(request, value_usd, rule, message, text)
            batch.add(trade)
            return trade_receipt(trade)

        at = request.at
        licence = batch.read(request.exchange_licence_id)
        if not isinstance(licence, ExchangeLicence):
            raise NotFound("exchange licence", request.exchange_licence_id)
        standing = licence.standing_at(at)
        if standing is not None:
            return block("LICENCE_NOT_ACTIVE",
                         f"exchange licence {licence.id} is {standing} at {at.isoformat()}",
                         {"licence": licence.id, "at": at.isoformat()})
        for role, party_id in (("exchange", licence.participant_id),
                               ("buyer", request.buyer_id), ("seller", request.seller_id)):
            party = batch.read(party_id)
            if not isinstance(party, Participant):
                return block("PARTY_NOT_REGISTERED",
                             f"{role} {party_id} is not a registered participant",
                             {role: party_id})
            party_standing = party.standing_at(at)
            if party_standing is not None:
                return block("PARTY_NOT_APPROVED",
                             f"{role} {party_id} is {party_standing} at {at.isoformat()}",
                             {role: party_id, "at": at.isoformat()})

        threshold = policy.decimal("travel_rule_threshold_usd")
        if value_usd >= threshold:
            missing = [f for f in TRAVEL_RULE_FIELDS if not request.travel_rule.get(f, "").strip()]
            if missing:
                return block(
                    "TRAVEL_RULE_DATA_MISSING",
                    f"travel-rule data required at or above {amount(threshold)} USD: "
                    f"{amount(value_usd)} USD trade lacks {', '.join(missing)}",
                    {"value_usd": amount(value_usd), "threshold_usd": amount(threshold),
                     "missing": ",".join(missing)})

        period = period_of(at)
        is_outflow = (request.wallet_kind is WalletKind.SELF_HOSTED
                      or request.counterparty_country != policy.text("home_country"))
        low = threshold * policy.decimal("structuring_band_low")
        high = threshold * policy.decimal("structuring_band_high")
        near_threshold = low <= value_usd <= high
        account = None
        if is_outflow or near_threshold:
            account = self.account(batch, request.buyer_id, period)
        if is_outflow:
            assert account is not None
            cap = policy.decimal("outflow_cap_usd")
            if account.outflow_usd + value_usd > cap:
                return block(
                    "OUTFLOW_CAP_EXCEEDED",
                    f"outflow cap {amount(cap)} USD exceeded: {amount(account.outflow_usd)} + "
                    f"{amount(value_usd)}",
                    {"cap_usd": amount(cap), "used_usd": amount(account.outflow_usd),
                     "value_usd": amount(value_usd), "period": period})
        trade = Trade.record(request, value_usd)
        batch.add(trade)
        alert_ids: list[UUID] = []
        if account is not None:
            if is_outflow:
                account.debit(request_id=request.request_id, at=at, trade_id=trade.id,
                              value_usd=value_usd)
            if near_threshold:
                account.note_near_threshold(request_id=request.request_id, at=at,
                                            trade_id=trade.id, value_usd=value_usd)
                alert = self.structuring_alert(batch, request, policy, account, trade.id)
                if alert is not None:
                    alert_ids.append(alert.id)
            batch.add(account)
        return TradeReceipt(trade.id, TradeStatus.RECORDED, alert_ids=tuple(alert_ids))

    def account(self, batch: TradeBatch, participant_id: UUID, period: str) -> OutflowAccount:
        account_id = OutflowAccount.create_id(participant_id, period)
        account = batch.get(account_id)
        if account is None:
            account = OutflowAccount(participant_id=participant_id, period=period)
            batch.add(account)
        return cast(OutflowAccount, account)

    def structuring_alert(self, batch: TradeBatch, request: TradeRequest, policy: PolicyView,
                           account: OutflowAccount, trade_id: UUID) -> Alert | None:
        hours = amount(policy.decimal("structuring_window_hours"))
        window = timedelta(hours=float(policy.decimal("structuring_window_hours")))
        start = request.at - window
        trades = account.near_threshold_between(start, request.at)
        if period_of(start) != account.period:
            earlier = batch.get(OutflowAccount.create_id(request.buyer_id,
                                                         previous_period(account.period)))
            if isinstance(earlier, OutflowAccount):
                trades = earlier.near_threshold_between(start, request.at) + trades
        count = int(policy.decimal("structuring_count"))
        # Alert when the window first reaches the count, not on every transfer beyond it:
        # one finding per pattern, with every transfer of the window as evidence.
        if len(trades) != count:
            return None
        threshold = policy.decimal("travel_rule_threshold_usd")
        alert = Alert(
            request_id=request.request_id, at=request.at, kind="STRUCTURING",
            subject_id=trade_id, participant_id=request.buyer_id,
            message=(f"possible structuring: {len(trades)} transfers at "
                     f"{amount(policy.decimal('structuring_band_low') * 100)}–"
                     f"{amount(policy.decimal('structuring_band_high') * 100)}% of the "
                     f"{amount(threshold)} USD threshold within {hours} h "
                     f"by participant {request.buyer_id}"),
            evidence=[f"{t}:1" for t in trades],
            figures={"count": str(len(trades)), "window_hours": hours,
                     "threshold_usd": amount(threshold)})
        batch.add(alert)
        return alert


def validate_trade(request: TradeRequest) -> None:
    """Raises InvalidRequest for a malformed trade (nothing is recorded for it)."""
    if not isinstance(request, TradeRequest):
        raise InvalidRequest("trade", f"expected a TradeRequest, got {type(request).__name__}")
    check_request_id(request.request_id)
    for name in ("exchange_licence_id", "buyer_id", "seller_id"):
        if not isinstance(getattr(request, name), UUID):
            raise InvalidRequest(name, "must be a UUID")
    for name in ("quantity", "price"):
        if not isinstance(getattr(request, name), Decimal):
            raise InvalidRequest(name, "must be a Decimal")
    if not isinstance(request.wallet_kind, WalletKind):
        raise InvalidRequest("wallet_kind", "must be HOSTED or SELF_HOSTED")
    if not isinstance(request.at, datetime):
        raise InvalidRequest("at", "must be a datetime")
    if not isinstance(request.counterparty_vasp, str):
        raise InvalidRequest("counterparty_vasp", "must be text")
    if request.envelope is not None and not isinstance(request.envelope, Envelope):
        raise InvalidRequest("envelope", "must be an Envelope")
    if not isinstance(request.travel_rule, dict) or not all(
            isinstance(v, str) for v in request.travel_rule.values()):
        raise InvalidRequest("travel_rule", "must map field names to text")
    check_text("exchange_trade_id", request.exchange_trade_id)
    check_text("asset", request.asset)
    positive("quantity", request.quantity)
    positive("price", request.price)
    if not (len(request.quote_currency) == 3 and request.quote_currency.isalpha()
            and request.quote_currency.isupper()):
        raise InvalidRequest("quote_currency", f"ISO 4217 code required, got "
                                               f"{request.quote_currency!r}")
    check_country("counterparty_country", request.counterparty_country)
    if request.buyer_id == request.seller_id:
        raise InvalidRequest("seller_id", "buyer and seller must differ")
    if request.at.tzinfo is None:
        raise InvalidRequest("at", "must be timezone-aware (UTC)")
    unknown = set(request.travel_rule) - set(TRAVEL_RULE_FIELDS)
    if unknown:
        raise InvalidRequest("travel_rule", f"unknown fields {sorted(unknown)}")



def in_utc(request: TradeRequest) -> TradeRequest:
    """Returns the request with its time in UTC (periods and windows are UTC months/hours)."""
    if request.at.tzinfo is UTC:
        return request
    return replace(request, at=request.at.astimezone(UTC))


def trade_receipt(trade: Trade, replayed: bool = False,
                  alert_ids: tuple[UUID, ...] = ()) -> TradeReceipt:
    """Returns the receipt a stored trade stands for (with the alerts it raised)."""
    if trade.is_blocked:
        return TradeReceipt(trade.id, TradeStatus.BLOCKED, trade.rule, trade.message,
                            dict(trade.figures), replayed=replayed)
    return TradeReceipt(trade.id, TradeStatus.RECORDED, alert_ids=alert_ids,
                        replayed=replayed)


def replayed(receipt: TradeReceipt) -> TradeReceipt:
    """Returns the same receipt marked as a replay of the first result."""
    return TradeReceipt(receipt.trade_id, receipt.status, receipt.rule, receipt.message,
                        receipt.figures, receipt.alert_ids, replayed=True)

"""Trading: decides whether each trade is recorded or blocked, and what it moves.

:class:`Trading` is the use case (validate, stamp, verify the envelopes, decide, save,
retry); :class:`TradeRules` applies the rules of DESIGN §3 to one trade at a time. A batch
of trades is decided in memory against aggregates loaded once per batch, then saved in
one transaction; the outflow accounts it touches make the cap exact under concurrent
writers (a conflicting writer retries against the new totals).

A trade's request id belongs to the exchange that holds its licence (the requester), and
its exchange trade id is claimed per licence (``TradeClaim``). Its time ``at`` must lie in
the trade window around the server's clock, and the licence, the parties and the signing
key must be in standing both at ``at`` and when recorded; a trade that breaks a rule is
recorded as ``Trade.Blocked``, so the attempt stays on the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import localcontext
from typing import cast
from uuid import UUID

from eventsourcing.persistence import RecordConflictError

from ledger.clock import Clock
from ledger.commands import UseCase
from ledger.domain.alert import Alert
from ledger.domain.base import Stamp, stamped
from ledger.domain.envelope import Envelope
from ledger.domain.licence import ExchangeLicence
from ledger.domain.outflow import OutflowAccount, period_of, previous_period
from ledger.domain.participant import Participant
from ledger.domain.policy import POLICY_ID, Policy, PolicyView
from ledger.domain.trade import TRAVEL_RULE_FIELDS, Trade, TradeRequest, WalletKind
from ledger.domain.trade_claim import TradeClaim
from ledger.errors import InvalidRequest, NotFound, RequestIdReused, RuleViolation, amount
from ledger.keys import EnvelopeVerifier, Signed
from ledger.receipts import TradeReceipt, TradeStatus
from ledger.requests import participant_requester
from ledger.store import LedgerStore
from ledger.trade_batch import TradeBatch
from ledger.validation import (
    check_country,
    check_currency,
    check_request_id,
    check_text,
    positive,
)
from ledger.windows import Window, WindowKind

EXACT_PRECISION = 200
"""Significant digits that keep ``quantity × price × rate`` exact for any sane amount."""


class TradeBlocked(RuleViolation):
    """A trade broke a rule; it is recorded as ``Trade.Blocked`` and this carries its receipt."""

    def __init__(self, receipt: TradeReceipt) -> None:
        super().__init__(receipt.rule, receipt.message, receipt.figures)
        self.receipt = receipt


class TradeRules:
    """Applies the trade rules of DESIGN.md §3 to one trade at a time within a batch."""

    def decide(self, request: TradeRequest, trade_id: UUID, recorded_at: datetime,
               policy: PolicyView, window: Window, batch: TradeBatch) -> TradeReceipt:
        """Returns the receipt of one trade, recorded or blocked, with what it changes
        added to ``batch``; raises InvalidRequest or NotFound for what cannot be
        decided (nothing is recorded then). ``policy`` is the policy at the trade's
        time; ``window`` the trade window under the policy at the server's."""
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
            trade = Trade.block(request, trade_id, value_usd, rule, message, text)
            batch.add(trade)
            return trade_receipt(trade)

        at = request.at
        licence = batch.read(request.exchange_licence_id)
        if not isinstance(licence, ExchangeLicence):
            raise NotFound("exchange licence", request.exchange_licence_id)
        late = window.fault(at, recorded_at)
        if late is not None:
            return block("TIME_OUTSIDE_WINDOW", late[0], dict(late[1]))
        standing = licence.standing(at, recorded_at)
        if standing is not None:
            return block("LICENCE_NOT_ACTIVE", f"exchange licence {licence.id} is {standing}",
                         {"licence": licence.id, "at": at.isoformat(),
                          "recorded_at": recorded_at.isoformat()})
        for role, party_id in (("exchange", licence.participant_id),
                               ("buyer", request.buyer_id), ("seller", request.seller_id)):
            party = batch.read(party_id)
            if not isinstance(party, Participant):
                return block("PARTY_NOT_REGISTERED",
                             f"{role} {party_id} is not a registered participant",
                             {role: party_id})
            party_standing = party.standing(at, recorded_at)
            if party_standing is not None:
                return block("PARTY_NOT_APPROVED", f"{role} {party_id} is {party_standing}",
                             {role: party_id, "at": at.isoformat(),
                              "recorded_at": recorded_at.isoformat()})
        claim_id = TradeClaim.create_id(request.exchange_licence_id, request.exchange_trade_id)
        claim = batch.claim(claim_id)
        if isinstance(claim, TradeClaim) and claim.trade_id != trade_id:
            return block("EXCHANGE_TRADE_ID_REUSED",
                         f"exchange trade id {request.exchange_trade_id!r} is already "
                         f"recorded for licence {licence.id} as trade {claim.trade_id}",
                         {"exchange_trade_id": request.exchange_trade_id,
                          "trade_id": claim.trade_id})

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
        trade = Trade.record(request, trade_id, value_usd)
        batch.add(trade)
        batch.add(TradeClaim(exchange_licence_id=request.exchange_licence_id,
                             exchange_trade_id=request.exchange_trade_id, trade_id=trade_id))
        alert_ids: list[UUID] = []
        if account is not None:
            if is_outflow:
                account.debit(request_id=request.request_id, at=at, trade_id=trade.id,
                              value_usd=value_usd)
            if near_threshold:
                account.note_near_threshold(request_id=request.request_id, at=at,
                                            trade_id=trade.id, value_usd=value_usd)
                alert = self.structuring_alert(batch, request, trade_id, policy, account)
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

    def structuring_alert(self, batch: TradeBatch, request: TradeRequest, trade_id: UUID,
                          policy: PolicyView, account: OutflowAccount) -> Alert | None:
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
    if not isinstance(request.travel_rule, dict):
        raise InvalidRequest("travel_rule", "must map field names to text")
    unknown = set(request.travel_rule) - set(TRAVEL_RULE_FIELDS)
    if unknown:
        raise InvalidRequest("travel_rule", f"unknown fields {sorted(unknown)[:5]}")
    for name, value in request.travel_rule.items():
        if not isinstance(value, str):
            raise InvalidRequest(f"travel_rule.{name}", "must be text")
        if value.strip():  # blank means absent (the travel rule then says what is missing)
            check_text(f"travel_rule.{name}", value)
    check_text("exchange_trade_id", request.exchange_trade_id, 200)
    check_text("asset", request.asset, 20)
    check_currency("quote_currency", request.quote_currency)
    if not isinstance(request.counterparty_vasp, str):
        raise InvalidRequest("counterparty_vasp", "must be text")
    if request.counterparty_vasp:  # optional: a domestic trade may name none
        check_text("counterparty_vasp", request.counterparty_vasp, 200)
    check_country("counterparty_country", request.counterparty_country)
    if request.buyer_id == request.seller_id:
        raise InvalidRequest("seller_id", "buyer and seller must differ")
    return replace(request, quantity=quantity, price=price, at=request.at.astimezone(UTC))


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


class Trading(UseCase):
    """Records trades, one or many in one transaction (the one owner of recording a
    trade: the services' RecordTrade and RecordTrades both come here)."""

    def __init__(self, store: LedgerStore, clock: Clock, envelopes: EnvelopeVerifier) -> None:
        super().__init__(store, clock)
        self.envelopes = envelopes
        self.rules = TradeRules()

    def record_trades(self, requests: Sequence[TradeRequest]) -> list[TradeReceipt]:
        """Records many trades in one transaction; returns one receipt per request.

        Blocked trades are recorded as ``Trade.Blocked``; a request seen before (in this
        batch or earlier, by the same exchange) returns the first result and records
        nothing, and a request id the exchange used for another trade raises
        RequestIdReused. Envelopes that do not verify raise EnvelopeRefused (nothing of
        the batch is recorded).
        """
        checked = [validate_trade(request) for request in requests]
        recorded_at = self.clock()
        def attempt() -> list[TradeReceipt]:
            try:
                return self._decide_and_save(checked, recorded_at, check_existing=False)
            except RecordConflictError:
                # Some trade or claim may exist already (a retry) or an account moved
                # on: decide again against the store, replaying trades that exist.
                return self._decide_and_save(checked, recorded_at, check_existing=True)

        # Each trade is stamped with its own requester and digest (below).
        return self.run(None, attempt)

    def _decide_and_save(self, requests: Sequence[TradeRequest], recorded_at: datetime,
                         check_existing: bool) -> list[TradeReceipt]:
        batch = TradeBatch(self.store.find, self.store.read_many,
                           check_existing=check_existing)
        # The rule inputs of the whole batch in one query: the exchanges behind cached
        # licences are known beforehand; those of uncached ones take a second query.
        licence_ids = {r.exchange_licence_id for r in requests}
        holders = (self.store.cached_holder(licence_id) for licence_id in licence_ids)
        batch.prefetch([POLICY_ID, *licence_ids, *(h for h in holders if h is not None),
                        *(r.buyer_id for r in requests), *(r.seller_id for r in requests)])
        batch.prefetch(licence.participant_id for licence in batch.shared.values()
                       if isinstance(licence, ExchangeLicence))
        policy = cast(Policy | None, batch.read(POLICY_ID))
        window = Window.of(WindowKind.TRADE, PolicyView(policy, recorded_at))
        self._require_envelopes(requests, batch, recorded_at)
        policies: dict[datetime, PolicyView] = {}
        results: dict[tuple[str, str], tuple[str, TradeReceipt]] = {}
        receipts: list[TradeReceipt] = []
        for request in requests:
            licence = batch.read(request.exchange_licence_id)
            if not isinstance(licence, ExchangeLicence):
                raise NotFound("exchange licence", request.exchange_licence_id)
            requester = participant_requester(licence.participant_id)
            digest = request.digest()
            key = (requester, request.request_id)
            if key in results:
                first_digest, first = results[key]
                if first_digest != digest:
                    raise RequestIdReused(request.request_id)
                receipts.append(replayed(first))
                continue
            trade_id = Trade.id_for(requester, request.request_id)
            existing = self.store.find(trade_id) if check_existing else None
            if isinstance(existing, Trade):
                existing.version_of_request(requester, request.request_id, digest)
                alert_id = Alert.create_id(requester, request.request_id, "STRUCTURING",
                                           existing.id)
                alerts = (alert_id,) if self.store.find(alert_id) is not None else ()
                receipt = trade_receipt(existing, replayed=True, alert_ids=alerts)
            else:
                # The window is read at the server's time; every other rule at the
                # trade's own time.
                view = policies.setdefault(request.at, PolicyView(policy, request.at))
                with stamped(Stamp(requester, digest, recorded_at)):
                    receipt = self.rules.decide(request, trade_id, recorded_at, view,
                                                window, batch)
            results[key] = (digest, receipt)
            receipts.append(receipt)
        self.store.save(*batch.changed.values())
        return receipts

    def _require_envelopes(self, requests: Sequence[TradeRequest], batch: TradeBatch,
                           recorded_at: datetime) -> None:
        """Raises EnvelopeRefused for the first envelope that does not verify."""
        items = []
        for request in requests:
            if request.envelope is None:
                continue
            licence = batch.read(request.exchange_licence_id)
            if not isinstance(licence, ExchangeLicence):
                raise NotFound("exchange licence", request.exchange_licence_id)
            holder = batch.read(licence.participant_id)
            if not isinstance(holder, Participant):
                raise NotFound("participant", licence.participant_id)
            items.append(Signed.by(request.envelope, holder, request.at, recorded_at))
        for refusal in self.envelopes.refusals(items):
            if refusal is not None:
                raise refusal

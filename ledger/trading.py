"""Trading: decides whether each trade is recorded or blocked, and what it moves.

:class:`Trading` is the use case (validate, stamp, verify the envelopes, decide, save,
retry); :class:`TradeRules` applies the rules of DESIGN §3 to one trade at a time. A batch
of trades is decided in memory against aggregates loaded once per batch, then saved in
one transaction; the outflow accounts it touches make the cap exact under concurrent
writers (a conflicting writer retries against the new totals).

A trade's request id belongs to the exchange that holds its licence (the requester). A
recorded trade's id is derived from its licence and exchange trade id, so an exchange
trade id is recorded once per licence by construction; a blocked attempt's id from its
requester and request id, so a corrected request may still record the trade. Every
request id a trade took, recorded or blocked, is written to the trade request index
(``ledger.request_index``) in the trade's own transaction. A batch is first decided as if
all its ids were new; when the store's keys refuse it (a trade id or a request id taken),
it is decided again after two queries tell which request ids were used and which
exchange trade ids are recorded: retries replay their first result, a request id reused
for another payload is REQUEST_ID_REUSED (in the same batch or any later one), another
request naming a recorded exchange trade id is blocked (EXCHANGE_TRADE_ID_REUSED). Its
time ``at`` must lie in the trade window around the server's clock, and the licence, the
parties and the signing key must be in standing both at ``at`` and when recorded; a
trade that breaks a rule is recorded as ``Trade.Blocked``, so the attempt stays on the
record.

The module is long because the batch protocol (the optimistic first decision, lookups
and replays on a conflict) and the order of the per-trade rules share one batch's state;
the rules themselves have their own owners (``ledger.counterparty``,
``ledger.domain.travel_rule``, ``ledger.screening``, ``ledger.structuring``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Context, Decimal
from functools import cached_property
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import RecordConflictError

from ledger.clock import Clock
from ledger.commands import UseCase
from ledger.counterparty import Counterparty, counterparty
from ledger.domain.alert import Alert
from ledger.domain.base import Stamp, stamped
from ledger.domain.licence import ExchangeLicence
from ledger.domain.outflow import OutflowAccount, next_period, period_of, previous_period
from ledger.domain.participant import Participant
from ledger.domain.policy import POLICY_ID, Policy, PolicyView, PolicyViews
from ledger.domain.screening import SCREENING_ID
from ledger.domain.trade import Trade, TradeRequest, WalletKind
from ledger.domain.travel_rule import EMPTY, missing_data
from ledger.errors import InvalidRequest, NotFound, RequestIdReused, RuleViolation, amount
from ledger.keys import EnvelopeVerifier, Signed
from ledger.receipts import TradeReceipt, TradeStatus
from ledger.request_index import RequestKey
from ledger.requests import participant_requester
from ledger.screening import Screening, confirmed_refusal, hit_alert, travel_rule_subjects
from ledger.store import LedgerStore
from ledger.structuring import band, is_near_threshold, new_pattern, structuring_window
from ledger.trade_batch import TradeBatch
from ledger.trade_validation import validate_trade
from ledger.windows import Window, WindowKind

EXACT_PRECISION = 200
"""Significant digits that keep ``quantity × price × rate`` exact for any sane amount."""

EXACT = Context(prec=EXACT_PRECISION)
"""The context a trade's value is computed in. Shared by every thread: its operations
leave only sticky flags behind, which nothing reads (about a quarter of the cost of
entering a local context for each trade)."""


class TradeBlocked(RuleViolation):
    """A trade broke a rule; it is recorded as ``Trade.Blocked`` and this carries its receipt."""

    def __init__(self, receipt: TradeReceipt) -> None:
        super().__init__(receipt.rule, receipt.message, receipt.figures)
        self.receipt = receipt


@dataclass(frozen=True)
class TradeIds:
    """The two ids a trade request may take: ``recorded`` (licence, exchange trade id) if
    it is recorded, ``attempt`` (requester, request id) if it is blocked."""

    recorded: UUID
    requester: str
    request_id: str

    @cached_property
    def attempt(self) -> UUID:
        """Returns the id of the request's blocked attempt (derived when first asked:
        most trades are recorded)."""
        return Trade.attempt_id(self.requester, self.request_id)


class TradeRules:
    """Applies the trade rules of DESIGN.md §3 to one trade at a time within a batch."""

    def __init__(self, screening: Screening | None = None) -> None:
        self.screening = screening

    def decide(self, request: TradeRequest, ids: TradeIds, recorded_at: datetime,
               policy: PolicyView, window: Window, batch: TradeBatch,
               taken_by: UUID | None = None) -> TradeReceipt:
        """Returns the receipt of one trade, recorded or blocked, with what it changes
        added to ``batch``; raises InvalidRequest or NotFound for what cannot be
        decided (nothing is recorded then). ``policy`` is the policy at the trade's
        time; ``window`` the trade window under the policy at the server's; ``taken_by``
        the trade another request recorded under this exchange trade id, if any."""
        rate = policy.usd_rate(request.quote_currency)
        if rate is None:
            raise InvalidRequest("quote_currency",
                                 f"no USD rate in policy for {request.quote_currency!r} "
                                 f"(set fx_usd.{request.quote_currency})")
        # Exact product (the default context would round beyond 28 significant digits).
        value_usd = EXACT.multiply(request.notional_in(EXACT), rate)

        def block(rule: str, message: str, figures: Mapping[str, object]) -> TradeReceipt:
            text = {k: str(v) for k, v in figures.items()}
            trade = Trade.block(request, ids.attempt, value_usd, rule, message, text)
            batch.add(trade)
            return trade_receipt(trade)

        at = request.at
        licence = batch.read(request.exchange_licence_id)
        if not isinstance(licence, ExchangeLicence):
            raise NotFound("exchange licence", request.exchange_licence_id)
        if taken_by is not None:
            return block("EXCHANGE_TRADE_ID_REUSED",
                         f"exchange trade id {request.exchange_trade_id!r} is already "
                         f"recorded for licence {licence.id} as trade {taken_by}",
                         {"exchange_trade_id": request.exchange_trade_id,
                          "trade_id": taken_by})
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
        threshold = policy.decimal("travel_rule_threshold_usd")
        near_threshold = is_near_threshold(value_usd, policy)
        home = policy.text("home_country")
        self_hosted = request.wallet_kind is WalletKind.SELF_HOSTED

        def refuse_transfer(rule: str, message: str, figures: Mapping[str, object],
                            also: Alert | None = None) -> TradeReceipt:
            # A transfer refused for what it moves; near the threshold it still counts
            # towards structuring (blocked attempts count).
            refused = block(rule, message, figures)
            alerts = [] if also is None else [also.id]
            if near_threshold:
                account = self.account(batch, request.buyer_id, period_of(at))
                alert = self.near_threshold(batch, request, ids.attempt, value_usd, policy,
                                            account)
                if alert is not None:
                    alerts.append(alert.id)
            return replace(refused, alert_ids=tuple(alerts)) if alerts else refused

        vasp_id = request.counterparty_vasp_id
        found = counterparty(request, None if vasp_id is None else batch.read(vasp_id), home,
                             recorded_at)
        if not isinstance(found, Counterparty):
            return refuse_transfer(*found)
        country = found.country
        at_or_above = value_usd >= threshold
        missing = missing_data(request.travel, at_or_above, self_hosted,
                               transfer=self_hosted or found.vasp is not None)
        if missing:
            required = (f"at or above {amount(threshold)} USD" if at_or_above
                        else "for a transfer out of the exchange")
            return refuse_transfer(
                "TRAVEL_RULE_DATA_MISSING",
                f"travel-rule data required {required}: {amount(value_usd)} USD trade lacks "
                f"{', '.join(missing)}",
                {"value_usd": amount(value_usd), "threshold_usd": amount(threshold),
                 "missing": ",".join(missing)})
        hit: Alert | None = None
        if request.travel_rule is not EMPTY and self.screening is not None:
            matches = self.screening.screen(travel_rule_subjects(request.travel),
                                            policy, batch.read(SCREENING_ID))
            if matches:
                subject = ids.attempt if matches[0].bars else ids.recorded
                hit = hit_alert(request.request_id, at, "trade", subject, request.buyer_id,
                                matches)
                batch.add(hit)
                if matches[0].bars:
                    rule, message, figures = confirmed_refusal(matches[0])
                    return refuse_transfer(rule, message, figures, also=hit)

        is_outflow = self_hosted or country != home
        account = None
        if is_outflow or near_threshold:
            account = self.account(batch, request.buyer_id, period_of(at))
        if is_outflow:
            assert account is not None
            cap = policy.decimal("outflow_cap_usd")
            if account.outflow_usd + value_usd > cap:
                return refuse_transfer(
                    "OUTFLOW_CAP_EXCEEDED",
                    f"outflow cap {amount(cap)} USD exceeded: {amount(account.outflow_usd)} + "
                    f"{amount(value_usd)}",
                    {"cap_usd": amount(cap), "used_usd": amount(account.outflow_usd),
                     "value_usd": amount(value_usd), "period": account.period})
        trade = Trade.record(request, ids.recorded, value_usd, country)
        batch.add(trade)
        alert_ids: list[UUID] = [] if hit is None else [hit.id]
        if account is not None:
            if is_outflow:
                account.debit(request_id=request.request_id, at=at, trade_id=trade.id,
                              value_usd=value_usd)
            if near_threshold:
                alert = self.near_threshold(batch, request, trade.id, value_usd, policy,
                                            account)
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

    def near_threshold(self, batch: TradeBatch, request: TradeRequest, trade_id: UUID,
                       value_usd: Decimal, policy: PolicyView,
                       account: OutflowAccount) -> Alert | None:
        """Notes a near-threshold transfer (recorded or blocked) on the buyer's account and
        returns the STRUCTURING alert it raises when it completes a new pattern
        (``ledger.structuring``), else None."""
        account.note_near_threshold(request_id=request.request_id, at=request.at,
                                    trade_id=trade_id, value_usd=value_usd)
        batch.add(account)
        window = structuring_window(policy)
        for period in sorted({period_of(request.at - window),
                              period_of(request.at + window)} - {account.period}):
            # The pattern may span the month's edge: take the neighbour's version too.
            reached = self.account(batch, request.buyer_id, period)
            reached.note_neighbour(request_id=request.request_id, at=request.at,
                                   trade_id=trade_id)
            batch.add(reached)
        others = [t for t in account.near_threshold if t[1] != trade_id]
        for period in (previous_period(account.period), next_period(account.period)):
            neighbour = batch.get(OutflowAccount.create_id(request.buyer_id, period))
            if isinstance(neighbour, OutflowAccount):
                others += neighbour.near_threshold
        pattern = new_pattern((request.at, trade_id), others, policy)
        if pattern is None:
            return None
        hours = amount(policy.decimal("structuring_window_hours"))
        threshold = policy.decimal("travel_rule_threshold_usd")
        low, high = band(policy)
        alert = Alert(
            request_id=request.request_id, at=request.at, kind="STRUCTURING",
            subject_id=trade_id, participant_id=request.buyer_id,
            message=(f"possible structuring: {len(pattern)} transfers of {amount(low)} USD "
                     f"or more but below {amount(high)} USD within {hours} h by participant "
                     f"{request.buyer_id} (travel-rule threshold {amount(threshold)} USD)"),
            evidence=[f"{t}:1" for t in pattern],
            figures={"count": str(len(pattern)), "window_hours": hours,
                     "threshold_usd": amount(threshold), "band_low_usd": amount(low),
                     "band_high_usd": amount(high)})
        batch.add(alert)
        return alert


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

    def __init__(self, store: LedgerStore, clock: Clock, envelopes: EnvelopeVerifier,
                 screening: Screening | None = None) -> None:
        super().__init__(store, clock)
        self.envelopes = envelopes
        self.rules = TradeRules(screening)

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
        # Most batches are new trades, so the first decision does not ask the store which
        # of the batch's request ids and exchange trade ids are taken: the store's keys
        # (trade ids, the request index) refuse a batch that takes one as a conflict, and
        # the batch is then decided again, asking first. Each trade is stamped with its
        # own requester and digest (below); a conflict with another writer decides the
        # whole batch again against the store.
        try:
            return self._decide_and_save(checked, recorded_at, look_up=False)
        except RecordConflictError:
            return self.run(None, lambda: self._decide_and_save(checked, recorded_at,
                                                                look_up=True))
        except RequestIdReused as reuse:  # reused within the batch: kept like any other
            self.keep_reuse(reuse)
            raise

    def _decide_and_save(self, requests: Sequence[TradeRequest], recorded_at: datetime,
                         look_up: bool) -> list[TradeReceipt]:
        batch = TradeBatch(self.store.find, self.store.read_many)
        # The rule inputs of the whole batch in one query: the exchanges behind cached
        # licences are known beforehand; those of uncached ones take a second query.
        licence_ids = {r.exchange_licence_id for r in requests}
        holders = (self.store.cached_holder(licence_id) for licence_id in licence_ids)
        batch.prefetch([POLICY_ID, SCREENING_ID, *licence_ids,
                        *(h for h in holders if h is not None),
                        *(r.buyer_id for r in requests), *(r.seller_id for r in requests),
                        *{r.counterparty_vasp_id for r in requests
                          if r.counterparty_vasp_id is not None}])
        batch.prefetch(licence.participant_id for licence in batch.shared.values()
                       if isinstance(licence, ExchangeLicence))
        policy = cast(Policy | None, batch.read(POLICY_ID))
        window = Window.of(WindowKind.TRADE, PolicyView(policy, recorded_at))
        self._require_envelopes(requests, batch, recorded_at)
        requesters: dict[UUID, str] = {}
        identities = [self._identity(request, batch, requesters) for request in requests]
        # Which request ids were used before and which exchange trade ids are recorded,
        # for the whole batch in two queries (when asked to look them up).
        used = self._used_requests(requests, identities) if look_up else {}
        stored = (self.store.stored_versions([ids.recorded for _, _, ids in identities])
                  if look_up else {})
        # The trades a replay answers with or a taken id names, and the structuring alerts
        # the replayed trades raised: one query each.
        batch.prefetch([*used.values(), *stored])
        raised = (self.store.stored_versions([
            Alert.create_id(requester, request_id, "STRUCTURING", trade_id)
            for (requester, request_id), trade_id in used.items()]) if used else {})
        views = PolicyViews(policy)
        results: dict[tuple[str, str], tuple[str, TradeReceipt]] = {}
        receipts: list[TradeReceipt] = []
        taken: list[RequestKey] = []
        for request, (requester, digest, ids) in zip(requests, identities, strict=True):
            key = (requester, request.request_id)
            if key in results:
                first_digest, first = results[key]
                if first_digest != digest:
                    raise RequestIdReused(request.request_id, requester, digest,
                                          first.trade_id)
                receipts.append(replayed(first))
                continue
            receipt = None
            taken_by = None
            earlier = used.get(key)
            if earlier is not None:  # this request id made a trade before
                receipt = self._replay(batch.read(earlier), requester, request, digest,
                                       raised)
            else:
                holder = (batch.loaded.get(ids.recorded) if ids.recorded in batch.loaded
                          else batch.read(ids.recorded) if ids.recorded in stored else None)
                if isinstance(holder, Trade):
                    if holder.created_by(requester, request.request_id, digest):
                        # Recorded before the request index existed: the trade says so.
                        receipt = self._replay(holder, requester, request, digest)
                    else:
                        taken_by = holder.id
            if receipt is None:
                # The window is read at the server's time; every other rule at the
                # trade's own time.
                view = views.at(request.at)
                with stamped(Stamp(requester, digest, recorded_at)):
                    receipt = self.rules.decide(request, ids, recorded_at, view, window,
                                                batch, taken_by)
                taken.append(RequestKey(requester, request.request_id, receipt.trade_id))
            results[key] = (digest, receipt)
            receipts.append(receipt)
        self.store.save(*batch.changed.values(), request_keys=taken)
        return receipts

    def _used_requests(self, requests: Sequence[TradeRequest],
                       identities: Sequence[tuple[str, str, TradeIds]]
                       ) -> dict[tuple[str, str], UUID]:
        """Returns the trade each (requester, request id) of the batch made before, for
        those used before (one query per requester: usually one)."""
        by_requester: dict[str, list[str]] = {}
        for request, (requester, _, _) in zip(requests, identities, strict=True):
            by_requester.setdefault(requester, []).append(request.request_id)
        return {(requester, request_id): trade_id
                for requester, request_ids in by_requester.items()
                for request_id, trade_id in self.store.trades_of_requests(
                    requester, request_ids).items()}

    @staticmethod
    def _identity(request: TradeRequest, batch: TradeBatch, requesters: dict[UUID, str]
                  ) -> tuple[str, str, TradeIds]:
        """Returns the requester of a trade request, its digest and its two ids
        (``requesters``: the requester of each licence seen in the batch so far)."""
        licence_id = request.exchange_licence_id
        requester = requesters.get(licence_id)
        if requester is None:
            licence = batch.read(licence_id)
            if not isinstance(licence, ExchangeLicence):
                raise NotFound("exchange licence", licence_id)
            requester = requesters[licence_id] = participant_requester(licence.participant_id)
        return requester, request.digest(), TradeIds(
            Trade.recorded_id(licence_id, request.exchange_trade_id), requester,
            request.request_id)

    def _replay(self, existing: Any, requester: str, request: TradeRequest,
                digest: str, raised: Mapping[UUID, int] | None = None) -> TradeReceipt:
        """Returns the first result of a request (raises RequestIdReused when the stored
        trade answered the same request id with another payload). ``raised``: the stored
        structuring alerts among the batch's replays (None: ask the store)."""
        assert isinstance(existing, Trade)
        existing.version_of_request(requester, request.request_id, digest)
        alert_id = Alert.create_id(requester, request.request_id, "STRUCTURING", existing.id)
        if raised is None:
            raised = self.store.stored_versions([alert_id])
        alerts = (alert_id,) if alert_id in raised else ()
        return trade_receipt(existing, replayed=True, alert_ids=alerts)

    def _require_envelopes(self, requests: Sequence[TradeRequest], batch: TradeBatch,
                           recorded_at: datetime) -> None:
        """Raises EnvelopeRefused for the first envelope that does not verify."""
        items = []
        holders: dict[UUID, Participant] = {}  # of each licence, read once per batch
        for request in requests:
            if request.envelope is None:
                continue
            holder = holders.get(request.exchange_licence_id)
            if holder is None:
                licence = batch.read(request.exchange_licence_id)
                if not isinstance(licence, ExchangeLicence):
                    raise NotFound("exchange licence", request.exchange_licence_id)
                holder = batch.read(licence.participant_id)
                if not isinstance(holder, Participant):
                    raise NotFound("participant", licence.participant_id)
                holders[request.exchange_licence_id] = holder
            items.append(Signed(request.envelope, holder.id, holder.keys, request.at,
                                recorded_at))
        for refusal in self.envelopes.refusals(items):
            if refusal is not None:
                raise refusal

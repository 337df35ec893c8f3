"""TradingService: trades in signed envelopes, one by one or streamed in batches."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import grpc

from ledger import (
    Envelope,
    ExchangeLicence,
    NotFound,
    Participant,
    Signed,
    TradeReceipt,
    TradeRequest,
    TradeStatus,
    WalletKind,
)
from services import envelope, wire
from services.auth import Caller, current_grant, require_own_participant
from services.generated.valedger.v1 import common_pb2, trading_pb2, trading_pb2_grpc
from services.ledger_pool import LedgerPool
from services.status import (
    ServiceError,
    invalid_argument,
    rule_violation_error,
    service_error,
)

_WALLETS = {
    trading_pb2.WALLET_KIND_HOSTED: WalletKind.HOSTED,
    trading_pb2.WALLET_KIND_SELF_HOSTED: WalletKind.SELF_HOSTED,
}
PIPELINE_DEPTH = 2
"""Batches of one RecordTrades stream in flight at once: one committing, one opening."""

_STATUS = {
    TradeStatus.RECORDED: trading_pb2.TRADE_STATUS_RECORDED,
    TradeStatus.BLOCKED: trading_pb2.TRADE_STATUS_BLOCKED,
}


@dataclass
class TradeEnvelopes:
    """Opens trade envelopes of one caller, remembering its licences and keys meanwhile.

    Signatures are checked early, a batch at a time, through the ledger's own
    ``EnvelopeVerifier`` (on worker processes when the batch is large); the ledger checks
    them again when it records, from the checker's memory of what it verified."""

    backend: LedgerPool
    caller: Caller
    licences: dict[UUID, ExchangeLicence] = field(default_factory=dict)
    participant: Participant | None = None

    def prepare(self, sealed: common_pb2.SignedEnvelope, label: str
                ) -> tuple[TradeRequest, Signed]:
        """Returns the trade in an envelope and the envelope check it still needs, with
        everything else checked; raises INVALID_ARGUMENT or PERMISSION_DENIED. Runs on the
        ledger pool (it reads the store), in the caller's context. The licence and the
        participant are the cache's own copies: read, never changed."""
        payload = envelope.parse(sealed, trading_pb2.TradePayload, label)
        licence_id = wire.uuid(payload.exchange_licence_id, "exchange_licence_id")
        holder: Participant | None = None
        licence = self.licences.get(licence_id)
        if licence is None:
            licence, holder = self.read(licence_id)
            # Once per licence: a desk serves one caller, whose grant does not change.
            require_own_participant(str(licence.participant_id), "exchange licences")
            self.licences[licence_id] = licence
        ledger = self.backend.ledger
        now = ledger.clock()
        at = wire.time(payload, "at") or now
        if self.participant is None:
            self.participant = holder or ledger.read_typed(
                licence.participant_id, Participant, "participant")
        stored = envelope.stored(sealed)
        trade = trade_request(payload, licence_id, at, stored)
        return trade, Signed.by(stored, self.participant, at, now)

    def read(self, licence_id: UUID) -> tuple[ExchangeLicence, Participant | None]:
        """Returns the exchange licence (raises NOT_FOUND) and, when the cache knows who
        holds it and no participant is read yet, that holder, read in the same query."""
        ledger = self.backend.ledger
        holder_id = ledger.cached_holder(licence_id) if self.participant is None else None
        wanted = [licence_id] if holder_id is None else [licence_id, holder_id]
        found = ledger.read_many(wanted)
        licence = found[licence_id]
        if not isinstance(licence, ExchangeLicence):
            raise NotFound("exchange licence", licence_id)
        holder = found.get(licence.participant_id)
        return licence, holder if isinstance(holder, Participant) else None

    @property
    def participant_id(self) -> UUID | None:
        """Returns the id of the participant whose licences this desk has opened."""
        return None if self.participant is None else self.participant.id


def _person(person: trading_pb2.Person) -> dict[str, Any]:
    """Returns the ledger's record of an IVMS101 person (bounded by the ledger, once)."""
    record: dict[str, Any] = {
        "legal": person.legal_person,
        "names": [{"primary": n.primary_identifier, "secondary": n.secondary_identifier,
                   "kind": n.name_identifier_type} for n in person.names],
        "customer_number": person.customer_identification,
        "date_of_birth": person.date_of_birth, "place_of_birth": person.place_of_birth,
        "addresses": [{"kind": a.address_type, "street": a.street_name,
                       "building": a.building_number, "post_code": a.post_code,
                       "town": a.town_name, "country_sub_division": a.country_sub_division,
                       "country": a.country, "lines": list(a.address_lines)}
                      for a in person.addresses],
        "country": person.country}
    if person.HasField("national_identification"):
        national = person.national_identification
        record["national_id"] = {"number": national.national_identifier,
                                 "kind": national.national_identifier_type,
                                 "country": national.country_of_issue}
    return record


def travel_rule_record(travel: trading_pb2.TravelRule) -> dict[str, Any]:
    """Returns the ledger's record of the wire's IVMS101 travel-rule data (the ledger
    parses and bounds it once, in ``validate_trade``)."""
    record: dict[str, Any] = {
        side: {"persons": [_person(p) for p in party.persons],
               "accounts": list(party.account_numbers)}
        for side, party in (("originator", travel.originator),
                            ("beneficiary", travel.beneficiary))}
    for name in ("originating_vasp", "beneficiary_vasp"):
        if travel.HasField(name):
            record[name] = _person(getattr(travel, name))
    return record


def trade_request(payload: trading_pb2.TradePayload, licence_id: UUID,
                  at: datetime, sealed: Envelope | None = None) -> TradeRequest:
    """Returns the ledger's trade request for a signed payload (``sealed``: the envelope
    it came in, which the trade's event stores)."""
    wallet = _WALLETS.get(payload.wallet_kind)
    if wallet is None:
        raise invalid_argument("wallet_kind", "must be HOSTED or SELF_HOSTED")
    # Absent travel-rule data stays the request's default (no per-trade parsing at all).
    travel = ({"travel_rule": travel_rule_record(payload.travel_rule)}
              if payload.HasField("travel_rule") else {})
    return TradeRequest.from_fields({
        "request_id": payload.request_id,
        "exchange_licence_id": licence_id,
        "exchange_trade_id": payload.exchange_trade_id,
        "asset": payload.asset,
        "quantity": payload.quantity,
        "price": payload.price,
        "quote_currency": payload.quote_currency,
        "buyer_id": wire.uuid(payload.buyer_participant_id, "buyer_participant_id"),
        "seller_id": wire.uuid(payload.seller_participant_id, "seller_participant_id"),
        "counterparty_vasp_id": wire.optional_uuid(payload.counterparty_vasp_id,
                                                   "counterparty_vasp_id"),
        "counterparty_country": payload.counterparty_country,
        "wallet_kind": wallet,
        "at": at,
        "envelope": sealed,
        **travel,
    })


def trade_result(receipt: TradeReceipt, request_id: str) -> trading_pb2.TradeResult:
    """Returns the wire form of a trade's outcome."""
    result = trading_pb2.TradeResult()
    fill_trade_result(result, receipt, request_id)
    return result


def fill_trade_result(result: trading_pb2.TradeResult, receipt: TradeReceipt,
                      request_id: str) -> None:
    """Sets an empty ``result`` (perhaps a stream response's new element) to the wire form
    of a trade's outcome. Filled in place, a streamed trade's result costs about a third
    of building it and copying it into the response; unset fields stay unset."""
    result.status = _STATUS[receipt.status]
    result.request_id = request_id
    stored = result.receipt
    stored.aggregate_id = str(receipt.trade_id)
    stored.version = 1
    if receipt.replayed:
        stored.replayed = True
    if receipt.rule:
        result.rule = receipt.rule
    if receipt.message:
        result.message = receipt.message
    if receipt.figures:
        result.figures.update(receipt.figures)


@dataclass
class _Call:
    """A unary RecordTrade waiting for its round."""

    sealed: common_pb2.SignedEnvelope
    context: contextvars.Context  # the call's own, with its grant
    future: asyncio.Future[tuple[TradeRequest, TradeReceipt]]


class GroupCommit:
    """Opens and commits concurrent unary trades together: one round at a time.

    While one round is being opened and written, new calls queue; the next round takes
    them all (up to the batch size). A round looks each licence and key up once, checks
    the signatures together and commits every verified trade in one transaction; each
    caller still gets its own receipt or error, and a round whose transaction fails as a
    whole (a trade naming an unknown licence, say) is retried trade by trade. Writes of
    one process are thereby serialised, which is also what SQLite needs.
    """

    def __init__(self, backend: LedgerPool) -> None:
        self.backend = backend
        self.pending: list[_Call] = []
        self.flushing = False
        self.task: asyncio.Task[None] | None = None

    async def record(self, sealed: common_pb2.SignedEnvelope
                     ) -> tuple[TradeRequest, TradeReceipt]:
        """Returns the trade and its receipt once the round that holds it is committed;
        raises the ServiceError of an envelope that does not open."""
        loop = asyncio.get_running_loop()
        call = _Call(sealed, contextvars.copy_context(), loop.create_future())
        self.pending.append(call)
        if not self.flushing:
            self.flushing = True
            self.task = loop.create_task(self._flush())
        return await call.future

    async def _flush(self) -> None:
        try:
            while self.pending:
                size = self.backend.trade_batch_size
                round_, self.pending = self.pending[:size], self.pending[size:]
                try:
                    outcomes = await self.backend.run(self._round, round_)
                except Exception as error:  # the store failed: every caller hears of it
                    outcomes = [error] * len(round_)
                for call, outcome in zip(round_, outcomes, strict=True):
                    if call.future.done():
                        continue
                    if isinstance(outcome, BaseException):
                        call.future.set_exception(outcome)
                    else:
                        call.future.set_result(outcome)
        finally:
            self.flushing = False

    def _round(self, calls: Sequence[_Call]
               ) -> list[tuple[TradeRequest, TradeReceipt] | Exception]:
        """Returns each call's trade and receipt, or its error (runs on the ledger pool)."""
        outcomes: list[tuple[TradeRequest, TradeReceipt] | Exception | None] = [None] * len(calls)
        desks: dict[Caller, TradeEnvelopes] = {}
        prepared: list[tuple[int, TradeRequest, Signed]] = []
        for i, call in enumerate(calls):
            try:
                caller = call.context.run(current_grant).caller
                desk = desks.setdefault(caller, TradeEnvelopes(self.backend, caller))
                trade, signed = call.context.run(desk.prepare, call.sealed, "envelope")
            except Exception as error:
                outcomes[i] = error
                continue
            prepared.append((i, trade, signed))
        refusals = self.backend.ledger.envelopes.refusals([s for _, _, s in prepared])
        valid: list[tuple[int, TradeRequest]] = []
        for (i, trade, _), refusal in zip(prepared, refusals, strict=True):
            if refusal is None:
                valid.append((i, trade))
            else:
                outcomes[i] = service_error(refusal)

        def record(trades: Sequence[TradeRequest]) -> list[TradeReceipt]:
            return record_timed(self.backend, "unary", trades)

        try:
            receipts = record([trade for _, trade in valid])
            for (i, trade), receipt in zip(valid, receipts, strict=True):
                outcomes[i] = (trade, receipt)
        except Exception:
            for i, trade in valid:
                try:
                    outcomes[i] = (trade, record([trade])[0])
                except Exception as error:
                    outcomes[i] = error
        return [o if o is not None else RuntimeError("trade not decided") for o in outcomes]


class TradingServicer(trading_pb2_grpc.TradingServiceServicer):
    """Serves TradingService over the ledger."""

    def __init__(self, backend: LedgerPool) -> None:
        self.backend = backend
        self.group_commit = GroupCommit(backend)

    async def RecordTrade(self, request: trading_pb2.RecordTradeRequest,
                          context: Any) -> trading_pb2.RecordTradeResponse:
        trade, receipt = await self.group_commit.record(request.envelope)
        result = trade_result(receipt, trade.request_id)
        if receipt.status is TradeStatus.BLOCKED:
            figures = {**receipt.figures, "trade_id": str(receipt.trade_id)}
            raise rule_violation_error(receipt.rule, receipt.message, figures, [result])
        return trading_pb2.RecordTradeResponse(result=result)

    async def RecordTrades(self, request_iterator: AsyncIterator[trading_pb2.RecordTradesRequest],
                           context: Any) -> trading_pb2.RecordTradesResponse:
        desk = TradeEnvelopes(self.backend, current_grant().caller)
        size = self.backend.trade_batch_size
        response = trading_pb2.RecordTradesResponse()

        def open_batch(batch: Sequence[_Labelled]) -> list[TradeRequest]:
            # Everything but the signatures envelope by envelope, up to the first fault;
            # then the signatures together (on worker processes when there are many).
            # The fault earliest in the stream is the one reported.
            prepared: list[tuple[TradeRequest, Signed]] = []
            fault: ServiceError | None = None
            for sealed, label in batch:
                try:
                    prepared.append(desk.prepare(sealed, label))
                except ServiceError as error:
                    fault = _labelled(error, label)
                    break
            refusals = self.backend.ledger.envelopes.refusals([s for _, s in prepared])
            for (_, label), refusal in zip(batch, refusals, strict=False):  # up to a fault
                if refusal is not None:
                    raise _labelled(service_error(refusal), label)
            if fault is not None:
                raise fault
            return [trade for trade, _ in prepared]

        recorder = InOrder(self.backend)

        async def commit(batch: Sequence[_Labelled], before: _Commit | None,
                         handed: asyncio.Future[None]) -> None:
            # Opening a batch (protobuf, signatures) overlaps the commit of the one before;
            # commits stay one at a time and in stream order, and none follows a failure.
            try:
                try:
                    trades = await self.backend.run(open_batch, batch)
                finally:
                    if before is not None:
                        await before.handed  # raises the earlier batch's fault first
                recorded = recorder.record(trades)
            except BaseException as error:
                _fail(handed, error)
                raise
            handed.set_result(None)
            receipts = await recorded
            if before is not None:
                await before.task  # results in stream order
            add = response.results.add
            for receipt, trade in zip(receipts, trades, strict=True):
                fill_trade_result(add(), receipt, trade.request_id)

        in_flight: list[_Commit] = []

        def start(batch: list[_Labelled]) -> None:
            before = in_flight[-1] if in_flight else None
            handed = asyncio.get_running_loop().create_future()
            in_flight.append(_Commit(asyncio.ensure_future(commit(batch, before, handed)),
                                     handed))

        try:
            pending: list[_Labelled] = []
            index = 0
            async for message in request_iterator:
                for labelled in stream_envelopes(message, index):
                    pending.append(labelled)
                    if len(pending) >= size:
                        start(pending)
                        pending = []
                        if len(in_flight) > PIPELINE_DEPTH:  # bound what is held in memory
                            await in_flight.pop(0).task
                index += 1
            if pending:
                start(pending)
            while in_flight:
                await in_flight.pop(0).task
        finally:
            recorder.stop()  # the RPC failed or was cancelled: record nothing more
            for commit_ in in_flight:
                commit_.task.cancel()
            if in_flight:
                await asyncio.gather(*(c.task for c in in_flight), return_exceptions=True)
        response.recorded_count = sum(
            1 for r in response.results if r.status == trading_pb2.TRADE_STATUS_RECORDED)
        response.blocked_count = len(response.results) - response.recorded_count
        return response


_Labelled = tuple[common_pb2.SignedEnvelope, str]
"""An envelope of a RecordTrades stream with the field path that names it in errors."""


@dataclass
class _Commit:
    """One batch of a RecordTrades stream on its way: ``handed`` is done once its trades
    are handed to the stream's ``InOrder`` (or it failed before), ``task`` once its
    results are in the response."""

    task: asyncio.Task[None]
    handed: asyncio.Future[None]


def _fail(future: asyncio.Future[None], error: BaseException) -> None:
    """Ends ``future`` with ``error`` (cancelled for a cancellation) unless it is done."""
    if future.done():
        return
    if isinstance(error, asyncio.CancelledError):
        future.cancel()
    else:
        future.set_exception(error)
        future.exception()  # the batch's own task reports it: no "never retrieved" warning


class InOrder:
    """Records the batches of one stream on the ledger pool, one after another in the
    order they are handed in.

    The thread that records a batch goes straight on to the next one waiting, instead of
    handing back to the event loop and being called again: the round trip cost about
    4 ms between two 500-trade commits on the 2-core VM, 2% of a stream. After a batch
    fails, or after ``stop``, the batches still waiting and any handed in later are
    cancelled, not recorded.
    Runs ``Ledger.record_trades`` in the context of the stream (its grant)."""

    def __init__(self, backend: LedgerPool) -> None:
        self.backend = backend
        self.context = contextvars.copy_context()
        self.waiting: deque[tuple[list[TradeRequest],
                                  concurrent.futures.Future[list[TradeReceipt]]]] = deque()
        self.lock = threading.Lock()
        self.draining = False
        self.stopped = False

    def record(self, trades: list[TradeRequest]) -> asyncio.Future[list[TradeReceipt]]:
        """Returns the receipts of ``trades`` once recorded after every batch handed in
        before (cancelled when one of those failed or the stream stopped)."""
        future: concurrent.futures.Future[list[TradeReceipt]] = concurrent.futures.Future()
        with self.lock:
            if self.stopped:  # nothing more is recorded: no thread needs to say so
                future.cancel()
                return asyncio.wrap_future(future)
            self.waiting.append((trades, future))
            idle, self.draining = not self.draining, True
        if idle:
            try:
                self.backend.executor.submit(self._drain)
            except BaseException:
                with self.lock:
                    self.draining = False
                raise
        return asyncio.wrap_future(future)

    def stop(self) -> None:
        """Cancels what is waiting; a batch being recorded still finishes."""
        with self.lock:
            self.stopped = True
            waiting, self.waiting = list(self.waiting), deque()
        for _, future in waiting:
            future.cancel()

    def _drain(self) -> None:
        while True:
            with self.lock:
                if not self.waiting:
                    self.draining = False
                    return
                trades, future = self.waiting.popleft()
                if self.stopped:
                    future.cancel()
                    continue
            if not future.set_running_or_notify_cancel():
                continue
            try:
                receipts = self.context.run(record_timed, self.backend, "stream", trades)
            except BaseException as error:
                self.stop()  # nothing follows a failure
                future.set_exception(error)
            else:
                future.set_result(receipts)


def record_timed(backend: LedgerPool, path: str, trades: Sequence[TradeRequest]
                 ) -> list[TradeReceipt]:
    """Returns ``backend.ledger.record_trades(trades)``, counting its wall time and the
    calling thread's CPU time under ``path`` ("stream" or "unary") in the server's
    metrics, when it exports them (a commit that fails is counted too).

    The two tell an operator whether one server process is enough: while trades stream,
    a recorder on a core for most of its wall time is busy with its own work; one that
    is not waits for the interpreter lock (the process's other threads) or for a core
    (other processes), which ``serve --processes N`` spreads."""
    metrics = backend.metrics
    if metrics is None:
        return backend.ledger.record_trades(trades)
    wall, cpu = time.perf_counter(), time.thread_time()
    try:
        return backend.ledger.record_trades(trades)
    finally:
        metrics.observe_trade_recording(path, time.perf_counter() - wall,
                                        time.thread_time() - cpu)


def stream_envelopes(message: trading_pb2.RecordTradesRequest, index: int
                     ) -> list[_Labelled]:
    """Returns the envelopes of the stream's message number ``index``, each with the
    field path that names it in errors; raises INVALID_ARGUMENT when both fields are set."""
    if message.envelopes:
        if message.HasField("envelope"):
            raise invalid_argument(f"requests[{index}]",
                                   "set envelope (one trade) or envelopes (several), not both")
        return [(sealed, f"requests[{index}].envelopes[{k}]")
                for k, sealed in enumerate(message.envelopes)]
    return [(message.envelope, f"requests[{index}].envelope")]


def _labelled(error: ServiceError, label: str) -> ServiceError:
    """Returns ``error`` with the stream position of the offending envelope in its text."""
    where = label.removesuffix(".envelope")  # requests[3], or requests[3].envelopes[2]
    return ServiceError(error.code, f"{where}: {error.message}", error.details)


def add_to_server(backend: LedgerPool, server: grpc.aio.Server) -> None:
    """Registers the servicer on ``server``."""
    trading_pb2_grpc.add_TradingServiceServicer_to_server(TradingServicer(backend), server)

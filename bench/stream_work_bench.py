"""The serving process's work per streamed trade, in one process, against raw saving.

    .venv/bin/python -m bench.stream_work_bench [--trades N] [--rounds R] [--part P]

A fresh SQLite ledger with an exchange, a buyer, a seller and the exchange's signing key.
Each round seals N new domestic trades and verifies their signatures once (the stream's
signature worker does that in a process of its own), then times, in batches of 500, what
the serving process does with them in ``TradingServicer.RecordTrades`` (gRPC and asyncio
aside): ``TradeEnvelopes.prepare`` of each envelope, the signature check from the
checker's memory, ``Ledger.record_trades`` and the results filled into a
``RecordTradesResponse``. The baseline, "raw", is ``bench.services_bench``'s: the same
trades' records saved by eventsourcing's own ``Application.save`` on another SQLite file
with the ledger's settings. It prints the CPU time a trade of each, best and median of the
rounds.

This VM's speed swings by a third from one minute to the next. ``--part serve`` (or
``raw``, or ``none``) does only that part, so that a count of executed instructions at two
sizes gives each part's instructions a trade, which do not swing:

    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \\
        .venv/bin/python -m bench.stream_work_bench --rounds 1 --trades N --part serve

at N = 500 and 2,500: (I(2500) − I(500)) / 2000, less the same for ``--part none``
(sealing and verifying the trades). Run it in two trees to compare two commits.
"""

from __future__ import annotations

import argparse
import contextvars
import functools
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.services_bench import RawStore, stored_records, stored_request
from ledger import Signed
from ledger.application import Ledger
from ledger.config import StoreConfig
from ledger.domain.participant import Participant
from ledger.domain.trade import TradeRequest
from ledger.requests import participant_requester
from services import envelope, wire
from services.auth import Caller, Grant, Scope, _grant
from services.ca import Role
from services.envelope import Signer
from services.generated.valedger.v1 import common_pb2, trading_pb2
from services.ledger_pool import DEFAULT_TRADE_BATCH, LedgerPool
from services.trading import TradeEnvelopes, fill_trade_result

METHOD = "/valedger.v1.TradingService/RecordTrades"


class Desk:
    """An exchange, two parties and a signing key on a fresh ledger, and their trades."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        ledger.set_policy("home", "home_country", "KZ")
        ids = []
        for name in ("exchange", "buyer", "seller"):
            receipt = ledger.register_participant(f"reg-{name}", "ENTERPRISE", name, name,
                                                  "KZ")
            ledger.approve_participant(f"app-{name}", receipt.aggregate_id)
            ids.append(receipt.aggregate_id)
        self.exchange, self.buyer, self.seller = ids
        start = datetime.now(UTC) - timedelta(days=1)
        self.licence = ledger.grant_exchange_licence(
            "grant", self.exchange, ["spot"], start, start + timedelta(days=365)).aggregate_id
        self.signer = Signer.generate()
        ledger.register_key("key", self.exchange, self.signer.key_id, self.signer.public_key)
        self.serial = 0

    def sealed(self, count: int) -> list[common_pb2.SignedEnvelope]:
        """Returns ``count`` new signed domestic trades, timed now."""
        envelopes = []
        for _ in range(count):
            self.serial += 1
            envelopes.append(self.signer.seal(trading_pb2.TradePayload(
                request_id=f"r{self.serial}", exchange_licence_id=str(self.licence),
                exchange_trade_id=f"x{self.serial}", asset="BTC", quantity="0.001",
                price="500", quote_currency="USD", buyer_participant_id=str(self.buyer),
                seller_participant_id=str(self.seller), counterparty_country="KZ",
                wallet_kind=trading_pb2.WALLET_KIND_HOSTED,
                at=wire.timestamp(datetime.now(UTC)))))
        return envelopes

    def stream(self, pool: LedgerPool) -> tuple[TradeEnvelopes, contextvars.Context]:
        """Returns the exchange's desk of a RecordTrades stream and the stream's context
        (the exchange's grant), as the server makes them."""
        caller = Caller(Role.EXCHANGE, "bench-exchange", str(self.exchange))
        context = contextvars.copy_context()
        context.run(_grant.set, Grant(caller, Scope.OWN, METHOD))
        return TradeEnvelopes(pool, caller), context

    def verify(self, envelopes: list[common_pb2.SignedEnvelope]) -> None:
        """Verifies the signatures once, so the serving part finds them in memory."""
        now = datetime.now(UTC)
        holder = self.ledger.read_typed(self.exchange, Participant, "participant")
        refusals = self.ledger.envelopes.refusals(
            [Signed.by(envelope.stored(sealed), holder, now, now) for sealed in envelopes])
        assert not any(refusals), refusals

    def requests(self, envelopes: list[common_pb2.SignedEnvelope]) -> list[TradeRequest]:
        """Returns the trade requests of the envelopes as the ledger stores them (bounded
        by ``validate_trade``), which the raw baseline saves."""
        return [stored_request(sealed, self.licence, datetime.now(UTC))
                for sealed in envelopes]


def serve(desk: TradeEnvelopes, ledger: Ledger, batch: list[common_pb2.SignedEnvelope]
          ) -> trading_pb2.RecordTradesResponse:
    """Returns the response to one batch, made by RecordTrades' own steps."""
    prepared = [desk.prepare(sealed, "envelope") for sealed in batch]
    refusals = ledger.envelopes.refusals([signed for _, signed in prepared])
    assert not any(refusals), refusals
    trades = [trade for trade, _ in prepared]
    response = trading_pb2.RecordTradesResponse()
    add = response.results.add
    for receipt, trade in zip(ledger.record_trades(trades), trades, strict=True):
        fill_trade_result(add(), receipt, trade.request_id)
    return response


def serve_all(context: contextvars.Context, desk: TradeEnvelopes, ledger: Ledger,
              batches: list[list[common_pb2.SignedEnvelope]]) -> None:
    """Serves every batch in the stream's context (its grant)."""
    for batch in batches:
        context.run(serve, desk, ledger, batch)


def save_all(raw: RawStore, chunks: list[list[TradeRequest]], requester: str) -> None:
    """Saves every chunk's records as the raw baseline does, one transaction a chunk."""
    for chunk in chunks:
        raw.save(*(record for request in chunk
                   for record in stored_records(request, requester)))


def cpu_per_trade(work: Callable[[], object], trades: int) -> float:
    """Returns the CPU µs a trade of ``work``."""
    started = time.process_time()
    work()
    return (time.process_time() - started) / trades * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--part", choices=["both", "serve", "raw", "none"], default="both")
    args = parser.parse_args()
    size = DEFAULT_TRADE_BATCH
    with tempfile.TemporaryDirectory(prefix="valedger-work-") as tmp:
        ledger = Ledger(StoreConfig(url=f"sqlite:///{Path(tmp) / 'ledger.db'}",
                                    create_tables=True))
        raw_url = f"sqlite:///{Path(tmp) / 'raw.db'}"
        Ledger(StoreConfig(url=raw_url, create_tables=True)).close()  # the same tables
        raw = RawStore(env=StoreConfig(url=raw_url, create_tables=False).eventsourcing_env())
        market = Desk(ledger)
        pool = LedgerPool.open(ledger, workers=1, follower=None)
        desk, context = market.stream(pool)
        requester = participant_requester(market.exchange)
        warm = market.sealed(size)
        market.verify(warm)
        context.run(serve, desk, ledger, warm)
        figures: dict[str, list[float]] = {"serve": [], "raw": []}
        try:
            for _ in range(args.rounds):
                envelopes = market.sealed(args.trades)
                market.verify(envelopes)
                batches = [envelopes[i:i + size] for i in range(0, len(envelopes), size)]
                if args.part in ("both", "serve"):
                    figures["serve"].append(cpu_per_trade(functools.partial(
                        serve_all, context, desk, ledger, batches), args.trades))
                if args.part in ("both", "raw"):
                    requests = market.requests(envelopes)
                    chunks = [requests[i:i + size] for i in range(0, len(requests), size)]
                    figures["raw"].append(cpu_per_trade(functools.partial(
                        save_all, raw, chunks, requester), args.trades))
        finally:
            pool.executor.shutdown()
            raw.close()
            ledger.close()
    for part, values in figures.items():
        if values:
            print(f"{part}: best {min(values):.1f}, median {statistics.median(values):.1f} "
                  f"µs CPU a trade ({len(values)} rounds of {args.trades:,})")
    if figures["serve"] and figures["raw"]:
        print(f"raw ÷ serve, best rounds: {min(figures['raw']) / min(figures['serve']):.2f}")


if __name__ == "__main__":
    main()

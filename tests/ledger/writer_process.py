"""A separate OS process that records numbered trades into a shared store (a test helper).

Run as ``python -m tests.ledger.writer_process URL JSON``: it opens the ledger with table
creation off, prints ``ready``, waits for a line on stdin, then records its trades in small
batches and single commands (plus a retry of an earlier batch and one request id shared
with the other writer), and prints a JSON summary of how often it had to re-decide after an
optimistic-concurrency conflict.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from ledger.application import Ledger
from ledger.config import StoreConfig
from ledger.domain.trade import TradeRequest, WalletKind
from ledger.receipts import TradeReceipt
from ledger.trading import Trading
from tests.ledger.conftest import FULL_TRAVEL_RULE
from tests.ontime import on_time_ledger

T0 = datetime(2026, 3, 10, tzinfo=UTC)


class CountingTrading(Trading):
    """Trading that counts how many times it decided a batch of trades."""

    decisions = 0

    def _decide_and_save(self, requests: Sequence[TradeRequest], recorded_at: datetime,
                         look_up: bool) -> list[TradeReceipt]:
        self.decisions += 1
        return super()._decide_and_save(requests, recorded_at, look_up)


class CountingLedger(Ledger):
    """A Ledger whose trade use case counts its decisions."""

    name = Ledger.name  # the application name picks the tables: keep the ledger's

    def construct_trading(self) -> Trading:
        return CountingTrading(self, self.clock, self.envelopes, self.screening)

    @property
    def decisions(self) -> int:
        assert isinstance(self.trading, CountingTrading)
        return self.trading.decisions


def trade(spec: dict[str, str], request_id: str, at: datetime) -> TradeRequest:
    """Returns a 100 USD transfer to a self-hosted wallet (an outflow of the buyer)."""
    return TradeRequest(
        request_id=request_id, exchange_licence_id=UUID(spec["licence"]),
        exchange_trade_id=request_id, asset="BTC", quantity=Decimal(1), price=Decimal(100),
        quote_currency="USD", buyer_id=UUID(spec["buyer"]), seller_id=UUID(spec["seller"]),
        counterparty_vasp_id=None, counterparty_country="", wallet_kind=WalletKind.SELF_HOSTED,
        at=at, travel_rule=FULL_TRAVEL_RULE)


def main() -> None:
    """Records this writer's trades; prints ``ready`` and then a JSON summary."""
    url, spec = sys.argv[1], json.loads(sys.argv[2])
    writer, count = spec["writer"], int(spec["count"])
    ledger = on_time_ledger(StoreConfig(url=url, create_tables=False), cls=CountingLedger)
    print("ready", flush=True)
    sys.stdin.readline()
    commands = 0
    seq = 0
    batches: list[list[TradeRequest]] = []
    while seq < count:
        size = 1 + seq % 3  # batches of 1, 2 and 3 trades in turn
        batch = [trade(spec, f"{writer}:{n:05d}", T0 + timedelta(seconds=n))
                 for n in range(seq, min(seq + size, count))]
        ledger.record_trades(batch)
        batches.append(batch)
        commands += 1
        seq += len(batch)
    # Every trade so far was new: a decision beyond one per command met another writer.
    conflicts = ledger.decisions - commands
    replays = ledger.record_trades(batches[len(batches) // 2])  # a client retry
    shared = ledger.record_trades([trade(spec, "shared", T0)])
    ledger.close()
    print(json.dumps({"conflicts": conflicts,
                      "replayed": all(r.replayed for r in replays),
                      "shared_replayed": shared[0].replayed}), flush=True)


if __name__ == "__main__":
    main()

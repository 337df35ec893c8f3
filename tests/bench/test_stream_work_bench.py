"""The stream-work benchmark times real work: what it serves is recorded as RecordTrades
records it, and its raw baseline saves the same trades' records."""

from __future__ import annotations

from pathlib import Path

from eventsourcing.persistence import StoredEvent

from bench.services_bench import RawStore
from bench.stream_work_bench import Desk, save_all, serve
from ledger.application import Ledger
from ledger.config import StoreConfig
from ledger.domain.trade import Trade
from ledger.requests import participant_requester
from services.generated.valedger.v1 import trading_pb2
from services.ledger_pool import LedgerPool


def _fields(app: RawStore, stored: StoredEvent) -> dict[str, object]:
    """Returns a stored event's fields as the mapper decodes them, less its times."""
    event = app.mapper.to_domain_event(stored)
    return {k: v for k, v in vars(event).items() if k not in ("timestamp", "recorded_at")}


def test_served_trades_are_recorded_and_raw_saves_the_same_records(tmp_path: Path) -> None:
    ledger = Ledger(StoreConfig(url=f"sqlite:///{tmp_path / 'ledger.db'}",
                                create_tables=True))
    raw_url = f"sqlite:///{tmp_path / 'raw.db'}"
    Ledger(StoreConfig(url=raw_url, create_tables=True)).close()
    raw = RawStore(env=StoreConfig(url=raw_url, create_tables=False).eventsourcing_env())
    pool = LedgerPool.open(ledger, workers=1, follower=None)
    try:
        market = Desk(ledger)
        desk, context = market.stream(pool)
        envelopes = market.sealed(30)
        market.verify(envelopes)
        response = context.run(serve, desk, ledger, envelopes)
        assert [r.request_id for r in response.results] == [f"r{i}" for i in range(1, 31)]
        assert all(r.status == trading_pb2.TRADE_STATUS_RECORDED and not r.receipt.replayed
                   for r in response.results)
        served = {r.receipt.aggregate_id for r in response.results}
        stored = ledger.read_many([Trade.recorded_id(market.licence, f"x{i}")
                                   for i in range(1, 31)])
        assert {str(k) for k, v in stored.items() if isinstance(v, Trade)} == served
        save_all(raw, [market.requests(envelopes)], participant_requester(market.exchange))
        saved = raw.recorder.select_notifications(start=None, limit=100)
        assert {str(n.originator_id) for n in saved} == served
        # Raw stores what the ledger stores, field for field (the stamps' times aside):
        # a cheaper record (amounts as plain text, say) would flatter the baseline.
        ledger_events = {n.originator_id: n for n in ledger.recorder.select_notifications(
            start=None, limit=1000) if str(n.originator_id) in served}
        for raw_event in saved:
            ours = ledger_events[raw_event.originator_id]
            assert raw_event.topic == ours.topic
            assert _fields(raw, raw_event) == _fields(raw, ours)
    finally:
        pool.executor.shutdown()
        raw.close()
        ledger.close()

"""The PostgreSQL recorder of ``ledger.postgres``: big transactions, conflicts, id order."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from eventsourcing.cipher import AESCipher
from eventsourcing.persistence import IntegrityError, RecordConflictError, StoredEvent

from ledger.config import StoreConfig
from ledger.postgres import LedgerPostgresRecorder
from ledger.receipts import TradeStatus
from tests.ledger.conftest import build_market, notifications
from tests.ontime import on_time_ledger


def stored(originator: uuid.UUID, version: int, size: int = 100) -> StoredEvent:
    """Returns a stored event with ``size`` random bytes of state."""
    return StoredEvent(originator, version, "tests:Event", os.urandom(size))


@pytest.fixture
def recorder(postgres_url: str) -> Iterator[LedgerPostgresRecorder]:
    """Returns the recorder a Ledger on PostgreSQL uses."""
    ledger = on_time_ledger(StoreConfig(url=postgres_url))
    try:
        assert isinstance(ledger.recorder, LedgerPostgresRecorder)
        yield ledger.recorder
    finally:
        ledger.close()


@pytest.mark.timeout(60)
def test_a_transaction_of_several_megabytes_commits(recorder: LedgerPostgresRecorder) -> None:
    # eventsourcing's pipelined insert hangs for ever on parameters above about 1 MB.
    events = [stored(uuid.uuid4(), 1, 3000) for _ in range(1000)]
    ids = recorder.insert_events(events)
    assert ids is not None and len(ids) == 1000
    assert list(ids) == sorted(ids) and len(set(ids)) == 1000
    assert recorder.max_notification_id() == ids[-1]


def test_a_conflict_inserts_nothing_of_the_transaction(recorder: LedgerPostgresRecorder
                                                       ) -> None:
    taken = uuid.uuid4()
    recorder.insert_events([stored(taken, 1)])
    before = recorder.max_notification_id()
    fresh = uuid.uuid4()
    with pytest.raises(IntegrityError) as caught:
        recorder.insert_events([stored(fresh, 1), stored(taken, 1)])
    assert isinstance(caught.value, RecordConflictError)
    assert recorder.max_notification_id() == before
    assert recorder.select_events(fresh) == []
    assert recorder.insert_events([]) is None


@pytest.mark.timeout(120)
def test_a_batch_of_a_thousand_encrypted_trades_commits(postgres_url: str) -> None:
    ledger = on_time_ledger(StoreConfig(url=postgres_url, cipher_key=AESCipher.create_key(32)))
    try:
        market = build_market(ledger)
        big = {"originator": {"persons": [{"names": [{"primary": os.urandom(90).hex()}]}
                                          for _ in range(5)]}}  # ~1 kB of state per event
        before = notifications(ledger)
        receipts = ledger.record_trades(
            [market.trade(f"t{i}", travel_rule=big) for i in range(1000)])
        assert all(r.status is TradeStatus.RECORDED for r in receipts)
        assert notifications(ledger) - before == 1000
    finally:
        ledger.close()

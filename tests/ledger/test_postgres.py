"""The PostgreSQL recorder of ``ledger.postgres``: big transactions, conflicts, id order,
one statement per append under the table lock, stores made before its function, tables
made by several servers at once."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator, Sequence

import psycopg
import pytest
from eventsourcing.cipher import AESCipher
from eventsourcing.persistence import IntegrityError, RecordConflictError, StoredEvent

from ledger.config import StoreConfig
from ledger.history import HistoryIndex
from ledger.postgres import APPEND_FUNCTION, APPEND_ONE_FUNCTION, LedgerPostgresRecorder
from ledger.receipts import TradeStatus
from ledger.request_index import SEPARATOR, RequestKey, trades_of_requests
from ledger.tables import SCHEMA_LOCK_STATEMENT
from tests.conftest import PostgresServer, operations_guide_roles
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


# ------------------------------------------------------------ one statement per append


def keys_for(events: list[StoredEvent], prefix: str) -> list[RequestKey]:
    """Returns one trade request key per event."""
    return [RequestKey("exchange:x", f"{prefix}-{i}", uuid.UUID(str(e.originator_id)))
            for i, e in enumerate(events)]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("count", [1, 3])
def test_an_append_takes_the_table_lock_inside_its_statement(
        recorder: LedgerPostgresRecorder, postgres_url: str, count: int) -> None:
    # One event goes through the one-event function, several through the other.
    table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
    appended: list[Sequence[int] | None] = []
    with psycopg.connect(postgres_url) as other:
        other.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")  # held until commit
        events = [stored(uuid.uuid4(), 1) for _ in range(count)]
        writer = threading.Thread(target=lambda: appended.append(
            recorder.insert_events(events, request_keys=keys_for(events, "locked"))))
        writer.start()
        writer.join(0.5)
        assert writer.is_alive() and not appended, "the append did not wait for the lock"
        other.commit()
    writer.join(10)
    ids = appended[0]
    assert ids is not None and len(ids) == count and list(ids) == sorted(ids)
    assert recorder.appends_in_one_statement and recorder.appends_one_as_values
    assert trades_of_requests(recorder, "exchange:x", ["locked-0", f"locked-{count - 1}"]) == {
        "locked-0": events[0].originator_id,
        f"locked-{count - 1}": events[count - 1].originator_id}


def test_a_request_key_taken_already_appends_nothing(recorder: LedgerPostgresRecorder
                                                     ) -> None:
    first = [stored(uuid.uuid4(), 1)]
    recorder.insert_events(first, request_keys=keys_for(first, "r"))
    before = recorder.max_notification_id()
    fresh = [stored(uuid.uuid4(), 1), stored(uuid.uuid4(), 1)]
    with pytest.raises(IntegrityError):
        recorder.insert_events(fresh, request_keys=keys_for(fresh, "r"))  # r-0 again
    assert recorder.max_notification_id() == before
    assert recorder.select_events(fresh[0].originator_id) == []
    assert trades_of_requests(recorder, "exchange:x", ["r-0", "r-1"]) == {
        "r-0": first[0].originator_id}


def drop_function(recorder: LedgerPostgresRecorder, postgres_url: str, name: str) -> None:
    """Drops one of the store's append functions, as in a store made before it existed."""
    function = name.format(table=recorder.events_table_name)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP FUNCTION "{recorder.datastore.schema}"."{function}"')


@pytest.mark.timeout(60)
def test_one_event_of_several_megabytes_appends_as_plain_values(
        recorder: LedgerPostgresRecorder, postgres_url: str) -> None:
    # A proof batch's state is one event of some 6 MB: sent as a plain bytea, not inside
    # an array (the array function is dropped here, so only the other can have run).
    drop_function(recorder, postgres_url, APPEND_FUNCTION)
    event = stored(uuid.uuid4(), 1, 6_000_000)
    ids = recorder.insert_events([event], request_keys=keys_for([event], "big"))
    assert ids is not None and len(ids) == 1 and recorder.max_notification_id() == ids[0]
    assert recorder.appends_in_one_statement and recorder.appends_one_as_values
    [back] = recorder.select_events(event.originator_id)
    assert (back.originator_version, back.topic, back.state) == (1, event.topic, event.state)
    assert trades_of_requests(recorder, "exchange:x", ["big-0"]) == {
        "big-0": event.originator_id}
    taken = stored(uuid.uuid4(), 1)
    before = recorder.max_notification_id()
    with pytest.raises(IntegrityError):  # its request key is taken: nothing appended
        recorder.insert_events([taken], request_keys=[RequestKey(
            "exchange:x", "big-0", uuid.UUID(str(taken.originator_id)))])
    with pytest.raises(IntegrityError) as caught:  # its event is taken
        recorder.insert_events([stored(uuid.UUID(str(event.originator_id)), 1)])
    assert isinstance(caught.value, RecordConflictError)
    assert recorder.max_notification_id() == before
    assert recorder.select_events(taken.originator_id) == []


def test_a_store_made_before_the_one_event_function_appends_one_event_as_arrays(
        recorder: LedgerPostgresRecorder, postgres_url: str,
        caplog: pytest.LogCaptureFixture) -> None:
    drop_function(recorder, postgres_url, APPEND_ONE_FUNCTION)
    events = [stored(uuid.uuid4(), 1), stored(uuid.uuid4(), 1)]
    with caplog.at_level(logging.WARNING, logger="ledger.postgres"):
        first = recorder.insert_events(events[:1], request_keys=keys_for(events[:1], "a"))
        second = recorder.insert_events(events[1:], request_keys=keys_for(events[1:], "b"))
    assert first is not None and second is not None and second[0] > first[0]
    assert not recorder.appends_one_as_values and recorder.appends_in_one_statement
    assert [r.getMessage() for r in caplog.records if "one-event" in r.getMessage()] == [
        "the store has no one-event append function: single events are appended as "
        "arrays, slower for large ones; run `valedger db init` on it to add it"]
    assert trades_of_requests(recorder, "exchange:x", ["a-0", "b-0"]) == {
        "a-0": events[0].originator_id, "b-0": events[1].originator_id}
    # `valedger db init` makes the tables again, and with them the function.
    recorder.create_table()
    recorder.appends_one_as_values = True
    more = [stored(uuid.uuid4(), 1)]
    later = recorder.insert_events(more, request_keys=keys_for(more, "c"))
    assert later is not None and later[0] > second[0] and recorder.appends_one_as_values


def test_request_ids_holding_the_separator_still_append(recorder: LedgerPostgresRecorder
                                                        ) -> None:
    # The ledger refuses such request ids (control characters); the recorder still
    # stores them whole, sent as arrays instead of joined texts.
    events = [stored(uuid.uuid4(), 1), stored(uuid.uuid4(), 1)]
    odd = [RequestKey("exchange:x", f"a{SEPARATOR}b", uuid.UUID(str(events[0].originator_id))),
           RequestKey("exchange:y", "c", uuid.UUID(str(events[1].originator_id)))]
    ids = recorder.insert_events(events, request_keys=odd)
    assert ids is not None and len(ids) == 2
    assert trades_of_requests(recorder, "exchange:x", [f"a{SEPARATOR}b", "a"]) == {
        f"a{SEPARATOR}b": events[0].originator_id}
    assert trades_of_requests(recorder, "exchange:y", ["c"]) == {"c": events[1].originator_id}


def test_a_store_made_before_the_append_function_is_written_statement_by_statement(
        recorder: LedgerPostgresRecorder, postgres_url: str,
        caplog: pytest.LogCaptureFixture) -> None:
    drop_function(recorder, postgres_url, APPEND_FUNCTION)
    events = [stored(uuid.uuid4(), 1) for _ in range(2)]
    with caplog.at_level(logging.WARNING, logger="ledger.postgres"):
        ids = recorder.insert_events(events, request_keys=keys_for(events, "old"))
    assert ids is not None and len(ids) == 2 and list(ids) == sorted(ids)
    assert not recorder.appends_in_one_statement
    assert "valedger db init" in caplog.text
    assert trades_of_requests(recorder, "exchange:x", ["old-1"]) == {
        "old-1": events[1].originator_id}
    # `valedger db init` makes the tables again, and with them the function.
    recorder.create_table()
    recorder.appends_in_one_statement = True
    more = [stored(uuid.uuid4(), 1)]
    later = recorder.insert_events(more, request_keys=keys_for(more, "new"))
    assert later is not None and later[0] > ids[-1] and recorder.appends_in_one_statement


def test_the_runtime_role_of_the_operations_guide_appends(postgres_server: PostgresServer
                                                          ) -> None:
    # ops/README.md: an owner makes the schema (`valedger db init`); the servers' role may
    # only select, insert and update. The append function runs with the caller's rights.
    with operations_guide_roles(postgres_server) as (owner, runtime, name):
        made = on_time_ledger(StoreConfig(url=owner.url(name)))  # `valedger db init`
        HistoryIndex(made)
        made.close()
        ledger = on_time_ledger(StoreConfig(url=runtime.url(name), create_tables=False))
        try:
            assert isinstance(ledger.recorder, LedgerPostgresRecorder)
            history = HistoryIndex(ledger)  # as every server opens it (services.ledger_pool)
            market = build_market(ledger)
            receipt = ledger.record_trade(market.trade("as-runtime-role"))
            assert receipt.status is TradeStatus.RECORDED
            assert ledger.recorder.appends_in_one_statement
            assert history.catch_up() == ledger.recorder.max_notification_id()
        finally:
            ledger.close()


@pytest.mark.timeout(120)
def test_ledgers_opened_together_on_a_new_store_all_open(postgres_url: str) -> None:
    # Servers (or `valedger db init` and a server) started at once on a new store: each
    # makes the missing tables, one after another under the schema lock.
    count = 6
    start = threading.Barrier(count)
    opened: list[LedgerPostgresRecorder] = []
    failures: list[BaseException] = []

    def open_ledger() -> None:
        start.wait()
        try:
            ledger = on_time_ledger(StoreConfig(url=postgres_url, create_tables=True))
        except BaseException as error:  # reported below
            failures.append(error)
            return
        opened.append(ledger.recorder)
        ledger.close()

    threads = [threading.Thread(target=open_ledger) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(100)
    assert not failures, failures
    assert len(opened) == count
    ledger = on_time_ledger(StoreConfig(url=postgres_url, create_tables=False))
    try:
        build_market(ledger)  # the tables they made take records
    finally:
        ledger.close()


WAITING_FOR_AN_ADVISORY_LOCK = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database "
    "= (SELECT oid FROM pg_database WHERE datname = current_database())")


@pytest.mark.timeout(60)
def test_tables_are_made_under_the_schema_lock(postgres_url: str) -> None:
    made: list[bool] = []
    with psycopg.connect(postgres_url) as other:
        other.execute(SCHEMA_LOCK_STATEMENT)  # held until commit
        maker = threading.Thread(target=lambda: made.append(on_time_ledger(
            StoreConfig(url=postgres_url, create_tables=True)).close() is None))
        maker.start()
        with psycopg.connect(postgres_url, autocommit=True) as watcher:
            deadline = time.monotonic() + 30
            while watcher.execute(WAITING_FOR_AN_ADVISORY_LOCK).fetchone() == (0,):
                assert maker.is_alive() and not made, "the tables were made without the lock"
                assert time.monotonic() < deadline, "the maker never asked for the lock"
                time.sleep(0.05)
        assert maker.is_alive() and not made  # it waits for the lock
        other.commit()
    maker.join(30)
    assert made == [True]

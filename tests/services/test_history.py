"""History over mTLS: filtered pages through the index, and StreamEvents across a restart
(SQLite and PostgreSQL); event messages from stored state against those of domain events."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import grpc
import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    JSONTranscoder,
    Mapper,
    Notification,
    Transcoding,
)

from ledger.application import Ledger
from ledger.config import StoreConfig
from ledger.domain.licence import ExchangeLicence, MiningLicence
from ledger.history import HistoryIndex, HistoryRecord
from services import wire
from services.demo import DemoResult
from services.generated.valedger.v1 import common_pb2, history_pb2
from services.history import EVENT_NAMES, fill_event, fill_event_of_event
from tests.ontime import on_time_ledger
from tests.services.harness import NOW, World, build_world, trade


@pytest.fixture(params=["sqlite", "postgres"], scope="module")
def history_world(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root: Path = tmp_path_factory.mktemp("history")
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'ledger.db'}"
    else:
        server = request.getfixturevalue("postgres_server")
        url = server.url(server.create_database())
    world = build_world(root, url)
    with world.client("exchange_x") as ex:
        for day in range(20):  # each day's trades sent that day (the server's clock)
            at = datetime(2026, 6, 1 + day, tzinfo=UTC)
            world.clock.set(at + timedelta(hours=1))
            ex.record_trades([trade(world, f"h-{i}", at=wire.timestamp(at))
                              for i in range(60) if i % 20 == day])
    world.clock.set(NOW)
    try:
        yield world
    finally:
        world.stop()


def all_positions(world: World) -> list[int]:
    with world.client("regulator") as reg:
        return [e.position for e in reg.list_events(page_size=1000)]


def test_pages_follow_tokens_without_gap_or_repeat(history_world: World) -> None:
    world = history_world
    with world.client("exchange_x") as ex:
        pages = []
        token = ""
        while True:
            page = ex.history.ListEvents(history_pb2.ListEventsRequest(
                participant_id=world.ids["exchange_x"], page_size=7, page_token=token),
                timeout=10)
            pages.append([e.position for e in page.events])
            token = page.next_page_token
            if not token:
                break
    flat = [p for page in pages for p in page]
    assert all(len(page) == 7 for page in pages[:-1])
    assert flat == sorted(set(flat))
    # exchange_x: its registration, approval, key, licence grant and 60 trades.
    with world.client("regulator") as reg:
        every = list(reg.list_events(page_size=1000))
    mine = [e.position for e in every if e.aggregate_id in (
        world.ids["exchange_x"], world.ids["licence_exchange_x"])
        or e.licence_id == world.ids["licence_exchange_x"]]
    assert len(mine) == 4 + 60
    assert flat == mine


def test_filters_by_type_licence_and_time(history_world: World) -> None:
    world = history_world
    with world.client("regulator") as reg:
        trades = list(reg.list_events(licence_id=world.ids["licence_exchange_x"],
                                      event_types=[common_pb2.EVENT_TYPE_TRADE_RECORDED]))
        window = list(reg.list_events(
            participant_id=world.ids["buyer"], event_types=[common_pb2.EVENT_TYPE_TRADE_RECORDED],
            start_time=wire.timestamp(datetime(2026, 6, 5, tzinfo=UTC)),
            end_time=wire.timestamp(datetime(2026, 6, 7, tzinfo=UTC))))
        grants = list(reg.list_events(event_types=[
            common_pb2.EVENT_TYPE_MINING_LICENCE_GRANTED]))
    assert len(trades) == 60
    assert all(e.licence_id == world.ids["licence_exchange_x"] for e in trades)
    # Days 5 and 6 of each 20-day cycle: trades 4, 5, 24, 25, 44, 45.
    assert sorted(str(e.data["request_id"]) for e in window) == sorted(
        f"h-{i}" for i in (4, 5, 24, 25, 44, 45))
    assert {e.aggregate_id for e in grants} == {world.ids["licence_miner_a"],
                                                world.ids["licence_miner_b"]}


def test_page_token_must_match_filters(history_world: World) -> None:
    world = history_world
    with world.client("regulator") as reg:
        first = reg.history.ListEvents(history_pb2.ListEventsRequest(page_size=2), timeout=10)
        with pytest.raises(grpc.RpcError) as caught:
            reg.history.ListEvents(history_pb2.ListEventsRequest(
                page_size=2, page_token=first.next_page_token,
                participant_id=world.ids["buyer"]), timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_stream_replays_then_follows_across_a_restart(history_world: World) -> None:
    world = history_world
    expected_before = all_positions(world)
    seen: list[int] = []
    with world.client("auditor") as auditor:
        stream = auditor.history.StreamEvents(history_pb2.StreamEventsRequest(), timeout=30)
        for message in stream:
            seen.append(message.event.position)
            if len(seen) == len(expected_before) // 2:
                break
        stream.cancel()
    # The server goes down mid-way and comes back on the same store and port.
    world.stop()
    world.start()
    with world.client("exchange_x") as ex:
        ex.record_trades([trade(world, f"after-restart-{i}") for i in range(5)])
    expected = all_positions(world)
    with world.client("auditor") as auditor:
        stream = auditor.history.StreamEvents(
            history_pb2.StreamEventsRequest(after_position=seen[-1]), timeout=30)
        live_written = threading.Event()
        for message in stream:
            seen.append(message.event.position)
            if len(seen) == len(expected) and not live_written.is_set():
                # Now follow live: a new write must arrive on the open stream.
                live_written.set()
                with world.client("exchange_x") as ex:
                    ex.record_trade(trade(world, "live-1"))
            if len(seen) > len(expected) and seen[-1] == max(all_positions(world)):
                break
        stream.cancel()
    assert seen == all_positions(world)
    assert len(seen) == len(set(seen))


def test_live_stream_is_woken_by_the_store_not_by_polling(history_world: World) -> None:
    """On PostgreSQL a new event reaches an open stream through LISTEN/NOTIFY even when the
    poll interval is far longer than the wait; on SQLite polling delivers it."""
    import time

    world = history_world
    assert world.server is not None
    backend = world.server.backend
    is_postgres = backend.ledger.config.is_postgres
    assert backend.log_signal is not None
    backend.poll_seconds = 60.0 if is_postgres else 0.05
    backend.log_signal.safety_poll_seconds = 60.0  # only a notification can be quick
    try:
        last = max(all_positions(world))
        arrived: list[float] = []
        with world.client("auditor") as auditor:
            stream = auditor.history.StreamEvents(
                history_pb2.StreamEventsRequest(after_position=last), timeout=30)
            time.sleep(1.5)  # the stream is now waiting for the log to grow
            sent = time.monotonic()
            with world.client("exchange_x") as ex:
                ex.record_trade(trade(world, f"woken-{time.time_ns()}"))
            for _message in stream:
                arrived.append(time.monotonic() - sent)
                break
            stream.cancel()
        assert arrived and arrived[0] < 5.0
        if is_postgres:
            assert backend.log_signal is not None and backend.log_signal.listening
    finally:
        backend.poll_seconds = 0.02
        backend.log_signal.safety_poll_seconds = 1.0


def message_of_state(record: HistoryRecord) -> history_pb2.Event:
    """Returns the wire form of a record as ListEvents builds it (from stored state)."""
    message = history_pb2.Event()
    fill_event(message, record)
    return message


def message_of_event(record: HistoryRecord) -> history_pb2.Event:
    """Returns the wire form of a record built from its decoded domain event."""
    message = history_pb2.Event()
    fill_event_of_event(message, record)
    return message


class _EventNotDecoded(HistoryRecord):
    """A record whose domain event must not be needed."""

    @property
    def event(self) -> Any:
        raise AssertionError("the stored-state path decoded the domain event")


def add_lifecycle_events(ledger: Ledger) -> None:
    """Appends the kinds of event the demo does not record: amendments, suspensions,
    reinstatements, renewals, revocations, expiries, a deregistration and a resolved
    alert."""
    at = datetime(2027, 6, 1, tzinfo=UTC)
    mining = ledger.list_licences(kind=MiningLicence)
    exchange = ledger.list_licences(kind=ExchangeLicence)[0]
    ledger.amend_mining_capacity("t-amend", mining[0].id, Decimal("1.5"), Decimal(25), at=at)
    for renewed in (mining[1], exchange):
        ledger.renew_licence(f"t-renew-{renewed.id}", renewed.id,
                             renewed.valid_until + timedelta(days=365),
                             at=renewed.valid_until - timedelta(days=1))
    for licence in (mining[0], exchange):
        ledger.suspend_licence(f"t-susp-{licence.id}", licence.id, "audit", at=at)
        ledger.reinstate_licence(f"t-rein-{licence.id}", licence.id, at=at)
        ledger.revoke_licence(f"t-revo-{licence.id}", licence.id, "audit", at=at)
    ledger.expire_licences("t-expire", at=datetime(2099, 1, 1, tzinfo=UTC))
    holder = ledger.get_participant(mining[1].participant_id)
    ledger.revoke_key("t-key", holder.id, next(iter(holder.keys)), at=at)
    ledger.suspend_participant("t-psusp", holder.id, "audit", at=at)
    ledger.reinstate_participant("t-prein", holder.id, at=at)
    ledger.deregister_participant("t-dereg", holder.id, "closed", at=at)
    ledger.resolve_alert("t-resolve", ledger.list_alerts()[0].id, "auditor", "checked", at=at)


def test_event_messages_from_stored_state_equal_those_of_domain_events(
        demo: DemoResult, tmp_path: Path) -> None:
    cipher_key = (demo.workdir / "keys" / "cipher.key").read_text().strip()
    shutil.copy(demo.workdir / "ledger.db", tmp_path / "ledger.db")
    ledger = on_time_ledger(StoreConfig(f"sqlite:///{tmp_path / 'ledger.db'}", cipher_key,
                                        create_tables=False))
    try:
        add_lifecycle_events(ledger)
        records = HistoryIndex(ledger).follow(0, limit=1_000_000)
        # The encrypted store now holds every kind of event the ledger records.
        assert {r.name for r in records} >= set(EVENT_NAMES), sorted(
            set(EVENT_NAMES) - {r.name for r in records})
        for record in records:
            fast = message_of_state(_EventNotDecoded(record.notification, record.name,
                                                  ledger.mapper))
            assert fast == message_of_event(record), record.name
    finally:
        ledger.close()


class _Mystery:
    def __init__(self, word: str) -> None:
        self.word = word


class _MysteryAsWord(Transcoding):
    type = _Mystery
    name = "mystery_word"

    def encode(self, obj: _Mystery) -> str:
        return obj.word

    def decode(self, data: str) -> _Mystery:
        return _Mystery(data)


def test_a_value_stored_with_another_transcoding_goes_through_the_domain_event() -> None:
    # Stored as the ledger never would (its transcoder knows ids, decimals and times only),
    # the record still has a wire form: the one its domain event gives.
    transcoder = JSONTranscoder()
    transcoder.register(DatetimeAsISO())
    transcoder.register(_MysteryAsWord())
    at = datetime(2026, 5, 1, tzinfo=UTC)
    state = transcoder.encode({"timestamp": at, "note": _Mystery("odd"), "count": 3})
    notification = Notification(id=9, originator_id=uuid4(), originator_version=2,
                                topic="ledger.domain.trade:Trade.Recorded", state=state)
    record = HistoryRecord(notification, "Trade.Recorded", Mapper(transcoder=transcoder))
    with pytest.raises(wire.UnknownStoredValue):
        wire.fill_stored_struct(history_pb2.Event().data, record.stored_state(), frozenset())
    message = message_of_state(record)
    assert message == message_of_event(record)
    assert message.data.fields["note"].struct_value.fields["word"].string_value == "odd"
    assert message.data.fields["count"].number_value == 3
    assert message.at.seconds == int(at.timestamp())

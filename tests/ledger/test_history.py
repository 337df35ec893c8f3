"""The history index: subjects, concrete event names, resumption and idempotent following."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from eventsourcing.persistence import JSONTranscoder

from ledger.config import StoreConfig
from ledger.errors import StoreUnavailable
from ledger.history import HistoryIndex, HistoryQuery
from tests.ontime import on_time_ledger


def test_index_by_subject_type_and_time(store_url: str) -> None:
    ledger = on_time_ledger(StoreConfig(url=store_url))
    try:
        alice = ledger.register_participant("reg-a", "ENTERPRISE", "Alice", "1", "KZ").aggregate_id
        bob = ledger.register_participant("reg-b", "ENTERPRISE", "Bob", "2", "KZ").aggregate_id
        start = datetime(2026, 1, 1, tzinfo=UTC)
        ledger.approve_participant("app-a", alice, at=start)
        licence = ledger.grant_mining_licence(
            "grant-a", alice, "north", "z", "meter-a", Decimal(5), Decimal(20), ["3c7461672d313e"],
            start, datetime(2028, 1, 1, tzinfo=UTC), at=datetime(2026, 2, 1, tzinfo=UTC)
        ).aggregate_id
        ledger.suspend_licence("susp-a", licence, "late report",
                               at=datetime(2026, 3, 1, tzinfo=UTC))
        index = HistoryIndex(ledger)
        names = [r.name for r in index.search(HistoryQuery(participant_id=str(alice)))]
        # The grant's entry in the national mining register is about the licence too.
        assert names == ["Participant.Registered", "Participant.Approved",
                         "MiningLicence.Granted", "MiningRegister.Bound",
                         "MiningLicence.Suspended"]
        assert [r.name for r in index.search(HistoryQuery(participant_id=str(bob)))] == [
            "Participant.Registered"]
        suspended = index.search(HistoryQuery(event_names=("MiningLicence.Suspended",)))
        assert [r.notification.originator_id for r in suspended] == [licence]
        march = index.search(HistoryQuery(licence_id=str(licence),
                                          start=datetime(2026, 2, 15, tzinfo=UTC)))
        assert [r.name for r in march] == ["MiningLicence.Suspended"]
        paged = index.positions(HistoryQuery(participant_id=str(alice), after_position=2,
                                             limit=1))
        assert len(paged) == 1 and paged[0] > 2
        # A second index over the same store resumes at the end and indexes new records once.
        again = HistoryIndex(ledger)
        assert again.position == index.position
        ledger.reinstate_licence("rein-a", licence, at=datetime(2026, 4, 1, tzinfo=UTC))
        index.catch_up()
        again.catch_up()
        names = [r.name for r in again.search(HistoryQuery(licence_id=str(licence)))]
        assert names == ["MiningLicence.Granted", "MiningRegister.Bound",
                         "MiningLicence.Suspended", "MiningLicence.Reinstated"]
        # Without a cipher key the stored subjects are the ids themselves.
        assert set(index.subjects(str(licence))) == {str(licence), str(alice)}
    finally:
        ledger.close()


def test_stored_state_is_the_events_json_before_transcodings_are_decoded(
        store_url: str) -> None:
    key = base64.b64encode(bytes(range(32))).decode()
    ledger = on_time_ledger(StoreConfig(url=store_url, cipher_key=key))
    try:
        # The fast wire path of services.history parses stored state as plain JSON.
        assert isinstance(ledger.mapper.transcoder, JSONTranscoder)
        assert ledger.mapper.cipher is not None and ledger.mapper.compressor is not None
        alice = ledger.register_participant("reg-a", "ENTERPRISE", "Alice", "1", "KZ").aggregate_id
        ledger.approve_participant("app-a", alice, at=datetime(2026, 1, 1, tzinfo=UTC))
        ledger.grant_mining_licence(
            "grant-a", alice, "north", "z", "meter-a", Decimal("5.5"), Decimal(20),
                ["3c7461672d323e"],
            datetime(2026, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))
        records = HistoryIndex(ledger).follow(0)
        assert len(records) == 5  # with the register's creation and the grant's entry
        for record in records:
            state = record.stored_state()
            assert json.loads(json.dumps(state)) == state
            decoded = ledger.mapper.transcoder.decode(json.dumps(state).encode())
            expected = {k: v for k, v in vars(record.event).items()
                        if k not in ("originator_id", "originator_version")}
            assert decoded == expected
        granted = records[2].stored_state()
        assert granted["power_mw"] == {"_type_": "decimal_str", "_data_": "5.5"}
        assert granted["participant_id"] == {"_type_": "uuid_hex", "_data_": alice.hex}
    finally:
        ledger.close()


def test_an_encrypted_store_keeps_subjects_pseudonymised(store_url: str) -> None:
    from tests.ledger.conftest import build_market

    key = base64.b64encode(bytes(range(32))).decode()
    ledger = on_time_ledger(StoreConfig(url=store_url, cipher_key=key))
    try:
        market = build_market(ledger)
        receipt = ledger.record_trade(market.trade("t1"))
        index = HistoryIndex(ledger)
        index.catch_up()
        stored = index._fetch("SELECT subject FROM history_subjects") + \
            index._fetch("SELECT subjects FROM history_aggregates")
        text = " ".join(str(row[0]) for row in stored)
        for party in (market.buyer, market.seller, market.exchange, market.licence):
            assert str(party) not in text  # no who-traded-with-whom in the clear
        found = index.search(HistoryQuery(participant_id=str(market.buyer)))
        assert [r.name for r in found][-1] == "Trade.Recorded"
        assert index.concerns(str(receipt.trade_id), str(market.seller))
        assert not index.concerns(str(receipt.trade_id), str(market.licence) + "0")
    finally:
        ledger.close()


def test_a_store_opened_without_creating_tables_does_not_make_the_index_tables(
        tmp_path: Path) -> None:
    # A server whose role may not create tables (ops/README.md) opens the index without a
    # CREATE; a store made without the index's tables is refused naming `valedger db init`.
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    on_time_ledger(StoreConfig(url=url)).close()  # the ledger's tables, not the index's
    ledger = on_time_ledger(StoreConfig(url=url, create_tables=False))
    try:
        with pytest.raises(StoreUnavailable, match=r"history index .*valedger db init"):
            HistoryIndex(ledger)
    finally:
        ledger.close()
    ledger = on_time_ledger(StoreConfig(url=url))
    try:
        HistoryIndex(ledger)  # `valedger db init` makes them
    finally:
        ledger.close()
    ledger = on_time_ledger(StoreConfig(url=url, create_tables=False))
    try:
        ledger.register_participant("reg-a", "ENTERPRISE", "Alice", "1", "KZ")
        assert HistoryIndex(ledger).catch_up() == 1
    finally:
        ledger.close()

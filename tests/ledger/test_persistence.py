"""The one global log on SQLite and PostgreSQL: encryption at rest, exact decimals and UTC
times, clear errors for an unusable store, and two OS processes writing one PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest
from eventsourcing.cipher import AESCipher

from ledger.application import Ledger
from ledger.config import StoreConfig, persistence_env
from ledger.domain.licence import MiningLicence
from ledger.domain.meter_reading import MeterReading
from ledger.domain.outflow import OutflowAccount
from ledger.domain.output_report import OutputReport
from ledger.domain.participant import Participant
from ledger.domain.trade import Trade
from ledger.errors import StoreKeyError, StoreUnavailable
from tests.ledger.conftest import (
    END,
    FULL_TRAVEL_RULE,
    START,
    T0,
    build_market,
    events_of,
)
from tests.ontime import on_time_ledger

ROOT = Path(__file__).resolve().parents[2]
LEGAL_NAME = "Quetzalcoatl Hashworks Ltd"
TAX_ID = "TAX-7731-QZ-0042"
ORIGINATOR = "Xochiquetzal Originator"
SECRETS = (LEGAL_NAME, TAX_ID, ORIGINATOR)


# ------------------------------------------------------------------- scanning the store


def stored_bytes(url: str) -> bytes:
    """Returns everything the store holds: every SQLite file, or every PostgreSQL row.

    PostgreSQL rows are read as their text form (bytea as hex), so both the raw and the
    hex spelling of a value are searched by ``holds``.
    """
    env = persistence_env(url)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        db = Path(env["SQLITE_DBNAME"])
        return b"".join(p.read_bytes() for p in db.parent.iterdir()
                        if p.name.startswith(db.name))
    schema = parse_qs(urlparse(url).query).get("schema", ["public"])[0]
    chunks: list[str] = []
    with psycopg.connect(host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
                         user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"],
                         dbname=env["POSTGRES_DBNAME"]) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,)).fetchall()
        assert tables, "the store has no tables to scan"
        for (table,) in tables:
            rows = conn.execute(f'SELECT t::text FROM "{schema}"."{table}" AS t').fetchall()
            chunks.extend(row[0] for row in rows)
    return "\n".join(chunks).encode()


def holds(blob: bytes, value: str) -> bool:
    """Returns True when ``value`` appears in ``blob`` raw or hex-encoded."""
    raw = value.encode()
    return raw in blob or raw.hex().encode() in blob


def record_secrets(ledger: Ledger) -> Any:
    """Records a participant and a trade whose fields carry the known SECRETS."""
    market = build_market(ledger)
    participant = ledger.register_participant("secret", "ENTERPRISE", LEGAL_NAME, TAX_ID,
                                              "MT", [LEGAL_NAME], at=START)
    travel = {**FULL_TRAVEL_RULE, "originator": {
        "persons": [{"names": [{"primary": ORIGINATOR, "secondary": "X"}],
                     "customer_number": "C-1"}], "accounts": ["KZ01"]}}
    ledger.record_trade(market.trade("secret-trade", "5000", travel_rule=travel))
    return participant.aggregate_id


def test_plain_store_shows_field_values_so_the_scan_can_see_them(store_url: str) -> None:
    # Control for the encryption test: without cipher and compression the scan finds them.
    plain = StoreConfig(url=store_url, extra={"COMPRESSOR_TOPIC": ""})
    ledger = on_time_ledger(plain)
    try:
        record_secrets(ledger)
    finally:
        ledger.close()
    blob = stored_bytes(store_url)
    assert all(holds(blob, secret) for secret in SECRETS)


def test_encrypted_store_never_shows_field_values(store_url: str) -> None:
    key = AESCipher.create_key(32)
    # Compression off too, so only the cipher stands between the values and the disk.
    config = StoreConfig(url=store_url, cipher_key=key, extra={"COMPRESSOR_TOPIC": ""})
    ledger = on_time_ledger(config)
    try:
        participant_id = record_secrets(ledger)
    finally:
        ledger.close()
    blob = stored_bytes(store_url)
    assert len(blob) > 1000
    for secret in SECRETS:
        assert not holds(blob, secret), secret
    # The right key reads everything back.
    reopened = on_time_ledger(config)
    try:
        assert reopened.get_participant(participant_id).legal_name == LEGAL_NAME
    finally:
        reopened.close()


def test_wrong_or_missing_key_fails_clearly_when_the_ledger_opens(store_url: str) -> None:
    key, other = AESCipher.create_key(32), AESCipher.create_key(32)
    ledger = on_time_ledger(StoreConfig(url=store_url, cipher_key=key))
    try:
        record_secrets(ledger)
    finally:
        ledger.close()
    with pytest.raises(StoreKeyError, match="cipher key is not the key") as wrong:
        on_time_ledger(StoreConfig(url=store_url, cipher_key=other))
    assert key not in str(wrong.value) and other not in str(wrong.value)
    with pytest.raises(StoreKeyError, match="no cipher key is configured"):
        on_time_ledger(StoreConfig(url=store_url))


def test_key_on_an_unencrypted_store_fails_clearly(store_url: str) -> None:
    on_time_ledger(StoreConfig(url=store_url)).close()  # empty stores open with any key
    plain = on_time_ledger(StoreConfig(url=store_url))
    try:
        record_secrets(plain)
    finally:
        plain.close()
    with pytest.raises(StoreKeyError):
        on_time_ledger(StoreConfig(url=store_url, cipher_key=AESCipher.create_key(16)))


# ------------------------------------------------------------------ decimals and times


BIG = Decimal("123456789012345.123456789012345678")  # the largest bounded amounts: 33 digits
TINY = Decimal("0.00000001")


def test_decimals_and_utc_times_survive_the_store_exactly(store_url: str) -> None:
    config = StoreConfig(url=store_url, cipher_key=AESCipher.create_key(32))
    at = datetime(2026, 3, 10, 12, 34, 56, 789012, tzinfo=UTC)
    ledger = on_time_ledger(config)
    try:
        market = build_market(ledger)
        ledger.set_policy("share", "mandatory_sale_share", "0", effective_from=START)
        licence = ledger.grant_mining_licence(
            "mine", market.seller, "North", "Z1", "M-1", BIG, Decimal("12.000000001"),
            ["3c7461672d363e"], START, END, at=START).aggregate_id
        report = ledger.report_output("rep", licence, T0 - timedelta(days=7), at, "BTC", BIG,
                                      ["w"], TINY, at=at).aggregate_id
        reading = ledger.record_meter_reading("met", "M-1", T0 - timedelta(days=7), T0,
                                              TINY, at=at).aggregate_id
        trade = ledger.record_trade(market.trade(
            "t", quantity=TINY, price=BIG, at=at, travel_rule=FULL_TRAVEL_RULE)).trade_id
    finally:
        ledger.close()
    reopened = on_time_ledger(config)  # a fresh instance: everything comes from the store
    try:
        stored_report: OutputReport = reopened.repository.get(report)
        assert (str(stored_report.amount), str(stored_report.sold_through_exchange)) == (
            "123456789012345.123456789012345678", "1E-8")
        assert stored_report.reported_at == at and stored_report.reported_at.tzinfo == UTC
        stored_licence = reopened.get_mining_licence(licence)
        assert isinstance(stored_licence, MiningLicence)
        assert stored_licence.power_mw == BIG
        assert stored_licence.efficiency_jth == Decimal("12.000000001")
        stored_reading: MeterReading = reopened.repository.get(reading)
        assert stored_reading.kwh == TINY and str(stored_reading.kwh) == str(TINY)
        stored_trade: Trade = reopened.repository.get(trade)
        assert (stored_trade.quantity, stored_trade.price) == (TINY, BIG)
        with localcontext(prec=100):
            exact = TINY * BIG
        assert stored_trade.value_usd == exact  # 33 significant digits, not rounded to 28
        assert stored_trade.at == at
    finally:
        reopened.close()


# ------------------------------------------------------------------------- store errors


def test_missing_tables_fail_clearly_when_table_creation_is_off(store_url: str) -> None:
    with pytest.raises(StoreUnavailable, match="valedger db init"):
        on_time_ledger(StoreConfig(url=store_url, create_tables=False))
    on_time_ledger(StoreConfig(url=store_url)).close()  # creates the tables
    ledger = on_time_ledger(StoreConfig(url=store_url, create_tables=False))
    try:
        receipt = ledger.register_participant("r", "ENTERPRISE", "A", "T", "MT")
        assert isinstance(ledger.get_participant(receipt.aggregate_id), Participant)
    finally:
        ledger.close()


# ------------------------------------------------------------ two processes, one store


WRITES_PER_PROCESS = 60
TRADE_USD = 100
CAP_TRADES = 90  # of the 2 × 60 (+1 shared) outflows, exactly 90 fit under the cap


def test_two_processes_write_one_postgres_without_loss_duplication_or_reordering(
        postgres_url: str) -> None:
    ledger = on_time_ledger(StoreConfig(url=postgres_url))
    try:
        market = build_market(ledger)
        ledger.set_policy("cap", "outflow_cap_usd", str(TRADE_USD * CAP_TRADES),
                          effective_from=START)
        ledger.set_policy("home", "home_country", "MT", effective_from=START)
        spec = {"licence": str(market.licence), "buyer": str(market.buyer),
                "seller": str(market.seller), "count": WRITES_PER_PROCESS}
        writers = [subprocess.Popen(
            [sys.executable, "-m", "tests.ledger.writer_process", postgres_url,
             json.dumps({**spec, "writer": name})],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for name in ("A", "B")]
        for writer in writers:
            assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        for writer in writers:
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.flush()
        # Follow the log while they write: a follower that never looks back must still
        # see every event, which holds only if notification order is commit order.
        followed: list[int] = []
        while any(writer.poll() is None for writer in writers):
            start = followed[-1] + 1 if followed else None
            followed += [n.id for n in ledger.recorder.select_notifications(start, 1000)]
        start = followed[-1] + 1 if followed else None
        followed += [n.id for n in ledger.recorder.select_notifications(start, 100_000)]
        summaries = []
        for writer in writers:
            out, _ = writer.communicate(timeout=60)
            assert writer.returncode == 0
            summaries.append(json.loads(out.strip().splitlines()[-1]))

        everything = ledger.recorder.select_notifications(None, 100_000)
        assert followed == [n.id for n in everything]
        events = events_of(ledger)
        trades = [e for e in events if isinstance(e, Trade.Recorded)]
        ids = [e.request_id for e in trades]
        expected = {f"{w}:{n:05d}" for w in "AB" for n in range(WRITES_PER_PROCESS)}
        assert len(ids) == len(set(ids)), "a trade was recorded twice"
        assert set(ids) == expected | {"shared"}, "a trade was lost"
        for w in "AB":  # each writer's commits appear in the order it made them
            mine = [i for i in ids if i.startswith(f"{w}:")]
            assert mine == sorted(mine)
        # The cap held exactly although both writers raced on the same account.
        recorded = [e for e in trades if not isinstance(e, Trade.Blocked)]
        assert len(recorded) == CAP_TRADES
        assert {e.rule for e in trades if isinstance(e, Trade.Blocked)} == {
            "OUTFLOW_CAP_EXCEEDED"}
        account: OutflowAccount = ledger.repository.get(
            OutflowAccount.create_id(market.buyer, "2026-03"))
        assert account.outflow_usd == Decimal(TRADE_USD * CAP_TRADES)
        assert all(s["replayed"] for s in summaries)
        assert sorted(s["shared_replayed"] for s in summaries) == [False, True]
        assert sum(s["conflicts"] for s in summaries) > 0, "the writers never contended"
    finally:
        ledger.close()

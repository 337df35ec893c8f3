"""Fixtures of the audit tests: a ledger with real events, its audit log, and raw SQL
access to the same database for tampering."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlparse
from uuid import UUID

import psycopg
import pytest

from ledger.application import Ledger
from ledger.audit.follower import CheckpointPolicy
from ledger.audit.leaf import encode_leaf
from ledger.audit.log import AuditLog
from ledger.audit.store import StoredCheckpoint
from tests.ledger.conftest import Market, build_market
from tests.ontime import on_time_ledger
from tlog.note import NoteSigner

ORIGIN = "valedger.test/ledger"


class RawDB:
    """Direct SQL on the store, bypassing the ledger (what a tamperer would do)."""

    def __init__(self, url: str, table: str = "stored_events") -> None:
        self.table = table
        parsed = urlparse(url)
        self.postgres = parsed.scheme.startswith("postgres")
        if self.postgres:
            query = parse_qs(parsed.query)
            self.conn: Any = psycopg.connect(
                host=query.get("host", [parsed.hostname or "localhost"])[0],
                port=parsed.port or 5432, user=unquote(parsed.username or "postgres"),
                password=unquote(parsed.password or ""), dbname=parsed.path.lstrip("/"),
                autocommit=True,
            )
            self.nid = "notification_id"
        else:
            self.conn = sqlite3.connect(unquote(parsed.path[1:]), isolation_level=None)
            self.nid = "rowid"

    def run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Runs one statement (``?`` placeholders) and returns its rows."""
        if self.postgres:
            sql = sql.replace("?", "%s")
        cur = self.conn.execute(sql, params)
        try:
            return [tuple(r) for r in cur.fetchall()]
        except (psycopg.ProgrammingError, sqlite3.ProgrammingError):
            return []

    def events(self) -> list[tuple[Any, ...]]:
        """Returns (nid, originator_id, version, topic, state) in notification order."""
        return [
            (r[0], r[1], r[2], r[3], bytes(r[4]))
            for r in self.run(f"SELECT {self.nid}, originator_id, originator_version, topic, "
                              f"state FROM {self.table} ORDER BY {self.nid}")
        ]

    def insert_event(self, nid: int, oid: Any, version: int, topic: str, state: bytes) -> None:
        """Inserts a stored event with an explicit notification id."""
        self.run(f"INSERT INTO {self.table} ({self.nid}, originator_id, originator_version, "
                 "topic, state) VALUES (?,?,?,?,?)", (nid, oid, version, topic, state))

    def close(self) -> None:
        self.conn.close()


@dataclass
class AuditedLedger:
    """A ledger with a market, some trades, an audit log and a signing key."""

    url: str
    ledger: Ledger
    market: Market
    signer: NoteSigner
    log: AuditLog
    raw: RawDB


def make_audited(url: str, trades: int = 14, every: int = 5,
                 cipher_key: str | None = None) -> AuditedLedger:
    """Returns a store holding a market (9 records: the home country, three participants,
    an exchange licence) and ``trades`` trades (by default 23 records in all), fully
    integrated."""
    from ledger.config import StoreConfig

    ledger = on_time_ledger(StoreConfig(url=url, cipher_key=cipher_key))
    market = build_market(ledger)
    for i in range(trades):
        ledger.record_trade(market.trade(f"t{i}", str(100 + i)))
    signer = NoteSigner.generate(ORIGIN)
    log = AuditLog(ledger.recorder, signer=signer,
                   policy=CheckpointPolicy(every_records=every, every_seconds=0))
    log.follower.catch_up()
    return AuditedLedger(url, ledger, market, signer, log,
                         RawDB(url, cast(Any, ledger.recorder).events_table_name))


@pytest.fixture
def audited(store_url: str) -> Iterator[AuditedLedger]:
    """Returns an audited ledger on a fresh store (SQLite, then PostgreSQL)."""
    a = make_audited(store_url)
    try:
        yield a
    finally:
        a.raw.close()
        a.ledger.close()


def rotate(a: AuditedLedger, trades: int = 6) -> NoteSigner:
    """Rotates the checkpoint key of ``a`` to a new key of the same origin, records
    ``trades`` more trades and signs with the new key (every 5 records, then once more
    at the end); returns the new key. ``a.log`` keeps the old key."""
    new_key = NoteSigner.generate(ORIGIN)
    for i in range(trades):
        a.ledger.record_trade(a.market.trade(f"rotated{i}"))
    rotated = AuditLog(a.ledger.recorder, signer=new_key,
                       policy=CheckpointPolicy(every_records=5, every_seconds=0))
    rotated.follower.catch_up()
    rotated.follower.checkpoint_now()
    return new_key


@dataclass
class RestoreSource:
    """An encrypted store with real ledger activity, signed checkpoints and its export."""

    url: str
    cipher_key: str
    signer: NoteSigner
    public_key: Path
    export: Path
    participants: dict[UUID, str]
    trades: dict[UUID, tuple[str, Decimal]]
    """trade id -> (the rule that blocked it or "", USD value)."""
    licence: UUID
    records: list[tuple[UUID | str, int, str, bytes]]
    checkpoints: list[StoredCheckpoint]
    root: bytes
    """Root of the tree over every record (the last ones were never integrated)."""


def build_restore_source(directory: Path) -> RestoreSource:
    """Returns a source store (SQLite, encrypted) and its export: participants, licences
    (an exchange licence suspended and reinstated, a mining licence), recorded and blocked
    trades; checkpoints every 5 records; 2 trades after the follower's last step."""
    import base64
    import os

    from ledger.audit.export import write_export
    from ledger.audit.stream import database_stream
    from ledger.config import StoreConfig
    from tests.ledger.conftest import END, START
    from tlog.hashes import leaf_hash, root_hash

    directory.mkdir(parents=True, exist_ok=True)
    cipher_key = base64.b64encode(os.urandom(32)).decode()
    url = f"sqlite:///{directory / 'source.db'}"
    ledger = on_time_ledger(StoreConfig(url=url, cipher_key=cipher_key))
    try:
        market = build_market(ledger)
        miner = market.participant("miner")
        ledger.grant_mining_licence(
            "grant-mining", miner, "North", "Z1", "meter-1", Decimal(5), Decimal("20"),
            ["2f6d696e65722f"], START, END, at=START)
        ledger.suspend_licence("suspend", market.licence, "late report", at=START)
        ledger.reinstate_licence("reinstate", market.licence, at=START)
        receipts = ledger.record_trades(
            [market.trade(f"t{i}", str(100 + 7 * i)) for i in range(6)]
            + [market.trade("blocked", "1000")])
        assert receipts[-1].status.name == "BLOCKED"
        signer = NoteSigner.generate(ORIGIN)
        log = AuditLog(ledger.recorder, signer=signer,
                       policy=CheckpointPolicy(every_records=5, every_seconds=0))
        log.follower.catch_up()
        for i in range(2):
            ledger.record_trade(market.trade(f"late{i}", "150"))
        participants = {pid: ledger.get_participant(pid).legal_name
                        for pid in (market.exchange, market.buyer, market.seller, miner)}
        trades = {}
        for r in receipts:
            trade: Any = ledger.repository.get(r.trade_id)
            trades[r.trade_id] = (trade.rule, Decimal(trade.value_usd))
        records = [(n.originator_id, n.originator_version, n.topic, n.state)
                   for n in ledger.recorder.select_notifications(start=None, limit=10**6)]
        export = directory / "source.vlx"
        with export.open("wb") as f:
            write_export(database_stream(log.store, log.origin), f)
        public_key = directory / "audit.pub"
        public_key.write_text(signer.verifier.vkey + "\n")
        leaves = [leaf_hash(encode_leaf(*r)) for r in records]
        return RestoreSource(url, cipher_key, signer, public_key, export, participants, trades,
                             market.licence, records, log.checkpoints(), root_hash(leaves))
    finally:
        ledger.close()

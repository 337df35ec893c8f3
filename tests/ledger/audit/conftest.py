"""Fixtures of the audit tests: a ledger with real events, its audit log, and raw SQL
access to the same database for tampering."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlparse

import psycopg
import pytest

from ledger.application import Ledger
from ledger.audit.follower import CheckpointPolicy
from ledger.audit.log import AuditLog
from ledger.audit.note import NoteSigner
from tests.ledger.conftest import Market, build_market

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


def make_audited(url: str, trades: int = 16, every: int = 5,
                 cipher_key: str | None = None) -> AuditedLedger:
    """Returns a store holding a market and ``trades`` trades, fully integrated."""
    from ledger.config import StoreConfig

    ledger = Ledger(StoreConfig(url=url, cipher_key=cipher_key))
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

"""`valedger db init` (services/cli/db.py): the schema once, then servers without creation."""

from __future__ import annotations

from typing import Any, cast

import pytest
from eventsourcing.cipher import AESCipher
from typer.testing import CliRunner

from ledger.application import Ledger
from ledger.audit.store import (
    CHECKPOINTS_TABLE,
    COSIGNATURES_TABLE,
    LEAVES_TABLE,
    NODES_TABLE,
    STATE_TABLE,
    WITNESSES_TABLE,
)
from ledger.config import CIPHER_KEY_ENV, DB_URL_ENV, StoreConfig
from ledger.errors import RuleViolation, StoreUnavailable
from services.cli import app


def test_db_init_creates_the_schema_a_server_then_uses(store_url: str) -> None:
    with pytest.raises(StoreUnavailable):  # before init, a ledger without creation fails
        Ledger(StoreConfig(url=store_url, create_tables=False))
    runner = CliRunner()
    for _ in range(2):  # idempotent
        result = runner.invoke(app, ["db", "init", "--db", store_url, "--home-country", "KZ"])
        assert result.exit_code == 0, result.output
        assert "store ready" in result.output
    ledger = Ledger(StoreConfig(url=store_url, create_tables=False))
    try:
        receipt = ledger.register_participant("r", "ENTERPRISE", "Acme", "T", "MT")
        assert ledger.get_participant(receipt.aggregate_id).legal_name == "Acme"
        assert {"history_events", "history_subjects", "history_aggregates"} | AUDIT_TABLES \
            <= table_names(ledger)
    finally:
        ledger.close()


AUDIT_TABLES = {LEAVES_TABLE, NODES_TABLE, CHECKPOINTS_TABLE, STATE_TABLE, COSIGNATURES_TABLE,
                WITNESSES_TABLE}


def table_names(ledger: Ledger) -> set[str]:
    """Returns the names of the tables in the ledger's store."""
    datastore: Any = cast(Any, ledger.recorder).datastore
    with datastore.transaction(commit=False) as cursor:
        if ledger.config.is_postgres:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        rows = cursor.fetchall()
    return {str(row["tablename"] if isinstance(row, dict) and "tablename" in row else
                row["name"] if isinstance(row, dict) else row[0]) for row in rows}


def test_db_init_reads_the_store_and_key_from_the_environment(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    key = AESCipher.create_key(32)
    monkeypatch.setenv(DB_URL_ENV, store_url)
    monkeypatch.setenv(CIPHER_KEY_ENV, key)
    result = CliRunner().invoke(app, ["db", "init", "--home-country", "KZ"])
    assert result.exit_code == 0, result.output
    assert key not in result.output
    ledger = Ledger(StoreConfig.from_environment(create_tables=False))
    try:
        ledger.register_participant("r", "ENTERPRISE", "Acme", "T", "MT")
    finally:
        ledger.close()


def test_db_init_records_the_home_country_and_keeps_it(store_url: str) -> None:
    runner = CliRunner()
    schema_only = runner.invoke(app, ["db", "init", "--db", store_url])
    assert schema_only.exit_code == 0
    assert "no home country is set: every trade is refused" in schema_only.output
    ledger = Ledger(StoreConfig(url=store_url, create_tables=False))
    try:
        assert ledger.recorder.max_notification_id() in (None, 0)  # nothing recorded
        with pytest.raises(RuleViolation, match="home_country is not set"):
            ledger.get_policy("home_country")
    finally:
        ledger.close()
    for bad in ("XXX", "kz", "K1", "", "UK", "XX"):
        wrong = runner.invoke(app, ["db", "init", "--db", store_url, "--home-country", bad])
        assert wrong.exit_code == 2 and "ISO 3166 alpha-2" in wrong.output, bad
    assert runner.invoke(app, ["db", "init", "--db", store_url, "--home-country",
                               "UZ"]).exit_code == 0
    # Once set, init needs no option again, and refuses to change it.
    assert runner.invoke(app, ["db", "init", "--db", store_url]).exit_code == 0
    other = runner.invoke(app, ["db", "init", "--db", store_url, "--home-country", "KZ"])
    assert other.exit_code == 2 and "home country is UZ, not KZ" in other.output
    ledger = Ledger(StoreConfig(url=store_url, create_tables=False))
    try:
        assert ledger.get_policy("home_country") == "UZ"
    finally:
        ledger.close()

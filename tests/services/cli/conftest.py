"""Fixtures of the command-line tests: a real SQLite store made as an operator would."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.config import StoreConfig
from tests.ledger.conftest import build_market
from tests.ontime import on_time_ledger
from tests.services.cli.real_cli import valedger


@pytest.fixture
def filled_store(tmp_path: Path) -> str:
    """Returns the URL of a SQLite store made by `valedger db init` (which records the home
    country: 2 records), holding a market (7) and three trades: 12 records."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    done = valedger("db", "init", "--db", url, "--home-country", "KZ")
    assert done.code == 0, done.stderr
    ledger = on_time_ledger(StoreConfig(url=url, create_tables=False))
    market = build_market(ledger, home=None)  # db init set it
    for i in range(3):
        ledger.record_trade(market.trade(f"t{i}"))
    ledger.close()
    return url

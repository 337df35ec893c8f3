"""The scenario store, its report gathered and rendered once per store kind."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.config import StoreConfig
from services.report import Rendered, Report, gather, month_period, render
from tests.ontime import on_time_ledger
from tests.services.report.scenario import Scenario, build_scenario

MADE_AT = datetime(2026, 4, 2, tzinfo=UTC)


@dataclass
class Made:
    """A scenario store, the report of March 2026 made from it and its files."""

    url: str
    scenario: Scenario
    report: Report
    files: Rendered

    @property
    def ledger(self) -> Any:
        return self.scenario.ledger


@pytest.fixture
def made(store_url: str, tmp_path: Path) -> Iterator[Made]:
    """Returns the scenario's report on SQLite and on PostgreSQL."""
    config = StoreConfig(store_url)
    ledger = on_time_ledger(config)
    try:
        scenario = build_scenario(ledger)
        report = gather(ledger.ledger, config, month_period(2026, 3), generated_at=MADE_AT)
        out = tmp_path / "report"
        out.mkdir()
        yield Made(store_url, scenario, report, render(report, out))
    finally:
        ledger.close()

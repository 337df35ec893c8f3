"""Domain tests trigger events outside a use case: each runs under one stamp."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ledger.domain.base import Stamp, stamped

RECORDED_AT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def stamp() -> Iterator[Stamp]:
    """Returns the stamp every event of the test carries (the regulator's, at 2026-01-01)."""
    with stamped(Stamp("regulator", "digest", RECORDED_AT)) as current:
        yield current

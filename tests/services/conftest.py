"""Fixtures of the service tests: one populated server per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services.harness import World, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Returns a running server over SQLite with participants, licences and keys."""
    root: Path = tmp_path_factory.mktemp("world")
    built = build_world(root, f"sqlite:///{root / 'ledger.db'}")
    try:
        yield built
    finally:
        built.stop()

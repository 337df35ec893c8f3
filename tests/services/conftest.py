"""Fixtures of the service tests: one populated server per test module."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from services.demo import DemoResult, run_demo
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


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    """Returns the outcome of one demo run (its encrypted store holds every kind of event)."""
    workdir = tmp_path_factory.mktemp("demo") / "run"
    return run_demo(workdir, Console(file=io.StringIO(), width=120))

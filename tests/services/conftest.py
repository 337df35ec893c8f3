"""Fixtures of the service tests: one populated server per test module."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from services.demo import DemoResult, run_demo
from tests.services.harness import NOW, World, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Returns a running server over SQLite with participants, licences and keys."""
    root: Path = tmp_path_factory.mktemp("world")
    built = build_world(root, f"sqlite:///{root / 'ledger.db'}")
    try:
        yield built
    finally:
        built.stop()


@pytest.fixture(autouse=True)
def server_time_restored(request: pytest.FixtureRequest) -> Iterator[None]:
    """Sets the module's server clock back to ``NOW`` after each test that moved it."""
    yield
    if "world" in request.fixturenames:
        world: World = request.getfixturevalue("world")
        world.clock.set(NOW)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    """Returns the outcome of one demo run (its encrypted store holds every kind of event)."""
    workdir = tmp_path_factory.mktemp("demo") / "run"
    return run_demo(workdir, Console(file=io.StringIO(), width=120))

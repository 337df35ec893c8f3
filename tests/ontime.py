"""Scaffolding for tests of business rules that are not about time: a ledger whose
clock shows the time each command claims, as if every client sent on time.

The trust rules themselves (windows, clock skew, standing at both times) are tested
against a server whose ManualClock the test moves by hand (tests/services/test_trust.py,
tests/services/test_trading.py); here the clock is set to a command's own ``at`` just
before the command, so tests written with fixed dates keep testing what they name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from ledger.application import Ledger
from ledger.clock import ManualClock
from ledger.config import StoreConfig
from ledger.domain.trade import TradeRequest

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)


class OnTime:
    """A Ledger (every attribute passes through) whose commands set its clock to their
    ``at`` (or their trades' latest ``at``) before they run."""

    def __init__(self, ledger: Ledger, clock: ManualClock) -> None:
        self.__dict__["_ledger"] = ledger
        self.__dict__["_clock"] = clock

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._ledger, name)
        if not callable(value) or name.startswith("_"):
            return value
        return self._on_time(value)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._ledger, name, value)

    def _on_time(self, command: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            when = claimed_time(args, kwargs)
            if when is not None:
                self._clock.set(when)
            return command(*args, **kwargs)

        return call

    @property
    def ledger(self) -> Ledger:
        """Returns the wrapped ledger."""
        return self._ledger


def claimed_time(args: Sequence[Any], kwargs: dict[str, Any]) -> datetime | None:
    """Returns the time a command claims: its ``at``, its trades' latest ``at``, or (a
    policy set without ``at``) the time it takes effect."""
    for name in ("at", "effective_from"):
        at = kwargs.get(name)
        if isinstance(at, datetime):
            return at if at.tzinfo else at.replace(tzinfo=UTC)
    for arg in args:
        if isinstance(arg, TradeRequest) and isinstance(arg.at, datetime):
            return arg.at if arg.at.tzinfo else arg.at.replace(tzinfo=UTC)
        if isinstance(arg, list | tuple) and arg and all(
                isinstance(a, TradeRequest) and isinstance(a.at, datetime) for a in arg):
            return max(a.at if a.at.tzinfo else a.at.replace(tzinfo=UTC) for a in arg)
    return None


def on_time_ledger(config: StoreConfig, start: datetime = DEFAULT_START,
                   cls: type[Ledger] = Ledger, **options: Any) -> Any:
    """Returns a ledger on ``config`` whose clock follows each command's claimed time
    (typed Any: it stands for a Ledger)."""
    clock = ManualClock(start)
    return OnTime(cls(config, clock=clock, **options), clock)

"""A meter or a coinbase tag is held by one mining licence, even when grants race: both
grants pass the checks at the same moment, and the national register makes the second
one decide again (on SQLite and PostgreSQL), and so does a grant that another one's commit
overtook between its checks and its save."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from ledger.domain.mining_register import MINING_REGISTER_ID, MiningRegister
from ledger.errors import RuleViolation
from ledger.licence_bindings import LicenceBindings
from tests.ledger.conftest import END, START, Market


class RacingBindings(LicenceBindings):
    """Bindings whose first meter check in each thread waits until ``parties`` threads
    have passed it: every grant decides before any saves."""

    def __init__(self, original: LicenceBindings, parties: int) -> None:
        super().__init__(original.store, original.licences)
        self.barrier = threading.Barrier(parties, timeout=30)
        self.waited: set[int] = set()

    def check_meter_free(self, meter_id: str, start: datetime, end: datetime) -> None:
        super().check_meter_free(meter_id, start, end)
        if threading.get_ident() not in self.waited:
            self.waited.add(threading.get_ident())
            self.barrier.wait()


def race(market: Market, grants: list[tuple[str, Any, str, str]]) -> list[Any]:
    """Runs the grants (request id, holder, meter, tag) in threads that all pass the
    checks before any saves; returns each one's receipt or RuleViolation."""
    ledger = market.ledger
    ledger.licensing.bindings = RacingBindings(ledger.licensing.bindings, len(grants))
    outcomes: list[Any] = [None] * len(grants)

    def grant(k: int) -> None:
        request_id, holder, meter, tag = grants[k]
        try:
            outcomes[k] = ledger.grant_mining_licence(
                request_id, holder, "North", "Z1", meter, Decimal(10), Decimal(20),
                [tag.encode().hex()], START, END, at=START)
        except RuleViolation as refusal:
            outcomes[k] = refusal

    threads = [threading.Thread(target=grant, args=(k,)) for k in range(len(grants))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def test_two_grants_racing_for_one_meter_bind_it_once(market: Market) -> None:
    other = market.participant("other-miner")
    outcomes = race(market, [("race-a", market.seller, "M-RACE", "<race-a>"),
                             ("race-b", other, "M-RACE", "<race-b>")])
    refused = [o for o in outcomes if isinstance(o, RuleViolation)]
    granted = [o for o in outcomes if not isinstance(o, RuleViolation)]
    assert len(granted) == 1 and [r.rule for r in refused] == ["METER_IN_USE"]
    register: Any = market.ledger.repository.get(MINING_REGISTER_ID)
    assert isinstance(register, MiningRegister)
    assert register.bindings == 1 and register.last_licence == granted[0].aggregate_id


def test_two_grants_racing_for_overlapping_tags_hold_them_once(market: Market) -> None:
    other = market.participant("other-tagger")
    outcomes = race(market, [("tag-a", market.seller, "M-TAG-A", "<pool>"),
                             ("tag-b", other, "M-TAG-B", "<pool>/b")])
    assert sorted(type(o).__name__ for o in outcomes) == ["Receipt", "RuleViolation"]
    [refused] = [o for o in outcomes if isinstance(o, RuleViolation)]
    assert refused.rule == "COINBASE_TAG_IN_USE"


def test_grants_on_different_meters_both_pass_when_they_race(market: Market) -> None:
    other = market.participant("third-miner")
    outcomes = race(market, [("free-a", market.seller, "M-ONE", "<free-a>"),
                             ("free-b", other, "M-TWO", "<free-b>")])
    assert not any(isinstance(o, RuleViolation) for o in outcomes)
    register: Any = market.ledger.repository.get(MINING_REGISTER_ID)
    assert register.bindings == 2


class LateBindings(LicenceBindings):
    """Bindings whose first tag check, once passed, lets ``meanwhile`` (another grant) run
    to its commit: that grant lands between the first one's checks and its save."""

    def __init__(self, original: LicenceBindings, meanwhile: Callable[[], None]) -> None:
        super().__init__(original.store, original.licences)
        self.meanwhile: Callable[[], None] | None = meanwhile

    def require_free_tags(self, tags: Iterable[str], participant_id: UUID,
                          valid_from: datetime, valid_until: datetime) -> None:
        super().require_free_tags(tags, participant_id, valid_from, valid_until)
        meanwhile, self.meanwhile = self.meanwhile, None
        if meanwhile is not None:
            other = threading.Thread(target=meanwhile)
            other.start()
            other.join(60)


def test_a_grant_committed_after_anothers_checks_makes_that_one_decide_again(
        market: Market) -> None:
    ledger = market.ledger
    granted: list[Any] = []

    def the_other_grant() -> None:
        granted.append(ledger.grant_mining_licence(
            "late-a", market.seller, "North", "Z1", "M-LATE-A", Decimal(10), Decimal(20),
            [b"<late>".hex()], START, END, at=START))

    ledger.licensing.bindings = LateBindings(ledger.licensing.bindings, the_other_grant)
    with pytest.raises(RuleViolation) as refused:
        ledger.grant_mining_licence(
            "late-b", market.participant("late-tagger"), "North", "Z1", "M-LATE-B",
            Decimal(10), Decimal(20), [b"<late>/b".hex()], START, END, at=START)
    assert refused.value.rule == "COINBASE_TAG_IN_USE"
    assert len(granted) == 1

"""Licensing (ledger.licensing): "a deregistered firm holds no licence" holds when a grant
and the holder's deregistration decide at once and neither saves what the other read
(on SQLite and PostgreSQL). Each interleaving is forced: one command runs to its commit
between the other's check and its save."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from ledger.errors import StoreUnavailable
from tests.ledger.conftest import END, START, Market


def run_to_commit(command: Callable[[], Any]) -> None:
    """Runs ``command`` in a thread of its own and waits for it."""
    other = threading.Thread(target=command)
    other.start()
    other.join(60)
    assert not other.is_alive()


def grant(market: Market, holder: UUID) -> UUID:
    """Returns the id of an exchange licence granted to ``holder``."""
    return market.ledger.grant_exchange_licence(
        "late-grant", holder, ["exchange"], START, END, at=START).aggregate_id


def grant_after_the_first_listing(market: Market, holder: UUID,
                                  monkeypatch: pytest.MonkeyPatch) -> list[UUID]:
    """Has the first listing of licences (a deregistration's) let a grant to ``holder``
    run to its commit once it has listed them; returns the list the grant's licence id
    is appended to."""
    listed = market.ledger.licensing.licences.all_ids
    granted: list[UUID] = []
    pending = [lambda: granted.append(grant(market, holder))]

    def list_then_grant(*args: Any) -> list[UUID]:
        found = listed(*args)
        if pending:
            run_to_commit(pending.pop())
        return found

    monkeypatch.setattr(market.ledger.licensing.licences, "all_ids", list_then_grant)
    return granted


def test_a_deregistration_committed_after_a_grants_standing_check_revokes_that_licence(
        market: Market, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = market.ledger
    holder = market.participant("late-holder")
    checked = ledger.licensing.holder_in_standing
    pending = [lambda: ledger.deregister_participant("late-dereg", holder, "closed",
                                                     at=START)]

    def standing_then_deregistration(*args: Any) -> Any:
        found = checked(*args)
        if pending:
            run_to_commit(pending.pop())
        return found

    monkeypatch.setattr(ledger.licensing, "holder_in_standing", standing_then_deregistration)
    licence = ledger.get_licence(grant(market, holder))
    assert licence.revoked_at == START
    assert ledger.get_participant(holder).deregistered_at == START


def test_a_grant_committed_after_a_deregistration_listed_the_licences_is_revoked(
        market: Market, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = market.ledger
    holder = market.participant("late-holder")
    granted = grant_after_the_first_listing(market, holder, monkeypatch)
    ledger.deregister_participant("late-dereg", holder, "closed", at=START)
    [licence_id] = granted
    licence = ledger.get_licence(licence_id)
    assert licence.revoked_at == START
    assert licence.revocation_reason == "holder deregistered: closed"


def test_a_sweep_that_fails_after_the_commit_is_logged_and_finished_by_sending_again(
        market: Market, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    # The deregistration has committed when its sweep runs: a store failure there leaves
    # its receipt standing, says so, and the same request sent again revokes the licence.
    ledger = market.ledger
    holder = market.participant("late-holder")
    granted = grant_after_the_first_listing(market, holder, monkeypatch)
    revoking = ledger.licensing.licences_to_revoke
    calls: list[int] = []

    def fails_in_the_sweep(participant: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:  # the first call is the deregistration's own
            raise StoreUnavailable("the store went away")
        return revoking(participant)

    monkeypatch.setattr(ledger.licensing, "licences_to_revoke", fails_in_the_sweep)
    receipt = ledger.deregister_participant("late-dereg", holder, "closed", at=START)
    assert receipt.aggregate_id == holder
    [licence_id] = granted
    assert ledger.get_licence(licence_id).revoked_at is None
    assert "send the deregistration again with its request id" in caplog.text
    again = ledger.deregister_participant("late-dereg", holder, "closed", at=START)
    assert again.replayed
    assert ledger.get_licence(licence_id).revoked_at == START

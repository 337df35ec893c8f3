"""Vasp: a virtual-asset service provider trades may send value to or receive it from,
registered by the regulator with its country (which decides whether a transfer leaves
the country)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import Intervals, LedgerAggregate, derived_id
from ledger.errors import RuleViolation


class Vasp(LedgerAggregate):
    """A registered VASP: domestic (holding one of our exchange licences) or foreign (its
    registration abroad). Relied on by ``ledger.vasps`` (registry) and ``ledger.trading``
    (a trade's counterparty VASP must be registered and not suspended at the trade's
    time; its country decides the outflow rule)."""

    @staticmethod
    def create_id(requester: str, request_id: str) -> UUID:
        return derived_id("Vasp", requester, request_id)

    @event("Registered")
    def __init__(self, request_id: str, at: datetime, name: str, country: str,
                 licence_id: UUID | None, foreign_registration: str,
                 travel_rule_endpoint: str) -> None:
        self.registered_at = at
        self.name = name
        self.country = country
        self.licence_id = licence_id
        self.foreign_registration = foreign_registration
        self.travel_rule_endpoint = travel_rule_endpoint
        self.suspensions = Intervals()

    def suspend(self, request_id: str, at: datetime, reason: str) -> None:
        """Suspends the VASP from ``at`` until reinstated; RuleViolation VASP_SUSPENDED
        when it is."""
        if self.suspensions.covering(at) is not None:
            raise RuleViolation("VASP_SUSPENDED", f"VASP {self.id} is already suspended")
        self._suspend(request_id=request_id, at=at, reason=reason)

    def reinstate(self, request_id: str, at: datetime) -> None:
        """Ends the suspension covering ``at``; RuleViolation NOT_SUSPENDED otherwise."""
        if self.suspensions.covering(at) is None:
            raise RuleViolation("NOT_SUSPENDED", f"VASP {self.id} is not suspended")
        self._reinstate(request_id=request_id, at=at)

    @event("Suspended")
    def _suspend(self, request_id: str, at: datetime, reason: str) -> None:
        self.suspensions.open(at, None)

    @event("Reinstated")
    def _reinstate(self, request_id: str, at: datetime) -> None:
        self.suspensions.close_at(at)

    def standing_at(self, at: datetime) -> str | None:
        """Returns why the VASP may not be a counterparty at ``at``, or None."""
        if at < self.registered_at:
            return "not registered"
        if self.suspensions.covering(at) is not None:
            return "suspended"
        return None

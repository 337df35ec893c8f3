"""Mining and exchange licences: grant, amend, suspend, reinstate, revoke, expire, renew.

Validity is a function of time, not a flag: every check asks whether the licence was
active at the event's own time, so a report back-dated into a suspension is refused.

A renewal is a *new licence* for the next term (granted with ``renewal_of`` naming the
old one, which records ``Renewed`` naming its successor), not an extension of the old
one's ``valid_until``: every reconciliation, report and alert keeps pointing at the term
it was about, a term's suspensions and amendments never leak into the next, and an
auditor sees each term's grant as a decision of its own. The successor starts where the
old term ends, so the meter is bound to one active licence at any instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import Intervals, LedgerAggregate, derived_id, standing_at_both
from ledger.errors import RuleViolation


def hashrate_cap_ths(power_mw: Decimal, efficiency_jth: Decimal) -> Decimal:
    """Returns the licensed hashrate cap in TH/s: MW × 10⁶ ÷ (J/TH)."""
    return power_mw * Decimal(1_000_000) / efficiency_jth


@dataclass(frozen=True)
class Capacity:
    """Licensed power and declared efficiency from ``effective_from`` on."""

    effective_from: datetime
    power_mw: Decimal
    efficiency_jth: Decimal

    @property
    def hashrate_cap_ths(self) -> Decimal:
        """Returns the hashrate cap this capacity allows, in TH/s."""
        return hashrate_cap_ths(self.power_mw, self.efficiency_jth)


class Licence(LedgerAggregate):
    """Lifecycle shared by both kinds of licence."""

    def _init_lifecycle(self, participant_id: UUID, valid_from: datetime,
                        valid_until: datetime, renewal_of: UUID | None = None) -> None:
        self.participant_id = participant_id
        self.renewal_of = renewal_of
        self.valid_from = valid_from
        self.valid_until = valid_until
        self.suspensions = Intervals()
        self.suspension_reasons: list[str] = []
        self.revoked_at: datetime | None = None
        self.revocation_reason = ""
        self.expired_at: datetime | None = None
        self.renewed_by: UUID | None = None

    def suspend(self, request_id: str, at: datetime, reason: str,
                until: datetime | None) -> None:
        """Suspends the licence from ``at`` until ``until`` (None: until reinstated);
        RuleViolation LICENCE_REVOKED once revoked."""
        self._require_not_revoked()
        self._suspend(request_id=request_id, at=at, reason=reason, until=until)

    def reinstate(self, request_id: str, at: datetime) -> None:
        """Ends the suspension covering ``at``; RuleViolation LICENCE_REVOKED or
        NOT_SUSPENDED."""
        self._require_not_revoked()
        if self.suspensions.covering(at) is None:
            raise RuleViolation("NOT_SUSPENDED", f"licence {self.id} is not suspended")
        self._reinstate(request_id=request_id, at=at)

    def revoke(self, request_id: str, at: datetime, reason: str) -> None:
        """Revokes the licence from ``at`` on, for good."""
        if self.revoked_at is not None:
            raise RuleViolation("LICENCE_REVOKED", f"licence {self.id} is already revoked")
        self._revoke(request_id=request_id, at=at, reason=reason)

    def expire(self, request_id: str, at: datetime) -> None:
        """Records that the licence's validity ended; RuleViolation LICENCE_NOT_DUE
        unless it ended by ``at`` and the licence is neither revoked nor expired."""
        if not self.is_due_to_expire(at):
            raise RuleViolation("LICENCE_NOT_DUE",
                                f"licence {self.id} is not due to expire at {at.isoformat()}")
        self._expire(request_id=request_id, at=at)

    def renewed(self, request_id: str, at: datetime, successor_id: UUID,
                valid_until: datetime) -> None:
        """Records that ``successor_id`` continues this licence until ``valid_until``;
        RuleViolation LICENCE_REVOKED once revoked, LICENCE_ALREADY_RENEWED once renewed."""
        self._require_not_revoked()
        if self.renewed_by is not None:
            raise RuleViolation("LICENCE_ALREADY_RENEWED",
                                f"licence {self.id} was already renewed by {self.renewed_by}",
                                {"successor": self.renewed_by})
        self._renewed(request_id=request_id, at=at, successor_id=successor_id,
                      valid_until=valid_until)

    @event("Renewed")
    def _renewed(self, request_id: str, at: datetime, successor_id: UUID,
                 valid_until: datetime) -> None:
        self.renewed_by = successor_id

    def term_end(self) -> datetime:
        """Returns when the licence stops binding its site for good: the end of its
        validity, or its revocation when earlier. Relied on by ``ledger.licensing`` (one
        active licence per meter) and ``ledger.metering`` (which licence a reading is
        for)."""
        if self.revoked_at is not None and self.revoked_at < self.valid_until:
            return self.revoked_at
        return self.valid_until

    def is_due_to_expire(self, at: datetime) -> bool:
        """Returns True when validity ended by ``at`` and nothing was recorded of it."""
        return (self.expired_at is None and self.revoked_at is None
                and self.valid_until <= at)

    def _require_not_revoked(self) -> None:
        if self.revoked_at is not None:
            raise RuleViolation("LICENCE_REVOKED", f"licence {self.id} is revoked")

    @event("Suspended")
    def _suspend(self, request_id: str, at: datetime, reason: str,
                 until: datetime | None) -> None:
        self.suspensions.open(at, until)
        self.suspension_reasons.append(reason)

    @event("Reinstated")
    def _reinstate(self, request_id: str, at: datetime) -> None:
        self.suspensions.close_at(at)

    @event("Revoked")
    def _revoke(self, request_id: str, at: datetime, reason: str) -> None:
        self.revoked_at = at
        self.revocation_reason = reason

    @event("Expired")
    def _expire(self, request_id: str, at: datetime) -> None:
        self.expired_at = at

    def standing_at(self, at: datetime) -> str | None:
        """Returns why the licence is not active at ``at``, or None when it is."""
        if at < self.valid_from:
            return f"not yet valid (valid from {self.valid_from.isoformat()})"
        if at >= self.valid_until:
            return f"expired (valid until {self.valid_until.isoformat()})"
        if self.revoked_at is not None and at >= self.revoked_at:
            return f"revoked on {self.revoked_at.isoformat()}"
        span = self.suspensions.covering(at)
        if span is not None:
            until = span[1].isoformat() if span[1] else "further notice"
            return f"suspended from {span[0].isoformat()} until {until}"
        return None

    def standing(self, at: datetime, recorded_at: datetime) -> str | None:
        """Returns why the licence may not be used at the client's time ``at`` or at the
        server's ``recorded_at`` (it must be active at both), or None when it may."""
        return standing_at_both(self.standing_at, at, recorded_at)

    def require_active(self, at: datetime, recorded_at: datetime) -> None:
        """Raises RuleViolation LICENCE_NOT_ACTIVE unless the licence is active at both
        times. The one licence-standing rule: relied on by ``ledger.trading`` (which
        blocks instead of raising), ``ledger.proofs`` and ``ledger.reports``."""
        why = self.standing(at, recorded_at)
        if why is not None:
            raise RuleViolation("LICENCE_NOT_ACTIVE", f"licence {self.id} is {why}",
                                {"licence": self.id, "at": at.isoformat(),
                                 "recorded_at": recorded_at.isoformat()})

    def is_active_at(self, at: datetime) -> bool:
        """Returns True when the licence is active at ``at``."""
        return self.standing_at(at) is None

    def status_at(self, at: datetime) -> str:
        """Returns ACTIVE, PENDING, SUSPENDED, REVOKED or EXPIRED at ``at``."""
        if self.revoked_at is not None and at >= self.revoked_at:
            return "REVOKED"
        if at >= self.valid_until:
            return "EXPIRED"
        if at < self.valid_from:
            return "PENDING"
        if self.suspensions.covering(at) is not None:
            return "SUSPENDED"
        return "ACTIVE"


class MiningLicence(Licence):
    """A licence to mine at one site against an allocated power capacity."""

    @staticmethod
    def create_id(requester: str, request_id: str) -> UUID:
        return derived_id("MiningLicence", requester, request_id)

    @event("Granted")
    def __init__(
        self,
        request_id: str,
        at: datetime,
        participant_id: UUID,
        region: str,
        grid_zone: str,
        meter_id: str,
        power_mw: Decimal,
        efficiency_jth: Decimal,
        coinbase_tags: list[str],
        valid_from: datetime,
        valid_until: datetime,
        renewal_of: UUID | None = None,
    ) -> None:
        self._init_lifecycle(participant_id, valid_from, valid_until, renewal_of)
        self.region = region
        self.grid_zone = grid_zone
        self.meter_id = meter_id
        self.coinbase_tags = list(coinbase_tags)
        self.capacities = [Capacity(valid_from, power_mw, efficiency_jth)]

    def amend_capacity(self, request_id: str, at: datetime, power_mw: Decimal,
                       efficiency_jth: Decimal, effective_from: datetime) -> None:
        """Amends power and efficiency from ``effective_from``; RuleViolation
        LICENCE_REVOKED once revoked."""
        self._require_not_revoked()
        self._amend_capacity(request_id=request_id, at=at, power_mw=power_mw,
                             efficiency_jth=efficiency_jth, effective_from=effective_from)

    @event("CapacityAmended")
    def _amend_capacity(self, request_id: str, at: datetime, power_mw: Decimal,
                        efficiency_jth: Decimal, effective_from: datetime) -> None:
        self.capacities.append(Capacity(effective_from, power_mw, efficiency_jth))
        self.capacities.sort(key=lambda c: c.effective_from)

    def capacity_at(self, at: datetime) -> Capacity:
        """Returns the capacity in force at ``at`` (the granted one before any amendment)."""
        current = self.capacities[0]
        for capacity in self.capacities:
            if capacity.effective_from <= at:
                current = capacity
        return current

    @property
    def power_mw(self) -> Decimal:
        """Returns the latest licensed power in MW."""
        return self.capacities[-1].power_mw

    @property
    def efficiency_jth(self) -> Decimal:
        """Returns the latest declared efficiency in J/TH."""
        return self.capacities[-1].efficiency_jth


class ExchangeLicence(Licence):
    """A licence to operate as a virtual-asset service provider."""

    @staticmethod
    def create_id(requester: str, request_id: str) -> UUID:
        return derived_id("ExchangeLicence", requester, request_id)

    @event("Granted")
    def __init__(
        self,
        request_id: str,
        at: datetime,
        participant_id: UUID,
        services: list[str],
        valid_from: datetime,
        valid_until: datetime,
        renewal_of: UUID | None = None,
    ) -> None:
        self._init_lifecycle(participant_id, valid_from, valid_until, renewal_of)
        self.services = list(services)

"""Participant: an enterprise or individual entrepreneur known to the regulator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import Intervals, LedgerAggregate, derived_id, standing_at_both
from ledger.errors import NotFound, RuleViolation


class ParticipantKind(Enum):
    """Legal form of a participant."""

    ENTERPRISE = "ENTERPRISE"
    INDIVIDUAL = "INDIVIDUAL"


@dataclass
class SigningKey:
    """An Ed25519 public key a participant signs envelopes with."""

    key_id: str
    public_key: bytes
    registered_at: datetime
    revoked_at: datetime | None = None

    def is_valid_at(self, at: datetime) -> bool:
        """Returns True when the key was registered and not yet revoked at ``at``."""
        return self.registered_at <= at and (self.revoked_at is None or at < self.revoked_at)


class Participant(LedgerAggregate):
    """A registered participant, its approval, suspensions and signing keys.

    The command methods guard the lifecycle (a deregistered participant is never
    approved, suspended or given keys again; a key is revoked once); relied on by
    ``ledger.licensing`` and ``ledger.keys``, which decide and save. ``standing`` is the
    one rule of whether a participant may act, relied on by every use case that acts for
    one (trades, reports, proofs, licence grants).
    """

    deregistration: tuple[str, str] | None = None
    """(request id, reason) of the deregistration, once deregistered."""

    @staticmethod
    def create_id(requester: str, request_id: str) -> UUID:
        return derived_id("Participant", requester, request_id)

    @event("Registered")
    def __init__(
        self,
        request_id: str,
        at: datetime,
        kind: str,
        legal_name: str,
        tax_id: str,
        country: str,
        beneficial_owners: list[str],
        offshore_links: list[str],
    ) -> None:
        self.registered_at = at
        self.kind = ParticipantKind(kind)
        self.legal_name = legal_name
        self.tax_id = tax_id
        self.country = country
        self.beneficial_owners = list(beneficial_owners)
        self.offshore_links = list(offshore_links)
        self.approved_at: datetime | None = None
        self.deregistered_at: datetime | None = None
        self.suspensions = Intervals()
        self.keys: dict[str, SigningKey] = {}

    def approve(self, request_id: str, at: datetime) -> None:
        """Approves the participant; RuleViolation when deregistered or already approved."""
        self._require_registered()
        if self.approved_at is not None:
            raise RuleViolation("ALREADY_APPROVED", f"participant {self.id} is already approved")
        self._approve(request_id=request_id, at=at)

    def register_key(self, request_id: str, at: datetime, key_id: str,
                     public_key: bytes) -> None:
        """Registers an Ed25519 public key; RuleViolation KEY_ID_IN_USE when the id is
        taken (revoked keys keep theirs) or PARTICIPANT_DEREGISTERED."""
        self._require_registered()
        if key_id in self.keys:
            raise RuleViolation("KEY_ID_IN_USE", f"key id {key_id!r} is already registered")
        self._register_key(request_id=request_id, at=at, key_id=key_id,
                           public_key=public_key.hex())

    def revoke_key(self, request_id: str, at: datetime, key_id: str) -> None:
        """Revokes a key from ``at`` on; NotFound for an unknown key, RuleViolation
        KEY_ALREADY_REVOKED when it is."""
        key = self.keys.get(key_id)
        if key is None:
            raise NotFound("key", key_id)
        if key.revoked_at is not None:
            raise RuleViolation("KEY_ALREADY_REVOKED", f"key {key_id!r} is already revoked")
        self._revoke_key(request_id=request_id, at=at, key_id=key_id)

    def suspend(self, request_id: str, at: datetime, reason: str,
                until: datetime | None) -> None:
        """Suspends the participant from ``at`` until ``until`` (None: until reinstated)."""
        self._require_registered()
        self._suspend(request_id=request_id, at=at, reason=reason, until=until)

    def reinstate(self, request_id: str, at: datetime) -> None:
        """Ends the suspension covering ``at``; RuleViolation NOT_SUSPENDED otherwise."""
        if self.suspensions.covering(at) is None:
            raise RuleViolation("NOT_SUSPENDED", f"participant {self.id} is not suspended")
        self._reinstate(request_id=request_id, at=at)

    def deregister(self, request_id: str, at: datetime, reason: str) -> None:
        """Deregisters the participant from ``at`` on, for good."""
        self._require_registered()
        self._deregister(request_id=request_id, at=at, reason=reason)

    def _require_registered(self) -> None:
        if self.deregistered_at is not None:
            raise RuleViolation("PARTICIPANT_DEREGISTERED",
                                f"participant {self.id} was deregistered")

    @event("Approved")
    def _approve(self, request_id: str, at: datetime) -> None:
        self.approved_at = at

    @event("KeyRegistered")
    def _register_key(self, request_id: str, at: datetime, key_id: str,
                      public_key: str) -> None:
        self.keys[key_id] = SigningKey(key_id, bytes.fromhex(public_key), at)

    @event("KeyRevoked")
    def _revoke_key(self, request_id: str, at: datetime, key_id: str) -> None:
        self.keys[key_id].revoked_at = at

    @event("Suspended")
    def _suspend(self, request_id: str, at: datetime, reason: str,
                 until: datetime | None) -> None:
        self.suspensions.open(at, until)

    @event("Reinstated")
    def _reinstate(self, request_id: str, at: datetime) -> None:
        self.suspensions.close_at(at)

    @event("Deregistered")
    def _deregister(self, request_id: str, at: datetime, reason: str) -> None:
        self.deregistered_at = at
        self.deregistration = (request_id, reason)

    def standing_at(self, at: datetime) -> str | None:
        """Returns why the participant may not act at ``at``, or None when it may."""
        if self.approved_at is None or at < self.approved_at:
            return "not approved"
        if self.deregistered_at is not None and at >= self.deregistered_at:
            return "deregistered"
        if self.suspensions.covering(at) is not None:
            return "suspended"
        return None

    def standing(self, at: datetime, recorded_at: datetime) -> str | None:
        """Returns why the participant may not act at the client's time ``at`` or at the
        server's ``recorded_at`` (standing must hold at both), or None when it may."""
        return standing_at_both(self.standing_at, at, recorded_at)

    def require_standing(self, at: datetime, recorded_at: datetime) -> None:
        """Raises RuleViolation PARTICIPANT_NOT_ACTIVE unless the participant may act at
        both times."""
        why = self.standing(at, recorded_at)
        if why is not None:
            raise RuleViolation("PARTICIPANT_NOT_ACTIVE", f"participant {self.id} is {why}",
                                {"participant": self.id, "at": at.isoformat(),
                                 "recorded_at": recorded_at.isoformat()})

    def is_active_at(self, at: datetime) -> bool:
        """Returns True when the participant is approved, registered and not suspended."""
        return self.standing_at(at) is None

    def valid_key(self, key_id: str, at: datetime) -> SigningKey | None:
        """Returns the key ``key_id`` when it is registered and unrevoked at ``at``."""
        key = self.keys.get(key_id)
        return key if key is not None and key.is_valid_at(at) else None

"""Participant: an enterprise or individual entrepreneur known to the regulator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import Intervals, LedgerAggregate, derived_id


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
    """A registered participant, its approval, suspensions and signing keys."""

    @staticmethod
    def create_id(request_id: str) -> UUID:
        return derived_id("Participant", request_id)

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

    @event("Approved")
    def approve(self, request_id: str, at: datetime) -> None:
        self.approved_at = at

    @event("KeyRegistered")
    def register_key(self, request_id: str, at: datetime, key_id: str, public_key: str) -> None:
        self.keys[key_id] = SigningKey(key_id, bytes.fromhex(public_key), at)

    @event("KeyRevoked")
    def revoke_key(self, request_id: str, at: datetime, key_id: str) -> None:
        self.keys[key_id].revoked_at = at

    @event("Suspended")
    def suspend(self, request_id: str, at: datetime, reason: str, until: datetime | None) -> None:
        self.suspensions.open(at, until)

    @event("Reinstated")
    def reinstate(self, request_id: str, at: datetime) -> None:
        self.suspensions.close_at(at)

    @event("Deregistered")
    def deregister(self, request_id: str, at: datetime, reason: str) -> None:
        self.deregistered_at = at

    def standing_at(self, at: datetime) -> str | None:
        """Returns why the participant may not act at ``at``, or None when it may."""
        if self.approved_at is None or at < self.approved_at:
            return "not approved"
        if self.deregistered_at is not None and at >= self.deregistered_at:
            return "deregistered"
        if self.suspensions.covering(at) is not None:
            return "suspended"
        return None

    def is_active_at(self, at: datetime) -> bool:
        """Returns True when the participant is approved, registered and not suspended."""
        return self.standing_at(at) is None

    def valid_key(self, key_id: str, at: datetime) -> SigningKey | None:
        """Returns the key ``key_id`` when it is registered and unrevoked at ``at``."""
        key = self.keys.get(key_id)
        return key if key is not None and key.is_valid_at(at) else None

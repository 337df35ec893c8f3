"""Signing keys and signed envelopes: registering and revoking keys, and the one check
of an envelope against the key that signed it.

:class:`EnvelopeVerifier` is the only place that decides whether an envelope may be
stored (DESIGN §3 "Signatures"): the key it names must be the participant's, registered
and unrevoked both at the client's time and at the server's (a revoked key never signs
again, whatever date it claims), and the signature must verify. Relied on by
``ledger.trading``, ``ledger.proofs`` and ``ledger.reports``; the services call it too, to
check a stream's signatures early on worker processes, through the same checker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from ledger.commands import UseCase
from ledger.domain.base import Stamp
from ledger.domain.envelope import PUBLIC_KEY_SIZE, Envelope
from ledger.domain.participant import Participant, SigningKey
from ledger.errors import EnvelopeRefused, InvalidRequest
from ledger.receipts import Receipt
from ledger.requests import REGULATOR
from ledger.signatures import SignatureCheck, SignatureChecker, usable_public_key
from ledger.validation import check_text
from ledger.windows import WindowKind

MAX_KEY_ID = 200


class Signed(NamedTuple):
    """An envelope to check: who signed it (the participant and its keys as registered)
    and the two times its key must be valid at."""

    envelope: Envelope
    participant_id: UUID
    keys: Mapping[str, SigningKey]
    at: datetime
    recorded_at: datetime

    @classmethod
    def by(cls, envelope: Envelope, participant: Participant, at: datetime,
           recorded_at: datetime) -> Signed:
        """Returns the check of an envelope a participant signed."""
        return cls(envelope, participant.id, participant.keys, at, recorded_at)


class EnvelopeVerifier:
    """Checks envelopes against their signers' registered keys."""

    def __init__(self, checker: SignatureChecker) -> None:
        self.checker = checker

    @staticmethod
    def key_fault(item: Signed) -> EnvelopeRefused | SignatureCheck:
        """Returns the signature check the envelope still needs when its key may sign at
        both times, else the refusal (KEY_UNKNOWN or KEY_REVOKED)."""
        envelope, participant_id, keys, at, recorded_at = item
        key = keys.get(envelope.key_id)
        if key is not None and key.is_valid_at(at) and key.is_valid_at(recorded_at):
            return key.public_key, envelope.signature, envelope.signed_bytes()
        figures = {"participant": participant_id, "key_id": envelope.key_id,
                   "at": at.isoformat(), "recorded_at": recorded_at.isoformat()}
        if key is None:
            return EnvelopeRefused("KEY_UNKNOWN", f"participant {participant_id} has no key "
                                                  f"{envelope.key_id!r}", figures)
        when, what = (at, "at") if not key.is_valid_at(at) else (recorded_at, "when recorded at")
        return EnvelopeRefused("KEY_REVOKED",
                               f"key {envelope.key_id!r} is not valid {what} "
                               f"{when.isoformat()}", figures)

    def refusals(self, items: Sequence[Signed]) -> list[EnvelopeRefused | None]:
        """Returns, per envelope, why it may not be stored, or None when it may; the
        signatures are checked together."""
        outcomes: list[EnvelopeRefused | SignatureCheck] = [
            self.key_fault(item) for item in items]
        checks = [o for o in outcomes if not isinstance(o, EnvelopeRefused)]
        verified = iter(self.checker.check(checks))
        refusals: list[EnvelopeRefused | None] = []
        for item, outcome in zip(items, outcomes, strict=True):
            if isinstance(outcome, EnvelopeRefused):
                refusals.append(outcome)
            elif next(verified):
                refusals.append(None)
            else:
                refusals.append(EnvelopeRefused(
                    "SIGNATURE_INVALID",
                    f"envelope signature does not verify with key {item.envelope.key_id!r} "
                    f"of participant {item.participant_id}",
                    {"participant": item.participant_id, "key_id": item.envelope.key_id}))
        return refusals

    def require(self, envelope: Envelope, participant: Participant, at: datetime,
                recorded_at: datetime) -> None:
        """Raises EnvelopeRefused unless the envelope may be stored."""
        refusal = self.refusals([Signed.by(envelope, participant, at, recorded_at)])[0]
        if refusal is not None:
            raise refusal


class Keys(UseCase):
    """Registers and revokes participants' signing keys (the participant itself or the
    regulator may)."""

    def _stamp(self, command: str, requester: str, request_id: str, at: datetime | None,
               **fields: object) -> tuple[Stamp, datetime]:
        return self.begin(command, requester, request_id, at, WindowKind.REGULATOR, **fields)

    def register_key(self, request_id: str, participant_id: UUID, key_id: str,
                     public_key: bytes, at: datetime | None = None,
                     requester: str = REGULATOR) -> Receipt:
        """Registers an Ed25519 public key (32 bytes) the participant signs with. A new
        request is refused (InvalidRequest naming ``public_key``, nothing recorded) unless
        the key is one a private key makes (``ledger.signatures.usable_public_key``).

        A retry of a registration recorded before that rule existed (stores written
        before 2026-12-02) still gets its first receipt: the key's usability is decided
        after the request is found new, like every change (so an unknown participant is
        NOT_FOUND and a reused request id REQUEST_ID_REUSED first)."""
        check_text("key_id", key_id, MAX_KEY_ID)
        if not isinstance(public_key, bytes) or len(public_key) != PUBLIC_KEY_SIZE:
            size = len(public_key) if isinstance(public_key, bytes) else "no"
            raise InvalidRequest("public_key",
                                 f"Ed25519 keys are {PUBLIC_KEY_SIZE} bytes, got {size}")
        stamp, when = self._stamp("RegisterKey", requester, request_id, at,
                                  participant_id=participant_id, key_id=key_id,
                                  public_key=public_key)

        def register(participant: Participant) -> None:
            if not usable_public_key(public_key):
                raise InvalidRequest("public_key",
                                     "not an Ed25519 public key anyone can be held to: it "
                                     "must encode a point of the curve's prime-order "
                                     "group, as every key made from a private key does")
            participant.register_key(request_id=request_id, at=when, key_id=key_id,
                                     public_key=public_key)

        return self.mutate(stamp, request_id, participant_id, Participant, "participant",
                           register)

    def revoke_key(self, request_id: str, participant_id: UUID, key_id: str,
                   at: datetime | None = None, requester: str = REGULATOR) -> Receipt:
        """Revokes a participant's key from ``at`` on."""
        check_text("key_id", key_id, MAX_KEY_ID)
        stamp, when = self._stamp("RevokeKey", requester, request_id, at,
                                  participant_id=participant_id, key_id=key_id)
        return self.mutate(stamp, request_id, participant_id, Participant, "participant",
                           lambda p: p.revoke_key(request_id=request_id, at=when,
                                                  key_id=key_id))

"""Signed envelopes as the ledger stores them (DESIGN.md §7: the envelope is what is stored).

An envelope is the payload bytes a participant signed, the payload's type, the Ed25519
signature and the id of the participant's registered key that made it. The signature
covers ``payload_type ‖ 0x0A ‖ payload`` (``ledger.keys.EnvelopeVerifier`` checks it),
so a signature made for one kind of payload cannot be presented as another.

Events carry an envelope as a small JSON-safe record (base64 for bytes, an empty dict when
there is none), so the store keeps exactly the bytes that were signed and an auditor can
re-check them against the participant's key at the event's own time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ledger.domain.base64_text import base64_bytes, base64_text
from ledger.errors import InvalidRequest

SIGNATURE_SIZE = 64
"""Bytes of an Ed25519 signature."""
PUBLIC_KEY_SIZE = 32
"""Bytes of an Ed25519 public key."""
MAX_PAYLOAD_TYPE = 200
MAX_KEY_ID = 200

EnvelopeRecord = dict[str, str]
"""An envelope in event form: ``payload``/``signature`` base64, ``payload_type``, ``key_id``;
empty when the event came without one."""


@dataclass(frozen=True)
class Envelope:
    """Signed payload bytes: what a participant sent, exactly as it was signed."""

    payload: bytes
    payload_type: str
    signature: bytes
    key_id: str

    def __post_init__(self) -> None:
        if not isinstance(self.payload, bytes):
            raise InvalidRequest("envelope.payload", "must be bytes")
        if not isinstance(self.payload_type, str) or not self.payload_type.strip():
            raise InvalidRequest("envelope.payload_type", "must name the payload's type")
        if len(self.payload_type) > MAX_PAYLOAD_TYPE:
            raise InvalidRequest("envelope.payload_type",
                                 f"at most {MAX_PAYLOAD_TYPE} characters")
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_SIZE:
            size = len(self.signature) if isinstance(self.signature, bytes) else "no"
            raise InvalidRequest("envelope.signature",
                                 f"an Ed25519 signature is {SIGNATURE_SIZE} bytes, got {size}")
        if not isinstance(self.key_id, str) or not self.key_id.strip():
            raise InvalidRequest("envelope.key_id", "must name the signing key")
        if len(self.key_id) > MAX_KEY_ID:
            raise InvalidRequest("envelope.key_id", f"at most {MAX_KEY_ID} characters")

    def signed_bytes(self) -> bytes:
        """Returns the bytes the signature covers: payload_type ‖ 0x0A ‖ payload."""
        return signed_bytes(self.payload_type, self.payload)

    def to_record(self) -> EnvelopeRecord:
        """Returns the JSON-safe form events carry."""
        return {
            "payload": base64_text(self.payload),
            "payload_type": self.payload_type,
            "signature": base64_text(self.signature),
            "key_id": self.key_id,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, str]) -> Envelope:
        """Returns the envelope of an event record; InvalidRequest when it is damaged."""
        try:
            return cls(
                payload=base64_bytes(record["payload"]),
                payload_type=record["payload_type"],
                signature=base64_bytes(record["signature"]),
                key_id=record["key_id"],
            )
        except KeyError as exc:
            raise InvalidRequest(f"envelope.{exc.args[0]}", "is missing") from None
        except (TypeError, ValueError) as exc:  # binascii.Error is a ValueError
            raise InvalidRequest("envelope", f"not a valid envelope record: {exc}") from None


def to_record(envelope: Envelope | None) -> EnvelopeRecord:
    """Returns the record form of an optional envelope (empty when there is none)."""
    return {} if envelope is None else envelope.to_record()


def from_record(record: Mapping[str, str] | None) -> Envelope | None:
    """Returns the envelope of an optional record (None when empty or absent)."""
    return Envelope.from_record(record) if record else None


def signed_bytes(payload_type: str, payload: bytes) -> bytes:
    """Returns the bytes an envelope's signature covers."""
    return payload_type.encode() + b"\n" + payload

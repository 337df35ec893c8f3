"""Signed envelopes: payload bytes + Ed25519 signature + key id (DESIGN.md §7).

The signature covers ``payload_type ‖ 0x0A ‖ payload``: binding the payload's message
type means a signature made for one kind of payload cannot be presented as another. This
module makes and opens envelopes (signing with ``cryptography``'s Ed25519); the ledger
verifies them (``ledger.keys``, by libsodium's rules: ``ledger.signatures``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
)
from google.protobuf.message import DecodeError, Message

from ledger import Envelope, signed_bytes
from services.generated.valedger.v1 import common_pb2
from services.status import ServiceError, invalid_argument

M = TypeVar("M", bound=Message)

SIGNATURE_SIZE = 64
PUBLIC_KEY_SIZE = 32


def key_id_for(public_key: bytes) -> str:
    """Returns the conventional key id of a public key: 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_key).hexdigest()[:16]


@dataclass(frozen=True)
class Signer:
    """An Ed25519 private key and the key id it is registered under."""

    private_key: Ed25519PrivateKey
    key_id: str

    @classmethod
    def generate(cls, key_id: str | None = None) -> Signer:
        """Returns a new random signing key (key id derived from it unless given)."""
        key = Ed25519PrivateKey.generate()
        signer = cls(key, "")
        return cls(key, key_id or key_id_for(signer.public_key))

    @classmethod
    def load(cls, path: Path, key_id: str | None = None) -> Signer:
        """Returns the signer of a PEM (PKCS#8) Ed25519 private key file."""
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
        return cls(key, key_id or key_id_for(raw))

    def save(self, path: Path) -> None:
        """Writes the private key as PEM, readable by its owner only."""
        data = self.private_key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
        Path(path).touch(mode=0o600)
        Path(path).write_bytes(data)

    @property
    def public_key(self) -> bytes:
        """Returns the raw 32-byte public key."""
        return self.private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                          serialization.PublicFormat.Raw)

    def seal(self, message: Message) -> common_pb2.SignedEnvelope:
        """Returns ``message`` serialized and signed in an envelope."""
        payload = message.SerializeToString(deterministic=True)
        payload_type = message.DESCRIPTOR.full_name
        signature = self.private_key.sign(signed_bytes(payload_type, payload))
        return common_pb2.SignedEnvelope(payload=payload, payload_type=payload_type,
                                         signature=signature, key_id=self.key_id)


def stored(sealed: common_pb2.SignedEnvelope) -> Envelope:
    """Returns the ledger's form of a verified envelope: what the event stores."""
    return Envelope(payload=sealed.payload, payload_type=sealed.payload_type,
                    signature=sealed.signature, key_id=sealed.key_id)


def parse(envelope: common_pb2.SignedEnvelope, payload_class: type[M],
          field: str = "envelope") -> M:
    """Returns the envelope's payload decoded as ``payload_class`` (signature unchecked).

    Raises INVALID_ARGUMENT when the envelope is incomplete or the payload is not a
    ``payload_class`` message.
    """
    expected = payload_class.DESCRIPTOR.full_name
    if envelope.payload_type != expected:
        raise invalid_argument(f"{field}.payload_type",
                               f"must be {expected!r}, got {envelope.payload_type!r}")
    if len(envelope.signature) != SIGNATURE_SIZE:
        raise invalid_argument(f"{field}.signature",
                               f"an Ed25519 signature is {SIGNATURE_SIZE} bytes, got "
                               f"{len(envelope.signature)}")
    if not envelope.key_id:
        raise invalid_argument(f"{field}.key_id", "must name the signing key")
    message = payload_class()
    try:
        message.ParseFromString(envelope.payload)
    except DecodeError:
        raise invalid_argument(f"{field}.payload", f"not a serialized {expected}") from None
    return message


__all__ = ["ServiceError", "Signer", "key_id_for", "parse", "signed_bytes", "stored"]

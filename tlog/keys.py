"""Ed25519 note keys (c2sp.org/signed-note): key ids, verifier keys and signer keys.

A key has a name and a signature type: 0x01 for plain Ed25519 note signatures (a log's
checkpoint key) and 0x04 for Ed25519 ``cosignature/v1`` (a witness key,
c2sp.org/tlog-cosignature). The key id is the first four bytes of
SHA-256(name ‖ 0x0A ‖ type ‖ 32-byte public key). Verifier keys are written
``<name>+<hex key id>+base64(type ‖ public key)``; signer keys, as in Go's
``golang.org/x/mod/sumdb/note``, ``PRIVATE+KEY+<name>+<hex key id>+base64(type ‖ seed)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from tlog.errors import TlogError

SIG_TYPE_ED25519 = 0x01
"""Signature type of a plain Ed25519 note signature."""
SIG_TYPE_COSIGNATURE_V1 = 0x04
"""Signature type of an Ed25519 cosignature/v1 (timestamped) note signature."""
SIG_TYPES = (SIG_TYPE_ED25519, SIG_TYPE_COSIGNATURE_V1)
ED25519_KEY_SIZE = 32
ED25519_SIG_SIZE = 64
COSIGNATURE_HEADER = "cosignature/v1\n"
"""First line of the message a cosignature/v1 signs."""
MAX_TIMESTAMP = (1 << 63) - 1
PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"

_U64 = struct.Struct(">Q")


class NoteError(TlogError):
    """A note, signature or key that is malformed or does not verify."""


class KeyFormatError(NoteError):
    """A verifier or signer key string that cannot be read."""


def key_label(name: str, key_id: bytes) -> str:
    """Returns ``name+hex(key id)``: how a key is named in messages and reports."""
    return f"{name}+{key_id.hex()}"


def check_key_name(name: str) -> None:
    """Returns None for a valid key name (non-empty, no Unicode spaces, no '+', no control
    characters); raises KeyFormatError otherwise."""
    if not name:
        raise KeyFormatError("key name is empty")
    if "+" in name or any(c.isspace() for c in name):
        raise KeyFormatError(f"key name {name!r} contains a space or '+'")
    if any(ord(c) < 0x20 or c == "\x7f" for c in name):
        raise KeyFormatError(f"key name {name!r} contains a control character")


def key_id(name: str, public_key: bytes, sig_type: int = SIG_TYPE_ED25519) -> bytes:
    """Returns the 4-byte id of a key: SHA-256(name ‖ 0x0A ‖ type ‖ key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key).digest()[
        :4
    ]


def cosigned_message(text: str, timestamp: int) -> bytes:
    """Returns the bytes a cosignature/v1 signs: ``cosignature/v1``, ``time <timestamp>``
    and the note text (final newline included). Precondition: 0 <= timestamp < 2**63."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise NoteError(f"cosignature timestamp {timestamp} is out of range")
    return f"{COSIGNATURE_HEADER}time {timestamp}\n{text}".encode()


def b64decode(text: str, what: str, error: type[NoteError] = NoteError) -> bytes:
    """Returns the bytes of standard base64 ``text``; raises ``error`` when invalid."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise error(f"{what} is not valid base64") from None


def _split_key(text: str, what: str) -> tuple[str, str, int, bytes]:
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise KeyFormatError(f"a {what} has the form name+hex(keyid)+base64(type ‖ key)")
    name, hex_id, material = parts
    check_key_name(name)
    raw = b64decode(material, f"{what} material", KeyFormatError)
    if len(raw) != 1 + ED25519_KEY_SIZE or raw[0] not in SIG_TYPES:
        raise KeyFormatError(f"{what} is not an Ed25519 (type 0x01 or 0x04) key")
    return name, hex_id, raw[0], raw[1:]


@dataclass(frozen=True)
class NoteVerifier:
    """A trusted Ed25519 public key with its name, signature type and key id."""

    name: str
    public_key: bytes
    sig_type: int = SIG_TYPE_ED25519
    key_id: bytes = field(init=False)

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if self.sig_type not in SIG_TYPES:
            raise KeyFormatError(f"unsupported signature type {self.sig_type:#04x}")
        if len(self.public_key) != ED25519_KEY_SIZE:
            raise KeyFormatError(f"an Ed25519 public key has 32 bytes, not {len(self.public_key)}")
        try:
            key = Ed25519PublicKey.from_public_bytes(self.public_key)
        except ValueError:
            raise KeyFormatError("public key is not a valid Ed25519 key") from None
        object.__setattr__(self, "key_id", key_id(self.name, self.public_key, self.sig_type))
        object.__setattr__(self, "_key", key)

    def __reduce__(self) -> tuple[Any, tuple[str, bytes, int]]:
        """Pickles as its name, key and type (the parsed key object is not picklable)."""
        return (NoteVerifier, (self.name, self.public_key, self.sig_type))

    @property
    def is_cosigner(self) -> bool:
        """Returns True for a cosignature/v1 (witness) key."""
        return self.sig_type == SIG_TYPE_COSIGNATURE_V1

    @property
    def label(self) -> str:
        """Returns ``name+hex(key id)``, the public part of the key's identity."""
        return key_label(self.name, self.key_id)

    @property
    def vkey(self) -> str:
        """Returns the verifier key string ``name+hex(id)+base64(type ‖ key)``."""
        material = base64.b64encode(bytes([self.sig_type]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{material}"

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Returns the verifier described by a verifier key string."""
        name, hex_id, sig_type, public = _split_key(vkey.strip(), "verifier key")
        verifier = cls(name, public, sig_type)
        if len(hex_id) != 8 or hex_id.lower() != verifier.key_id.hex():
            raise KeyFormatError("verifier key id does not match its name and key")
        return verifier

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Returns True when ``signature`` is this key's raw Ed25519 signature of
        ``message``."""
        if len(signature) != ED25519_SIG_SIZE:
            return False
        try:
            self._key.verify(signature, message)  # type: ignore[attr-defined]
        except InvalidSignature:
            return False
        return True

    def verify_note(self, text: str, signature: bytes) -> bool:
        """Returns True when ``signature`` (the bytes after the key id on a signature line)
        is a valid signature of note ``text`` by this key: plain Ed25519 of the text for
        type 0x01; for type 0x04, u64 timestamp ‖ Ed25519 of the cosigned message."""
        if self.sig_type == SIG_TYPE_ED25519:
            return self.verify(text.encode("utf-8"), signature)
        if len(signature) != 8 + ED25519_SIG_SIZE:
            return False
        (timestamp,) = _U64.unpack(signature[:8])
        if timestamp > MAX_TIMESTAMP:
            return False
        return self.verify(cosigned_message(text, timestamp), signature[8:])


class NoteSigner:
    """An Ed25519 private key that signs notes under a key name. Never printed."""

    def __init__(self, name: str, seed: bytes, sig_type: int = SIG_TYPE_ED25519) -> None:
        check_key_name(name)
        if len(seed) != ED25519_KEY_SIZE:
            raise KeyFormatError("an Ed25519 private key seed has 32 bytes")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.name = name
        self._seed = seed
        public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = NoteVerifier(name, public, sig_type)
        self.sig_type = sig_type
        self.key_id = self.verifier.key_id

    @classmethod
    def generate(cls, name: str, sig_type: int = SIG_TYPE_ED25519) -> NoteSigner:
        """Returns a new random key under ``name``."""
        key = Ed25519PrivateKey.generate()
        seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return cls(name, seed, sig_type)

    @classmethod
    def from_skey(cls, skey: str) -> NoteSigner:
        """Returns the signer of a ``PRIVATE+KEY+name+hex(id)+base64(type ‖ seed)``
        string."""
        text = skey.strip()
        if not text.startswith(PRIVATE_KEY_PREFIX):
            raise KeyFormatError("a signer key starts with PRIVATE+KEY+")
        name, hex_id, sig_type, seed = _split_key(text[len(PRIVATE_KEY_PREFIX) :], "signer key")
        signer = cls(name, seed, sig_type)
        if hex_id.lower() != signer.key_id.hex():
            raise KeyFormatError("signer key id does not match its name and key")
        return signer

    def to_skey(self) -> str:
        """Returns the private key string (secret: write it only to a protected file)."""
        material = base64.b64encode(bytes([self.sig_type]) + self._seed).decode()
        return f"{PRIVATE_KEY_PREFIX}{self.name}+{self.key_id.hex()}+{material}"

    def sign(self, message: bytes) -> bytes:
        """Returns the raw 64-byte Ed25519 signature of ``message``."""
        return self._key.sign(message)

    def sign_note(self, text: str, timestamp: int | None = None) -> bytes:
        """Returns the signature bytes of a signature line for note ``text`` (key id not
        included): the Ed25519 signature for type 0x01; for type 0x04, u64 ``timestamp``
        ‖ the Ed25519 signature of the cosigned message (``timestamp`` required)."""
        if self.sig_type == SIG_TYPE_ED25519:
            return self.sign(text.encode("utf-8"))
        if timestamp is None:
            raise NoteError("a cosignature needs a timestamp")
        return _U64.pack(timestamp) + self.sign(cosigned_message(text, timestamp))

    def __repr__(self) -> str:
        return f"NoteSigner(name={self.name!r}, key_id={self.key_id.hex()})"

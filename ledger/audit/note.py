"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys (pycryptodome).

A note is text ending in a newline, a blank line, then signature lines
``— <key name> base64(key id ‖ signature)``. The key id of an Ed25519 key is the first four
bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key). Verifier keys are written
``<name>+<hex key id>+base64(0x01 ‖ public key)``; signer keys, as in Go's
``golang.org/x/mod/sumdb/note``, ``PRIVATE+KEY+<name>+<hex key id>+base64(0x01 ‖ seed)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field

from Crypto.PublicKey import ECC
from Crypto.Signature import eddsa

SIG_TYPE_ED25519 = 0x01
ED25519_KEY_SIZE = 32
ED25519_SIG_SIZE = 64
MAX_SIGNATURES = 100
SIG_PREFIX = "\u2014 "
PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"


class NoteError(ValueError):
    """A note, signature or key that is malformed or does not verify."""


class KeyFormatError(NoteError):
    """A verifier or signer key string that cannot be read."""


class UnverifiedNoteError(NoteError):
    """A note with no valid signature from a trusted key, or a failing one."""


class UntrustedKeyError(UnverifiedNoteError):
    """A note signed by no trusted key at all (only by keys the verifier does not hold)."""


def key_label(name: str, key_id: bytes) -> str:
    """Returns ``name+hex(key id)``: how a key is named in messages and reports."""
    return f"{name}+{key_id.hex()}"


def check_key_name(name: str) -> None:
    """Checks a key name: non-empty, no Unicode spaces, no '+'."""
    if not name:
        raise KeyFormatError("key name is empty")
    if "+" in name or any(c.isspace() for c in name):
        raise KeyFormatError(f"key name {name!r} contains a space or '+'")
    if any(ord(c) < 0x20 or c == "\x7f" for c in name):
        raise KeyFormatError(f"key name {name!r} contains a control character")


def key_id(name: str, public_key: bytes) -> bytes:
    """Returns the 4-byte id of an Ed25519 key: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]."""
    return hashlib.sha256(
        name.encode("utf-8") + b"\n" + bytes([SIG_TYPE_ED25519]) + public_key
    ).digest()[:4]


def _b64decode(text: str, what: str, error: type[NoteError] = NoteError) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise error(f"{what} is not valid base64") from None
    return raw


@dataclass(frozen=True)
class NoteVerifier:
    """A trusted Ed25519 public key with its name and key id."""

    name: str
    public_key: bytes
    key_id: bytes = field(init=False)

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.public_key) != ED25519_KEY_SIZE:
            raise KeyFormatError(f"an Ed25519 public key has 32 bytes, not {len(self.public_key)}")
        try:
            key = eddsa.import_public_key(self.public_key)
        except ValueError:
            raise KeyFormatError("public key is not a valid Ed25519 point") from None
        object.__setattr__(self, "key_id", key_id(self.name, self.public_key))
        object.__setattr__(self, "_verifier", eddsa.new(key, "rfc8032"))

    @property
    def label(self) -> str:
        """Returns ``name+hex(key id)``, the public part of the key's identity."""
        return key_label(self.name, self.key_id)

    @property
    def vkey(self) -> str:
        """Returns the verifier key string ``name+hex(id)+base64(0x01 ‖ key)``."""
        material = base64.b64encode(bytes([SIG_TYPE_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{material}"

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Returns the verifier described by a verifier key string."""
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise KeyFormatError("a verifier key has the form name+hex(keyid)+base64(key)")
        name, hex_id, material = parts
        check_key_name(name)
        raw = _b64decode(material, "verifier key material", KeyFormatError)
        if len(raw) != 1 + ED25519_KEY_SIZE or raw[0] != SIG_TYPE_ED25519:
            raise KeyFormatError("verifier key is not an Ed25519 (type 0x01) key")
        verifier = cls(name, raw[1:])
        if hex_id.lower() != verifier.key_id.hex() or len(hex_id) != 8:
            raise KeyFormatError("verifier key id does not match its name and key")
        return verifier

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Returns True when ``signature`` is this key's Ed25519 signature of ``message``."""
        if len(signature) != ED25519_SIG_SIZE:
            return False
        try:
            self._verifier.verify(message, signature)  # type: ignore[attr-defined]
        except ValueError:
            return False
        return True


class NoteSigner:
    """An Ed25519 private key that signs notes under a key name. Never printed."""

    def __init__(self, name: str, seed: bytes) -> None:
        check_key_name(name)
        if len(seed) != ED25519_KEY_SIZE:
            raise KeyFormatError("an Ed25519 private key seed has 32 bytes")
        try:
            self._key = eddsa.import_private_key(seed)
        except ValueError:
            raise KeyFormatError("invalid Ed25519 private key") from None
        self.name = name
        self._seed = seed
        public = self._key.public_key().export_key(format="raw")
        self.verifier = NoteVerifier(name, public)
        self.key_id = self.verifier.key_id
        self._signer = eddsa.new(self._key, "rfc8032")

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        """Returns a new random key under ``name``."""
        key = ECC.generate(curve="Ed25519")
        return cls(name, bytes(key.seed))

    @classmethod
    def from_skey(cls, skey: str) -> NoteSigner:
        """Returns the signer of a ``PRIVATE+KEY+name+hex(id)+base64(0x01 ‖ seed)`` string."""
        text = skey.strip()
        if not text.startswith(PRIVATE_KEY_PREFIX):
            raise KeyFormatError("a signer key starts with PRIVATE+KEY+")
        parts = text[len(PRIVATE_KEY_PREFIX) :].split("+", 2)
        if len(parts) != 3:
            raise KeyFormatError("a signer key has the form PRIVATE+KEY+name+hex(id)+base64")
        name, hex_id, material = parts
        raw = _b64decode(material, "signer key material", KeyFormatError)
        if len(raw) != 1 + ED25519_KEY_SIZE or raw[0] != SIG_TYPE_ED25519:
            raise KeyFormatError("signer key is not an Ed25519 (type 0x01) key")
        signer = cls(name, raw[1:])
        if hex_id.lower() != signer.key_id.hex():
            raise KeyFormatError("signer key id does not match its name and key")
        return signer

    def to_skey(self) -> str:
        """Returns the private key string (secret: write it only to a protected file)."""
        material = base64.b64encode(bytes([SIG_TYPE_ED25519]) + self._seed).decode()
        return f"{PRIVATE_KEY_PREFIX}{self.name}+{self.key_id.hex()}+{material}"

    def sign(self, message: bytes) -> bytes:
        """Returns the raw 64-byte Ed25519 signature of ``message``."""
        return bytes(self._signer.sign(message))

    def __repr__(self) -> str:
        return f"NoteSigner(name={self.name!r}, key_id={self.key_id.hex()})"


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """Returns the signature line, newline included."""
        b64 = base64.b64encode(self.key_id + self.signature).decode()
        return f"{SIG_PREFIX}{self.name} {b64}\n"


@dataclass(frozen=True)
class Note:
    """A parsed note: its text (final newline included) and its signature lines."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def to_text(self) -> str:
        """Returns the note as it is written: text, blank line, signature lines."""
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def check_note_text(text: str) -> None:
    """Checks note text: ends in a newline, no control characters but newline."""
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    for c in text:
        if (ord(c) < 0x20 and c != "\n") or c == "\x7f":
            raise NoteError("note text contains a control character")


def sign_note(text: str, *signers: NoteSigner) -> str:
    """Returns ``text`` as a signed note, with one signature line per signer."""
    check_note_text(text)
    if not signers:
        raise NoteError("a signed note needs at least one signer")
    message = text.encode("utf-8")
    sigs = tuple(NoteSignature(s.name, s.key_id, s.sign(message)) for s in signers)
    return Note(text, sigs).to_text()


def parse_note(message: str | bytes) -> Note:
    """Returns the text and signature lines of a signed note (signatures not checked)."""
    if isinstance(message, bytes):
        try:
            message = message.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("note is not valid UTF-8") from None
    for c in message:
        if (ord(c) < 0x20 and c != "\n") or c == "\x7f":
            raise NoteError("note contains a control character")
    split = message.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, sig_block = message[: split + 1], message[split + 2 :]
    if not sig_block.endswith("\n"):
        raise NoteError("note signatures must end with a newline")
    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
    sigs: list[NoteSignature] = []
    for line in lines:
        if not line.startswith(SIG_PREFIX):
            raise NoteError(f"malformed signature line {line[:40]!r}")
        name, sep, b64 = line[len(SIG_PREFIX) :].partition(" ")
        if not sep or " " in b64:
            raise NoteError(f"malformed signature line {line[:40]!r}")
        check_key_name(name)
        raw = _b64decode(b64, "signature")
        if len(raw) < 5:
            raise NoteError("signature is too short to hold a key id")
        sigs.append(NoteSignature(name, raw[:4], raw[4:]))
    return Note(text, tuple(sigs))


def open_note(message: str | bytes, *verifiers: NoteVerifier) -> Note:
    """Returns the note if a trusted key signed it; raises UnverifiedNoteError otherwise.

    Per the spec: signatures from unknown keys (name and id not both matching) are
    ignored; a failing signature from a known key rejects the whole note; at least one
    known key must have signed (else UntrustedKeyError, naming the keys that did sign).
    """
    note = parse_note(message)
    known = {(v.name, v.key_id): v for v in verifiers}
    payload = note.text.encode("utf-8")
    verified = 0
    for sig in note.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        if not verifier.verify(payload, sig.signature):
            raise UnverifiedNoteError(f"signature by {sig.name} ({sig.key_id.hex()}) is invalid")
        verified += 1
    if not verified:
        signers = ", ".join(key_label(s.name, s.key_id) for s in note.signatures)
        raise UntrustedKeyError(f"note is not signed by any trusted key (signed by {signers})")
    return note

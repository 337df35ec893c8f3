"""C2SP signed notes (c2sp.org/signed-note): text, blank line, signature lines.

A note is text ending in a newline, a blank line, then signature lines
``— <key name> base64(key id ‖ signature)``. Keys and key ids are in :mod:`tlog.keys`;
cosignature lines (type 0x04) are verified by the same rules (see :mod:`tlog.cosignature`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from tlog.keys import (
    KeyFormatError,
    NoteError,
    NoteSigner,
    NoteVerifier,
    b64decode,
    check_key_name,
    key_id,
    key_label,
)

__all__ = [
    "KeyFormatError",
    "Note",
    "NoteError",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "UntrustedKeyError",
    "UnverifiedNoteError",
    "check_note_text",
    "key_id",
    "key_label",
    "open_note",
    "parse_note",
    "sign_note",
]

MAX_SIGNATURES = 100
SIG_PREFIX = "\u2014 "


class UnverifiedNoteError(NoteError):
    """A note with no valid signature from a trusted key, or a failing one."""


class UntrustedKeyError(UnverifiedNoteError):
    """A note signed by no trusted key at all (only by keys the verifier does not hold)."""


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
    sigs = tuple(NoteSignature(s.name, s.key_id, s.sign_note(text)) for s in signers)
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
        raw = b64decode(b64, "signature")
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
    verified = 0
    for sig in note.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        if not verifier.verify_note(note.text, sig.signature):
            raise UnverifiedNoteError(f"signature by {sig.name} ({sig.key_id.hex()}) is invalid")
        verified += 1
    if not verified:
        signers = ", ".join(key_label(s.name, s.key_id) for s in note.signatures)
        raise UntrustedKeyError(f"note is not signed by any trusted key (signed by {signers})")
    return note

"""C2SP tlog-cosignature: Ed25519 ``cosignature/v1`` lines on a checkpoint note.

A cosignature is a note signature line ``— <witness name> base64(key id ‖ timestamp ‖
signature)``: the key id is SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4], the timestamp a
big-endian u64 of POSIX seconds, and the signature an Ed25519 signature over
``cosignature/v1\\ntime <timestamp>\\n`` followed by the whole checkpoint body. It states
that, at that time, this was the largest tree the witness had seen consistent for the
origin. Witness keys are :class:`tlog.keys.NoteVerifier` of type 0x04.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tlog.keys import SIG_TYPE_COSIGNATURE_V1, NoteError, NoteSigner, NoteVerifier
from tlog.note import MAX_SIGNATURES, Note, NoteSignature, check_note_text, parse_note

COSIGNATURE_SIZE = 8 + 64
"""Bytes after the key id on a cosignature/v1 line: u64 timestamp ‖ Ed25519 signature."""


class CosignatureError(NoteError):
    """A cosignature that is malformed or does not verify, or a key of the wrong type."""


class QuorumError(CosignatureError):
    """Fewer valid cosignatures from trusted witnesses than the policy asks for."""


@dataclass(frozen=True)
class Cosignature:
    """One verified cosignature: which witness, and when it cosigned."""

    witness: str
    """``name+hex(key id)`` of the witness key."""
    timestamp: int


@dataclass(frozen=True)
class CosignatureCheck:
    """The cosignatures of one note: valid ones, and trusted keys whose line failed."""

    valid: tuple[Cosignature, ...]
    invalid: tuple[str, ...]

    @property
    def witnesses(self) -> set[str]:
        """Returns the labels of the witnesses with a valid cosignature."""
        return {c.witness for c in self.valid}


def cosign(text: str, signer: NoteSigner, timestamp: int) -> NoteSignature:
    """Returns the cosignature/v1 line of ``signer`` on checkpoint body ``text`` at
    ``timestamp``. Precondition: ``signer`` is a type 0x04 (cosigner) key."""
    if signer.sig_type != SIG_TYPE_COSIGNATURE_V1:
        raise CosignatureError("a cosignature needs a cosigner (type 0x04) key")
    check_note_text(text)
    return NoteSignature(signer.name, signer.key_id, signer.sign_note(text, timestamp))


def cosignature_timestamp(signature: NoteSignature) -> int:
    """Returns the timestamp of a cosignature/v1 line (its signature is not checked)."""
    if len(signature.signature) != COSIGNATURE_SIZE:
        raise CosignatureError(
            f"a cosignature/v1 has {COSIGNATURE_SIZE} bytes after the key id, "
            f"not {len(signature.signature)}"
        )
    return int(struct.unpack(">Q", signature.signature[:8])[0])


def check_cosignatures(note: str | Note, witnesses: Sequence[NoteVerifier]) -> CosignatureCheck:
    """Returns the valid cosignatures on ``note`` by the given witness keys, and the
    witness keys whose cosignature line does not verify. Lines by other keys (the log's
    own signature included) are ignored, matched by key name and key id."""
    parsed = parse_note(note) if isinstance(note, str) else note
    known = {(w.name, w.key_id): w for w in witnesses if w.is_cosigner}
    valid: list[Cosignature] = []
    invalid: list[str] = []
    seen: set[str] = set()
    for sig in parsed.signatures:
        witness = known.get((sig.name, sig.key_id))
        if witness is None or witness.label in seen:
            continue
        seen.add(witness.label)
        if witness.verify_note(parsed.text, sig.signature):
            valid.append(Cosignature(witness.label, cosignature_timestamp(sig)))
        else:
            invalid.append(witness.label)
    return CosignatureCheck(tuple(valid), tuple(invalid))


def require_quorum(
    note: str | Note, witnesses: Sequence[NoteVerifier], quorum: int
) -> CosignatureCheck:
    """Returns the cosignature check of ``note`` when at least ``quorum`` distinct trusted
    witnesses cosigned it validly; raises QuorumError otherwise (0 always passes)."""
    check = check_cosignatures(note, witnesses)
    if len(check.witnesses) < quorum:
        raise QuorumError(
            f"{len(check.witnesses)} of {quorum} required witness cosignatures"
            + (f" ({len(check.invalid)} invalid)" if check.invalid else "")
        )
    return check


def add_signatures(note: str, lines: Iterable[NoteSignature]) -> str:
    """Returns ``note`` with the signature ``lines`` appended after its own, skipping a
    line by a key (name and key id) that already signed it."""
    parsed = parse_note(note)
    have = {(s.name, s.key_id) for s in parsed.signatures}
    merged = list(parsed.signatures)
    for line in lines:
        if (line.name, line.key_id) not in have:
            have.add((line.name, line.key_id))
            merged.append(line)
    if len(merged) > MAX_SIGNATURES:
        raise NoteError(f"note would have more than {MAX_SIGNATURES} signatures")
    return Note(parsed.text, tuple(merged)).to_text()


def parse_signature_lines(body: str | bytes) -> list[NoteSignature]:
    """Returns the signature lines of a block of note signature lines (as a witness
    answers), each ending in a newline; raises NoteError when malformed."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("signature lines are not valid UTF-8") from None
    if not body:
        raise NoteError("no signature lines")
    return list(parse_note("x\n\n" + body).signatures)

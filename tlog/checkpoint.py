"""C2SP tlog-checkpoint bodies (c2sp.org/tlog-checkpoint) and their signed notes.

The body is the origin line, the tree size in decimal (no leading zeros) and the base64
root hash, each ending in a newline, optionally followed by non-empty extension lines.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from tlog.hashes import HASH_SIZE
from tlog.note import (
    NoteError,
    NoteSigner,
    NoteVerifier,
    check_note_text,
    open_note,
    sign_note,
)


class CheckpointError(NoteError):
    """A checkpoint body that is malformed, or from an unexpected origin."""


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: origin, size and root hash."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise CheckpointError("checkpoint origin must be one non-empty line")
        if self.size < 0:
            raise CheckpointError("checkpoint size is negative")
        if len(self.root_hash) != HASH_SIZE:
            raise CheckpointError("checkpoint root hash must have 32 bytes")
        for ext in self.extensions:
            if not ext or "\n" in ext:
                raise CheckpointError("checkpoint extension lines must be non-empty lines")

    def to_text(self) -> str:
        """Returns the note text of this checkpoint (final newline included)."""
        root = base64.b64encode(self.root_hash).decode()
        lines = [self.origin, str(self.size), root, *self.extensions]
        text = "\n".join(lines) + "\n"
        check_note_text(text)
        return text

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Returns the checkpoint of a note text; strict about every line."""
        if not text.endswith("\n"):
            raise CheckpointError("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError("checkpoint text needs origin, size and root lines")
        origin, size_text, root_text, *extensions = lines
        if not size_text.isascii() or not size_text.isdigit():
            raise CheckpointError(f"checkpoint size {size_text!r} is not a decimal number")
        if len(size_text) > 1 and size_text[0] == "0":
            raise CheckpointError("checkpoint size has leading zeros")
        if len(size_text) > 20:
            raise CheckpointError("checkpoint size is too large")
        try:
            root = base64.b64decode(root_text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise CheckpointError("checkpoint root hash is not valid base64") from None
        if base64.b64encode(root).decode() != root_text:
            raise CheckpointError("checkpoint root hash is not canonical base64")
        return cls(origin, int(size_text), root, tuple(extensions))


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint together with the exact signed note that carries it, and the trusted
    keys whose signatures on it verified (empty when it was not opened with keys)."""

    checkpoint: Checkpoint
    note: str
    keys: tuple[NoteVerifier, ...] = ()

    @property
    def size(self) -> int:
        """Returns the tree size."""
        return self.checkpoint.size

    @property
    def root_hash(self) -> bytes:
        """Returns the root hash."""
        return self.checkpoint.root_hash


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> SignedCheckpoint:
    """Returns the checkpoint signed by ``signer`` as a C2SP signed note."""
    return SignedCheckpoint(checkpoint, sign_note(checkpoint.to_text(), signer))


def open_checkpoint(
    note: str | bytes,
    verifiers: NoteVerifier | Sequence[NoteVerifier],
    origin: str | None = None,
) -> SignedCheckpoint:
    """Returns the checkpoint of a signed note after checking signature and origin.

    ``verifiers`` are the trusted keys (one, or several when the log's key was rotated):
    the note must carry a valid signature from at least one of them, each signature line
    being matched to a key by its key name and key id. ``origin`` defaults to the name of
    the trusted key that signed it (tlog-checkpoint: the key name SHOULD match the origin).
    """
    trusted = (verifiers,) if isinstance(verifiers, NoteVerifier) else tuple(verifiers)
    opened = open_note(note, *trusted)
    checkpoint = Checkpoint.from_text(opened.text)
    signed = {(s.name, s.key_id) for s in opened.signatures}
    keys = tuple(v for v in trusted if (v.name, v.key_id) in signed)
    if origin is not None:
        if checkpoint.origin != origin:
            raise CheckpointError(
                f"checkpoint origin {checkpoint.origin!r} is not the expected {origin!r}"
            )
    elif all(checkpoint.origin != k.name for k in keys):
        names = ", ".join(repr(k.name) for k in keys)
        raise CheckpointError(
            f"checkpoint origin {checkpoint.origin!r} is not the expected {names} (the name "
            "of the key that signed it)"
        )
    text = note.decode("utf-8") if isinstance(note, bytes) else note
    return SignedCheckpoint(checkpoint, text, keys)

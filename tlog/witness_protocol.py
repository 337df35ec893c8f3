"""The C2SP tlog-witness ``add-checkpoint`` wire format (c2sp.org/tlog-witness).

Request body (``POST <prefix>/add-checkpoint``)::

    old <previous size, decimal>
    <base64 consistency proof hash, at most 63 lines>

    <signed checkpoint note>

Answers: 200 with one or more cosignature lines; 409 with ``<size>\\n`` of the latest
checkpoint the witness cosigned (Content-Type ``text/x.tlog.size``) when ``old`` is not
that size, or when the sizes are equal and the roots differ; 403 when no trusted key
signed the checkpoint; 404 for an unknown origin; 422 for a proof that does not verify;
400 for anything malformed.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from tlog.errors import TlogError
from tlog.hashes import HASH_SIZE
from tlog.keys import b64decode

ADD_CHECKPOINT_PATH = "/add-checkpoint"
SIZE_CONTENT_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63
MAX_REQUEST_BYTES = 64 * 1024


class WitnessProtocolError(TlogError):
    """A request or answer that is not in the tlog-witness format (HTTP 400)."""


def _decimal(text: str, what: str) -> int:
    if (
        not text.isascii()
        or not text.isdigit()
        or (len(text) > 1 and text[0] == "0")
        or len(text) > 20
    ):
        raise WitnessProtocolError(f"{what} {text[:24]!r} is not a decimal without leading zeros")
    return int(text)


@dataclass(frozen=True)
class AddCheckpoint:
    """One add-checkpoint request: the size the client believes the witness holds, the
    consistency proof from that size, and the signed checkpoint note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str

    def to_bytes(self) -> bytes:
        """Returns the request body."""
        lines = [f"old {self.old_size}", *(base64.b64encode(h).decode() for h in self.proof)]
        return ("\n".join(lines) + "\n\n" + self.note).encode("utf-8")

    @classmethod
    def from_bytes(cls, body: bytes) -> AddCheckpoint:
        """Returns the request parsed from its body (nothing verified but the form)."""
        if len(body) > MAX_REQUEST_BYTES:
            raise WitnessProtocolError("request body is too large")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WitnessProtocolError("request body is not valid UTF-8") from None
        head, sep, note = text.partition("\n\n")
        if not sep:
            raise WitnessProtocolError("request has no blank line before the checkpoint")
        lines = head.split("\n")
        if not lines[0].startswith("old "):
            raise WitnessProtocolError("request does not start with an 'old <size>' line")
        old_size = _decimal(lines[0][4:], "old size")
        if len(lines) - 1 > MAX_PROOF_LINES:
            raise WitnessProtocolError(f"more than {MAX_PROOF_LINES} consistency proof lines")
        try:
            proof = tuple(b64decode(line, "consistency proof line") for line in lines[1:])
        except TlogError as e:
            raise WitnessProtocolError(str(e)) from None
        if any(len(h) != HASH_SIZE for h in proof):
            raise WitnessProtocolError("every consistency proof hash has 32 bytes")
        if old_size == 0 and proof:
            raise WitnessProtocolError("the proof must be empty when the old size is 0")
        return cls(old_size, proof, note)


def size_body(size: int) -> bytes:
    """Returns the body of a 409 answer: the witness's size in decimal and a newline."""
    return f"{size}\n".encode("ascii")


def parse_size_body(body: bytes) -> int:
    """Returns the size of a 409 answer's body."""
    text = body.decode("ascii", "replace")
    if not text.endswith("\n"):
        raise WitnessProtocolError("a size answer ends with a newline")
    return _decimal(text[:-1], "size")

"""Base64 texts in event state, marked when long enough for the transcoder to splice in.

Events carry bytes as base64 text (a signed envelope's payload, a proof batch's accepted
share hashes). A text made by :func:`base64_text` that is at least ``MIN_SPLICE_CHARS``
characters long is a :class:`Base64Text`, which ``ledger.transcoding`` writes into the
stored JSON without scanning it for characters to escape (base64 has none). Everywhere
else it behaves as a str (code that dispatches on ``type(x) is str``, such as
``services.wire``'s Struct filling, takes its general path for it), is shared rather than
copied by ``copy``, and reads back from the store as a plain str.

It is also the one place the ledger turns large bytes into base64 and back (a proof
batch's envelope and accepted hashes, megabytes each): ``pybase64``'s SIMD codec gives
exactly the standard library's text and bytes, 0.3 against 8-17 ms for 5 MB on the
2-core VM (bench/RESULTS.md).
"""

from __future__ import annotations

import base64

import pybase64

MIN_SPLICE_CHARS = 64 * 1024
"""Base64 texts at least this long are marked; shorter ones are not worth splicing."""


class Base64Text(str):
    """A base64 text (letters, digits, ``+``, ``/``, ``=``), so JSON writes it as it is.
    Made only by :func:`base64_text`, which guarantees the alphabet: the transcoder does
    not check it again. Weakly referable: ``ledger.compression`` remembers the texts it
    compresses ahead only while they live."""

    __slots__ = ("__weakref__",)

    def __copy__(self) -> Base64Text:
        return self

    def __deepcopy__(self, _memo: object) -> Base64Text:
        return self  # immutable, as a str is


def base64_text(data: bytes) -> str:
    """Returns the base64 text of ``data``: a :class:`Base64Text` when it is at least
    ``MIN_SPLICE_CHARS`` characters long, a plain str otherwise."""
    text = pybase64.b64encode_as_string(data)
    return Base64Text(text) if len(text) >= MIN_SPLICE_CHARS else text


def base64_bytes(text: str | bytes, validate: bool = True) -> bytes:
    """Returns the bytes of a base64 text, exactly as ``base64.b64decode(text,
    validate)`` does: ValueError (mostly ``binascii.Error``) on a character outside the
    alphabet (skipped instead when not ``validate``) or a wrong length; TypeError, in
    pybase64's words rather than the standard library's, for a value that is not text or
    bytes. Relied on by ``Envelope.from_record``, ``ProofBatch``, ``ledger.proof_index``
    and the audit's proof checks."""
    try:
        # Strict first: a valid text decodes the same either way, and pybase64 skips
        # strangers and stray padding otherwise than the standard library does.
        return pybase64.b64decode(text, validate=True)
    except ValueError:
        # Not strictly valid (or excess padding, which only pybase64 refuses): the
        # standard library decides.
        return base64.b64decode(text, validate=validate)

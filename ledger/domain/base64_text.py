"""Base64 texts in event state, marked when long enough for the transcoder to splice in.

Events carry bytes as base64 text (a signed envelope's payload, a proof batch's accepted
share hashes). A text made by :func:`base64_text` that is at least ``SPLICE_ABOVE``
characters long is a :class:`Base64Text`, which ``ledger.transcoding`` writes into the
stored JSON without scanning it for characters to escape (base64 has none). Everywhere
else it is an ordinary str, and it reads back as one.
"""

from __future__ import annotations

from base64 import b64encode

SPLICE_ABOVE = 64 * 1024
"""Base64 texts at least this long are marked; shorter ones are not worth splicing."""


class Base64Text(str):
    """A base64 text (letters, digits, ``+``, ``/``, ``=``), so JSON writes it as it is.
    Made only by :func:`base64_text`, which guarantees the alphabet: the transcoder does
    not check it again."""

    __slots__ = ()


def base64_text(data: bytes) -> str:
    """Returns the base64 text of ``data``: a :class:`Base64Text` when it is at least
    ``SPLICE_ABOVE`` characters long, a plain str otherwise."""
    text = b64encode(data).decode("ascii")
    return Base64Text(text) if len(text) >= SPLICE_ABOVE else text

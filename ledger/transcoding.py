"""Event state as JSON, with long base64 texts written without JSON's character scan.

eventsourcing's ``JSONTranscoder`` writes an event's state with ``json``'s C encoder,
which reads every character of every string twice (to size the escaped copy, then to
copy it). A proof batch's event holds two long base64 texts (the signed packed batch and
its accepted share hashes, 7.5 MB for 100,000 shares): that scan took about 9 ms of the
ledger's ~80 ms of work per batch (``bench.proofs_bench``).

Base64 needs no escaping: its alphabet is letters, digits, ``+``, ``/`` and ``=``. Long
texts made by ``ledger.domain.base64_text`` are ``Base64Text``;
:class:`SplicingJSONTranscoder` holds those out of the state (top level and one level
down, where an envelope record puts its payload), encodes the rest, and splices each
text's bytes in where its placeholder was written. The bytes are exactly what
``JSONTranscoder`` writes for the same state (tests/ledger/test_transcoding.py); reading
is ``JSONTranscoder``'s own. Relied on by ``ledger.proofs`` (accepted hashes) and
``ledger.domain.envelope`` (payloads); selected for every store by ``ledger.config``.
"""

from __future__ import annotations

import secrets
from typing import Any

from eventsourcing.persistence import JSONTranscoder

from ledger.domain.base64_text import Base64Text


class SplicingJSONTranscoder(JSONTranscoder):
    """eventsourcing's JSON transcoder (same transcodings, same bytes), writing the
    ``Base64Text`` values of a state without scanning them."""

    def encode(self, obj: Any) -> bytes:
        """Returns the JSON bytes of ``obj``, as ``JSONTranscoder.encode``."""
        return b"".join([part if isinstance(part, bytes) else part.encode("ascii")
                         for part in self.encode_parts(obj)])

    def encode_parts(self, obj: Any) -> list[bytes | Base64Text]:
        """Returns the JSON of ``obj`` in the pieces that join into ``encode``'s bytes:
        one ``bytes`` for a state without long texts, else the bytes written around each
        ``Base64Text``, which is given as it is (ASCII, so its bytes are its
        characters). ``ledger.mapping`` compresses the pieces without joining them."""
        if type(obj) is not dict or not holds_long_text(obj, depth=2):
            return [super().encode(obj)]
        token = secrets.token_hex(16)
        held: list[Base64Text] = []
        text = self.encoder.encode(hold_out(obj, token, held, depth=2))
        parts: list[bytes | Base64Text] = []
        start = 0
        for number, value in enumerate(held):
            mark = f'"{token}-{number}"'
            at = text.find(mark, start)
            if at < 0 or text.find(mark, at + len(mark)) >= 0:
                # Not written exactly once (cannot happen for a fresh random token):
                # write the whole state the ordinary way rather than guess.
                return [super().encode(obj)]
            if not value.isascii():  # not made by base64_text: no guess either
                return [super().encode(obj)]
            parts.append(text[start:at + 1].encode("utf8"))  # up to the opening quote
            parts.append(value)
            start = at + len(mark) - 1  # from the closing quote
        parts.append(text[start:].encode("utf8"))
        return parts


def holds_long_text(state: dict[str, Any], depth: int) -> bool:
    """Returns whether ``state`` (or, ``depth`` permitting, a dict it holds) has a
    ``Base64Text`` value: about half a microsecond for a trade's state."""
    for value in state.values():
        kind = type(value)
        if kind is Base64Text:
            return True
        if kind is dict and depth > 1 and holds_long_text(value, depth - 1):
            return True
    return False


def hold_out(state: dict[str, Any], token: str, held: list[Base64Text], depth: int
             ) -> dict[str, Any]:
    """Returns a copy of ``state`` in which each ``Base64Text`` value (in this dict
    and, ``depth`` permitting, in the dicts it holds) is replaced by the placeholder
    ``token-N``, N counting the texts appended to ``held`` in the order JSON writes them.
    ``state`` itself is not changed."""
    copy: dict[str, Any] = {}
    for key, value in state.items():
        kind = type(value)
        if kind is Base64Text:
            copy[key] = f"{token}-{len(held)}"
            held.append(value)
        elif kind is dict and depth > 1:
            copy[key] = hold_out(value, token, held, depth - 1)
        else:
            copy[key] = value
    return copy

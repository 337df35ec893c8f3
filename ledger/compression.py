"""Event state compression: one zlib stream (RFC 1950) per event, made as fast as the
state allows.

States up to ``PIECE`` bytes (every event but a large proof batch) are ``zlib.compress``
at level 1, as before. A larger state is compressed piece by piece into the same single
stream: each piece of ``PIECE`` bytes is probed (its first ``PROBE`` bytes at level 1) and

* deflated at level 1 when the probe shrinks below ``LZ_BELOW`` of its size: text such
  as the canonical JSON of a batch submitted as JSON (level 1 keeps under a fifth of it);
* deflated at level 1 with run-length matching only (``Z_RLE``) when it shrinks below
  ``STORE_ABOVE``: the base64 of a packed batch, which this keeps at about half its size
  in 60% of level 1's time (level 1 keeps 41%);
* stored otherwise: the base64 of random bytes, i.e. the accepted share hashes of a proof
  batch, whose only redundancy is the base64 alphabet. Level 1 took about 20 ms per MB
  to save those 23%, more than the rest of recording the batch.

Measured on the ``ProofBatch.Verified`` state of 100,000 packed shares (7.5 MB of JSON):
level 1 over the whole state took 113 ms for 61% of its size, the pieces take about 20 ms
for 78%.

Each piece ends with a full flush, so no piece refers back into another and the pieces
join into one valid deflate stream; a final empty block and the Adler-32 of the whole
state close it. Decompression is plain ``zlib.decompress``: stores written before read
back unchanged, and any zlib implementation reads the new events (DESIGN §2: event state
is compressed with zlib; docs/AUDIT-EXPORT.md §1).
"""

from __future__ import annotations

import zlib

from eventsourcing.persistence import Compressor

LEVEL = 1
"""zlib compression level of new events (and of the pieces that compress)."""
PIECE = 256 * 1024
"""States longer than this are compressed piece by piece, each piece chosen apart."""
PROBE = 8 * 1024
"""Bytes of each piece compressed at LEVEL to judge how the piece compresses."""
LZ_BELOW = 0.3
"""A piece whose probe shrinks below this fraction of its size is deflated at LEVEL."""
STORE_ABOVE = 0.6
"""A piece whose probe does not shrink below this fraction is stored; one in between is
deflated with run-length matching only."""
ZLIB_HEADER = b"\x78\x01"
"""RFC 1950 header: deflate, 32 KiB window, fastest compression."""
FINAL_EMPTY_BLOCK = b"\x03\x00"
"""A final deflate block with fixed codes holding only its end-of-block code."""


def compress_state(data: bytes) -> bytes:
    """Returns one zlib stream of ``data``: level 1 for short states, piece by piece
    (deflated, run-length deflated or stored as each piece's probe says) for long
    ones."""
    if len(data) <= PIECE:
        return zlib.compress(data, LEVEL)
    deflating = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    running = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, 9, zlib.Z_RLE)
    storing = zlib.compressobj(0, zlib.DEFLATED, -zlib.MAX_WBITS)
    parts = [ZLIB_HEADER]
    view = memoryview(data)
    for start in range(0, len(data), PIECE):
        piece = view[start:start + PIECE]
        shrunk = len(zlib.compress(piece[:PROBE], LEVEL)) / min(PROBE, len(piece))
        coder = (deflating if shrunk < LZ_BELOW else
                 running if shrunk < STORE_ABOVE else storing)
        parts.append(coder.compress(piece))
        parts.append(coder.flush(zlib.Z_FULL_FLUSH))
    parts.append(FINAL_EMPTY_BLOCK)
    parts.append(zlib.adler32(data).to_bytes(4, "big"))
    return b"".join(parts)


class FastZlibCompressor(Compressor):
    """Writes ``compress_state``'s zlib streams; reads any zlib stream."""

    def compress(self, data: bytes) -> bytes:
        """Returns the zlib stream of ``data`` (``compress_state``)."""
        return compress_state(data)

    def decompress(self, data: bytes) -> bytes:
        """Returns the bytes of a zlib stream (written at any level, in any pieces)."""
        return zlib.decompress(data)

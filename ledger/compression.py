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
state close it. Being independent, the pieces are compressed on threads at once (zlib lets
go of the GIL while it deflates), one a core: the same bytes as one after another, in
12-15 instead of 20 ms for a state like that on the 2-core VM
(``bench.compression_bench``). Decompression is plain ``zlib.decompress``: stores
written before read back unchanged, and any zlib implementation reads the new events
(DESIGN §2: event state is compressed with zlib; docs/AUDIT-EXPORT.md §1).
"""

from __future__ import annotations

import os
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor

from eventsourcing.persistence import Compressor

from verifier.cpu import cpu_count

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
MAX_THREADS = 8
"""Threads that compress a long state's pieces at once, at most (fewer on fewer cores)."""


def compress_state(data: bytes) -> bytes:
    """Returns one zlib stream of ``data``: level 1 for short states, piece by piece
    (deflated, run-length deflated or stored as each piece's probe says, on several
    threads) for long ones."""
    if len(data) <= PIECE:
        return zlib.compress(data, LEVEL)
    view = memoryview(data)
    pieces = [view[start:start + PIECE] for start in range(0, len(data), PIECE)]
    threads = _threads()
    if threads is not None:
        try:
            checksum = threads.submit(zlib.adler32, data)
            parts = list(threads.map(compress_piece, pieces))
            adler = checksum.result()
        except RuntimeError:  # the interpreter is exiting: it starts no more threads
            threads = None
    if threads is None:
        parts = [compress_piece(piece) for piece in pieces]
        adler = zlib.adler32(data)
    return b"".join([ZLIB_HEADER, *parts, FINAL_EMPTY_BLOCK, adler.to_bytes(4, "big")])


def compress_piece(piece: memoryview) -> bytes:
    """Returns ``piece`` as raw deflate blocks ending in a full flush (byte-aligned, no
    reference to anything before it): deflated, run-length deflated or stored, as the
    compression of its first ``PROBE`` bytes says."""
    shrunk = len(zlib.compress(piece[:PROBE], LEVEL)) / min(PROBE, len(piece))
    if shrunk < LZ_BELOW:
        coder = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    elif shrunk < STORE_ABOVE:
        coder = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, 9, zlib.Z_RLE)
    else:
        coder = zlib.compressobj(0, zlib.DEFLATED, -zlib.MAX_WBITS)
    return coder.compress(piece) + coder.flush(zlib.Z_FULL_FLUSH)


_POOL: tuple[int, ThreadPoolExecutor] | None = None
_POOL_LOCK = threading.Lock()


def _threads() -> ThreadPoolExecutor | None:
    """Returns this process's compression threads, started on first use (None on one
    core: compress in the calling thread). A process forked from one that had them starts
    its own."""
    global _POOL
    count = min(MAX_THREADS, cpu_count())
    if count < 2:
        return None
    with _POOL_LOCK:
        if _POOL is None or _POOL[0] != os.getpid():
            _POOL = (os.getpid(), ThreadPoolExecutor(count, "valedger-zlib"))
        return _POOL[1]


class FastZlibCompressor(Compressor):
    """Writes ``compress_state``'s zlib streams; reads any zlib stream."""

    def compress(self, data: bytes) -> bytes:
        """Returns the zlib stream of ``data`` (``compress_state``)."""
        return compress_state(data)

    def decompress(self, data: bytes) -> bytes:
        """Returns the bytes of a zlib stream (written at any level, in any pieces)."""
        return zlib.decompress(data)

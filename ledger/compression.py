"""Event state compression: one zlib stream (RFC 1950) per event, made as fast as the
state allows.

States up to ``PIECE`` bytes (every event but a large proof batch) are compressed at level
1 by Intel's ISA-L (``isal``), which writes the same kind of zlib stream as the standard
library's ``zlib.compress`` at level 1, about as small, in well under half its time: a
trade's 1.5 KB state took 25-30 µs with zlib, on a server's recording thread as in one
loop, and takes about 12 with ISA-L (the 2-core VM, bench/RESULTS.md). Every event a
command saves pays this once. A larger state is compressed piece by piece into the same
single stream: each piece of ``PIECE`` bytes is probed (its first ``PROBE`` bytes
compressed at level 1) and

* deflated at level 1 by ISA-L when the probe shrinks below ``STORE_ABOVE`` of its size:
  text such as the canonical JSON of a batch submitted as JSON (kept at about an
  eighth) and the base64 of a packed batch (about 40%);
* stored otherwise: the base64 of random bytes, i.e. the accepted share hashes of a proof
  batch, whose only redundancy is the base64 alphabet. Deflating them saves a quarter of
  their size for about 2 ms a MB with ISA-L, 35 with zlib: more than the rest of
  recording the batch either way.

Measured on the ``ProofBatch.Verified`` state of 100,000 packed shares (7.5 MB of JSON):
zlib's level 1 over the whole state took 113 ms for 61% of its size. On the 2-core VM
the pieces took 18 ms on two threads (30 on one) for 78% while zlib compressed them (its
level 1 for text, run-length matching only for the packed batch's base64); with ISA-L
they take 8 ms (12 on one) for 72%.

Each piece ends with a full flush, so no piece refers back into another and the pieces
join into one valid deflate stream; a final empty block and the Adler-32 of the whole
state close it. Being independent, the pieces are compressed on threads at once (both
libraries let go of the GIL while they deflate), one a core: the same bytes as one after
another. Decompression is ISA-L's inflate, which reads any zlib stream (7.3 against
zlib's 8.1 µs for a trade's state): stores written before read back unchanged, and any
zlib implementation reads the new events (DESIGN §2: event state is compressed with
zlib; docs/AUDIT-EXPORT.md §1).

A long base64 text known before its event is made (a packed proof batch's envelope
payload, known while the batch's shares are hashed) can be compressed ahead
(:func:`compress_ahead`): it is deflated meanwhile on compression threads of its own
(a save never waits behind another request's text), in runs of whole pieces (one run
on two cores, leaving the other core to the hashing; one a core but one on more), each
run probed and compressed as one piece; :func:`compress_parts`, given the event's JSON in
the parts ``ledger.transcoding`` writes it in, compresses the rest first and then puts
those blocks in as they are. On the 2-core VM this took a 100,000-share batch's encoding
after its hashing from about 20 ms to 8 (``bench.compression_bench``).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
import zlib
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import cast

from eventsourcing.persistence import Compressor
from isal import isal_zlib

from ledger.domain.base64_text import Base64Text
from verifier.cpu import cpu_count

logger = logging.getLogger(__name__)

LEVEL = 1
"""ISA-L's compression level of new events and of the pieces that compress (keeping about
58% of a trade's state, as zlib's level 1 does)."""
PIECE = 256 * 1024
"""States longer than this are compressed piece by piece, each piece chosen apart."""
PROBE = 8 * 1024
"""Bytes of each piece compressed at LEVEL to judge how the piece compresses."""
STORE_ABOVE = 0.6
"""A piece whose probe shrinks below this fraction of its size is deflated at LEVEL; any
other is stored."""
ZLIB_HEADER = b"\x78\x01"
"""RFC 1950 header: deflate, 32 KiB window, fastest compression."""
FINAL_EMPTY_BLOCK = b"\x03\x00"
"""A final deflate block with fixed codes holding only its end-of-block code."""
ISAL_ERROR = cast(type[Exception], isal_zlib.error)
"""What ISA-L's inflate raises for a damaged stream (its stubs type it as an instance)."""
MAX_THREADS = 8
"""Threads that compress a long state's pieces at once, at most (fewer on fewer cores)."""
AHEAD_MIN = 4 * PIECE
"""Texts shorter than this are compressed with their event, never ahead."""
ADLER_BASE = 65521
"""Adler-32's modulus (RFC 1950)."""


def compress_state(data: bytes) -> bytes:
    """Returns one zlib stream of ``data``: ISA-L's level 1 for short states, piece by
    piece (deflated by ISA-L or stored as each piece's probe says, on several threads)
    for long ones."""
    if len(data) <= PIECE:
        return isal_zlib.compress(data, LEVEL)
    return compress_parts([data])


def compress_parts(parts: Sequence[bytes | Base64Text]) -> bytes:
    """Returns one zlib stream of the parts joined (a ``Base64Text`` stands for its ASCII
    bytes), as ``compress_state`` compresses the joined bytes, except that a text given
    to :func:`compress_ahead` goes in as the blocks made for it and every other part is
    cut into pieces from its own start."""
    if sum(len(part) for part in parts) <= PIECE:  # a Base64Text's characters are bytes
        return isal_zlib.compress(b"".join(_as_bytes(part) for part in parts), LEVEL)
    threads = _threads()
    ahead = [_ahead_of(part) for part in parts]
    loose = [_as_bytes(part) for part, made in zip(parts, ahead, strict=True) if made is None]
    pieces = [piece for part in loose for piece in _pieces(part)]
    if threads is not None:
        try:
            checksums = [threads.submit(isal_zlib.adler32, part) for part in loose]
            compressed = list(threads.map(compress_piece, pieces))
            adlers = iter([checksum.result() for checksum in checksums])
        except RuntimeError:  # the interpreter is exiting: it starts no more threads
            threads = None
    if threads is None:
        compressed = [compress_piece(piece) for piece in pieces]
        adlers = iter([isal_zlib.adler32(part) for part in loose])
    blocks, adler, done = [ZLIB_HEADER], 1, iter(compressed)
    for part, made in zip(parts, ahead, strict=True):
        size = len(part)
        if made is None:
            blocks += [next(done) for _ in range(0, size, PIECE)]
            adler = adler32_combine(adler, next(adlers), size)
        else:  # last: the rest was compressed meanwhile
            text_blocks, text_adler = _finished(made, part)
            blocks.append(text_blocks)
            adler = adler32_combine(adler, text_adler, size)
    blocks += [FINAL_EMPTY_BLOCK, adler.to_bytes(4, "big")]
    return b"".join(blocks)


def _pieces(data: bytes) -> list[memoryview]:
    """Returns ``data`` cut into pieces of ``PIECE`` bytes (the last one shorter)."""
    view = memoryview(data)
    return [view[start:start + PIECE] for start in range(0, len(data), PIECE)]


def _as_bytes(part: bytes | Base64Text) -> bytes:
    """Returns the bytes of a part (a ``Base64Text``'s ASCII)."""
    return part if isinstance(part, bytes) else part.encode("ascii")


def compress_ahead(text: str) -> AheadCompression | None:
    """Starts compressing ``text`` on the threads for texts ahead when it is a
    ``Base64Text`` of at least ``AHEAD_MIN`` characters, for :func:`compress_parts` to put
    in when the event holding it is stored; returns that compression on its way (the one
    started before for the same text), or None when nothing goes ahead (another text, or
    one core). ``ledger.proofs`` relies on it: a packed batch's envelope payload is
    compressed while its shares are hashed."""
    if type(text) is not Base64Text or len(text) < AHEAD_MIN:
        return None
    made = _ahead_of(text)
    if made is not None:
        return made
    threads = _threads(ahead=True)
    if threads is None:
        return None
    # One core stays with the caller, which hashes the batch meanwhile.
    lanes = max(1, min(MAX_THREADS, cpu_count()) - 1)
    try:
        started = threads.submit(_start, text, threads, lanes)
    except RuntimeError:  # the interpreter is exiting
        return None
    key = id(text)
    made = _AHEAD[key] = AheadCompression(weakref.ref(text), os.getpid(), started)
    weakref.finalize(text, _AHEAD.pop, key, None)
    return made


@dataclass(frozen=True)
class AheadCompression:
    """A text being compressed ahead: the text while it lives, the process whose threads
    compress it, and its pieces' compression and Adler-32 on their way."""

    text: weakref.ref[Base64Text]
    pid: int
    started: Future[tuple[list[Future[bytes]], int]]

    def result(self) -> tuple[bytes, int]:
        """Returns the text's blocks and Adler-32, once they are made (raising what
        made them fail)."""
        runs, adler = self.started.result()
        return b"".join([run.result() for run in runs]), adler


_AHEAD: dict[int, AheadCompression] = {}
"""The texts compressed ahead, by id while they live."""


def _ahead_of(part: bytes | str) -> AheadCompression | None:
    """Returns the compression of a text compressed ahead in this process (a forked
    child compresses its texts itself)."""
    entry = _AHEAD.get(id(part))
    if entry is None or entry.text() is not part or entry.pid != os.getpid():
        return None
    return entry


def _finished(made: AheadCompression, text: bytes | Base64Text) -> tuple[bytes, int]:
    """Returns the blocks and Adler-32 of a text compressed ahead, once made; made now,
    piece by piece in the calling thread, when that compression failed."""
    try:
        return made.result()
    except Exception:  # e.g. the interpreter began exiting between its runs
        logger.warning("a text compressed ahead failed; compressing it with its event",
                       exc_info=True)
        data = _as_bytes(text)
        blocks = b"".join([compress_piece(piece) for piece in _pieces(data)])
        return blocks, isal_zlib.adler32(data)


def _start(text: Base64Text, threads: ThreadPoolExecutor, lanes: int
           ) -> tuple[list[Future[bytes]], int]:
    """Returns the compression of ``text`` in ``lanes`` runs of whole pieces, each run
    handed to ``threads`` and compressed as one piece (``compress_piece``), and the
    Adler-32 of its bytes."""
    # A run is one piece to the deflater: a handful of calls, each letting go of the
    # interpreter lock while it works. Taking the lock back after each call waits for the
    # thread that hashes meanwhile (up to the 5 ms switch interval): piece by piece, a
    # proof batch's 3.2 MB payload took about 330 ms beside the hashing on the 2-core VM,
    # as one run about 100 (zlib's run-length deflate, before ISA-L).
    data = text.encode("ascii")
    view = memoryview(data)
    run = -(-len(data) // PIECE // lanes) * PIECE or PIECE
    runs = [threads.submit(compress_piece, view[start:start + run])
            for start in range(0, len(data), run)]
    return runs, isal_zlib.adler32(data)


def adler32_combine(first: int, second: int, second_size: int) -> int:
    """Returns the Adler-32 of two byte strings joined, from the first's Adler-32, the
    second's and the second's length (what zlib's ``adler32_combine`` computes)."""
    low = ((first & 0xFFFF) + (second & 0xFFFF) - 1) % ADLER_BASE
    high = ((first >> 16) + (second >> 16)
            + second_size * ((first & 0xFFFF) - 1)) % ADLER_BASE
    return (high << 16) | low


def compress_piece(piece: memoryview) -> bytes:
    """Returns ``piece`` as raw deflate blocks ending in a full flush (byte-aligned, no
    reference to anything before it): deflated at ``LEVEL`` by ISA-L, or stored, as the
    compression of its first ``PROBE`` bytes says."""
    shrunk = len(isal_zlib.compress(piece[:PROBE], LEVEL)) / min(PROBE, len(piece))
    if shrunk < STORE_ABOVE:
        deflater = isal_zlib.compressobj(LEVEL, isal_zlib.DEFLATED, -zlib.MAX_WBITS)
        return deflater.compress(piece) + deflater.flush(isal_zlib.Z_FULL_FLUSH)
    storer = zlib.compressobj(0, zlib.DEFLATED, -zlib.MAX_WBITS)
    return storer.compress(piece) + storer.flush(zlib.Z_FULL_FLUSH)


_POOLS: dict[bool, tuple[int, ThreadPoolExecutor]] = {}
_POOL_LOCK = threading.Lock()


def _threads(ahead: bool = False) -> ThreadPoolExecutor | None:
    """Returns this process's compression threads, started on first use (None on one
    core: compress in the calling thread): one a core for the states being saved, one a
    core but one for the texts compressed ahead (their own, so that a save never waits
    behind other requests' texts). A process forked from one that had them starts its
    own."""
    count = min(MAX_THREADS, cpu_count())
    if count < 2:
        return None
    with _POOL_LOCK:
        pool = _POOLS.get(ahead)
        if pool is None or pool[0] != os.getpid():
            name = "valedger-zlib-ahead" if ahead else "valedger-zlib"
            pool = _POOLS[ahead] = (os.getpid(), ThreadPoolExecutor(
                count - 1 if ahead else count, name))
        return pool[1]


class FastZlibCompressor(Compressor):
    """Writes ``compress_state``'s zlib streams; reads any zlib stream."""

    def compress(self, data: bytes) -> bytes:
        """Returns the zlib stream of ``data`` (``compress_state``)."""
        return compress_state(data)

    def decompress(self, data: bytes) -> bytes:
        """Returns the bytes of a zlib stream (written at any level, by any zlib writer, in
        any pieces); raises ``zlib.error`` for a damaged or truncated one, as the standard
        library's ``zlib.decompress`` does (bytes after the stream's end are ignored; the
        messages differ, and ISA-L does not check the header's window size)."""
        try:
            return isal_zlib.decompress(data)
        except ISAL_ERROR as damaged:
            raise zlib.error(str(damaged)) from damaged

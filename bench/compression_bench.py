"""How fast a long event state is compressed: its pieces on threads against one thread.

A state shaped like a 100,000-share ``ProofBatch.Verified`` (``--shares``): the base64 of a
repetitive packed batch (run-length deflated), a verdict digit per share (deflated) and
the base64 of random 32-byte hashes (stored). ``ledger.compression.compress_state`` runs
on this process's compression threads (one a core, ``ledger.compression.MAX_THREADS`` at
most), and the baseline on the calling thread alone, alternating; both make the same
bytes (checked). It prints the median milliseconds of each.

Then an event holding such a state's two base64 texts, as a proof batch's event holds
them, is mapped for storing (JSON, compression; no cipher) three ways, alternating:
eventsourcing's ``Mapper`` with the ledger's transcoder and compressor (the baseline, as
before ``ledger.mapping``), ``ledger.mapping.SplicingMapper`` alone, and
``SplicingMapper`` with the envelope's payload compressed ahead
(``ledger.compression.compress_ahead``) and ready, as it is once a batch's shares are
hashed: the time left after the hashing.

Run: ``.venv/bin/python -m bench.compression_bench [--shares N] [--repeats R]``
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from typing import Any
from unittest import mock
from uuid import uuid4

from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import DatetimeAsISO, Mapper, UUIDAsHex

from ledger import compression
from ledger.domain.base64_text import base64_text
from ledger.mapping import SplicingMapper
from ledger.transcoding import SplicingJSONTranscoder


def proof_batch_like_state(shares: int) -> bytes:
    """Returns JSON shaped like a large proof batch's state."""
    packed = base64.b64encode(b"".join(
        i.to_bytes(4, "little") + b"\x01\x00\x00\x00" + os.urandom(4)
        for i in range(shares)))
    hashes = base64.b64encode(os.urandom(32 * shares))
    return json.dumps({"request_id": "r1", "envelope": {"payload": packed.decode()},
                       "verdicts": "0" * shares,
                       "accepted_hashes": hashes.decode()}).encode()


def compression_times(state: bytes, repeats: int) -> dict[str, list[float]]:
    """Returns the seconds of each compression of ``state``, on threads and on one,
    alternating; raises AssertionError if the two ways made different bytes."""
    times: dict[str, list[float]] = {"threads": [], "one thread": []}
    made: dict[str, bytes] = {}
    for _ in range(repeats):
        for way in times:
            with mock.patch.object(compression, "_threads",
                                   (lambda: None) if way == "one thread"
                                   else compression._threads):
                started = time.perf_counter()
                made[way] = compression.compress_state(state)
                times[way].append(time.perf_counter() - started)
    assert made["threads"] == made["one thread"], "the two ways made different bytes"
    return times


@dataclass(frozen=True)
class BatchLike(DomainEvent):
    """An event holding what a proof batch's event holds at length."""

    envelope: dict[str, str]
    verdicts: str
    accepted_hashes: str


def batch_like_event(shares: int) -> Any:
    """Returns an event with a packed-batch-like envelope payload, a verdict digit per
    share and random accepted hashes (fresh texts each call)."""
    packed = b"".join(i.to_bytes(4, "little") + b"\x01\x00\x00\x00" + os.urandom(4)
                      for i in range(shares))
    return BatchLike(originator_id=uuid4(), originator_version=1,
                     timestamp=BatchLike.create_timestamp(),
                     envelope={"payload": base64_text(packed), "key_id": "k1"},
                     verdicts="0" * shares, accepted_hashes=base64_text(os.urandom(32 * shares)))


ENCODINGS = ("eventsourcing's Mapper", "SplicingMapper", "SplicingMapper, payload ahead")


def encoding_times(shares: int, repeats: int) -> dict[str, list[float]]:
    """Returns the seconds of mapping a batch-like event for storing, each of the
    ``ENCODINGS`` in turn; raises AssertionError if a way's state reads back otherwise."""
    transcoder = SplicingJSONTranscoder()
    for transcoding in (UUIDAsHex(), DatetimeAsISO()):
        transcoder.register(transcoding)
    compressor = compression.FastZlibCompressor()
    baseline: Mapper[Any] = Mapper(transcoder, compressor)
    ours = SplicingMapper(transcoder, compressor)
    times: dict[str, list[float]] = {way: [] for way in ENCODINGS}
    for _ in range(repeats):
        for way in ENCODINGS:
            event = batch_like_event(shares)
            if way == ENCODINGS[2]:
                ahead = compression.compress_ahead(event.envelope["payload"])
                if ahead is not None:  # None on one core: nothing goes ahead
                    ahead.result()
            mapper = baseline if way == ENCODINGS[0] else ours
            started = time.perf_counter()
            stored = mapper.to_stored_event(event)
            times[way].append(time.perf_counter() - started)
            assert baseline.to_domain_event(stored) == event, way
    return times


def main() -> None:
    """Measures and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    before = os.getloadavg()[0]
    state = proof_batch_like_state(args.shares)
    times = compression_times(state, args.repeats)
    one, threads = (statistics.median(times[w]) * 1000 for w in ("one thread", "threads"))
    workers = compression._threads()
    count = workers._max_workers if workers is not None else 1
    print(f"Command: `.venv/bin/python -m bench.compression_bench --shares {args.shares} "
          f"--repeats {args.repeats}`")
    print(f"Machine: {platform.node()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; 1-min load {before:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after.\n")
    print("| state bytes | threads | one thread ms (median) | on threads ms (median) | ratio |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {len(state):,} | {count} | {one:.1f} | {threads:.1f} | {threads / one:.2f} |")
    encodings = {way: statistics.median(seconds) * 1000
                 for way, seconds in encoding_times(args.shares, args.repeats).items()}
    base = encodings[ENCODINGS[0]]
    print("\n| mapping a batch-like event for storing | ms (median) | ratio |")
    print("|---|---:|---:|")
    for way, millis in encodings.items():
        print(f"| {way} | {millis:.1f} | {millis / base:.2f} |")


if __name__ == "__main__":
    main()

"""How fast a long event state is compressed: its pieces on threads against one thread.

A state shaped like a 100,000-share ``ProofBatch.Verified`` (``--shares``): the base64 of a
repetitive packed batch and a verdict digit per share (both deflated by ISA-L), and
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

Last, short states as every command saves them (a trade's, about 1.5 KB of JSON with its
signed envelope): compressed by ``FastZlibCompressor`` (ISA-L at level 1) against the
standard library's ``zlib.compress`` at level 1, the baseline, and read back by each,
alternating, 2,000 fresh states a round (``--states``); it prints the median µs a state
and the compressed sizes, and checks that each reads the other's streams.

Run: ``.venv/bin/python -m bench.compression_bench [--shares N] [--repeats R] [--states S]``
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import statistics
import time
import zlib
from collections.abc import Callable
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


def trade_like_state() -> bytes:
    """Returns JSON shaped like a recorded trade's state (fresh ids, digest, payload and
    signature each call), about 1.5 KB."""
    def typed(kind: str, data: str) -> dict[str, str]:
        return {"_type_": kind, "_data_": data}

    now = "2026-12-03T19:59:31.683132+00:00"
    return json.dumps({
        "timestamp": typed("datetime_iso", now),
        "originator_topic": "ledger.domain.trade:Trade",
        "requester": f"participant:{uuid4()}", "request_digest": os.urandom(32).hex(),
        "recorded_at": typed("datetime_iso", now), "request_id": f"r{uuid4().hex[:8]}",
        "at": typed("datetime_iso", now), "exchange_licence_id": typed("uuid_hex", uuid4().hex),
        "exchange_trade_id": f"x{uuid4().hex[:8]}", "asset": "BTC",
        "quantity": typed("decimal_str", "0.001"), "price": typed("decimal_str", "500"),
        "quote_currency": "USD", "value_usd": typed("decimal_str", "0.500"),
        "buyer_id": typed("uuid_hex", uuid4().hex), "seller_id": typed("uuid_hex", uuid4().hex),
        "counterparty_vasp_id": None, "counterparty_country": "KZ", "wallet_kind": "HOSTED",
        "travel_rule": {},
        "envelope": {"payload": base64.b64encode(os.urandom(190)).decode(),
                     "payload_type": "valedger.v1.TradePayload",
                     "signature": base64.b64encode(os.urandom(64)).decode(),
                     "key_id": os.urandom(8).hex()}}, separators=(",", ":")).encode()


_COMPRESSOR = compression.FastZlibCompressor()
SHORT_WAYS: dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {
    "zlib level 1 (baseline)": (lambda data: zlib.compress(data, 1), zlib.decompress),
    "FastZlibCompressor": (_COMPRESSOR.compress, _COMPRESSOR.decompress),
}


def short_state_times(states: int, repeats: int
                      ) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, int]]:
    """Returns the seconds a state of compressing and of decompressing ``states`` fresh
    trade-like states, each of ``SHORT_WAYS`` in turn, and each way's compressed bytes in
    all; raises AssertionError if one way's stream does not read back by the other."""
    packing: dict[str, list[float]] = {way: [] for way in SHORT_WAYS}
    reading: dict[str, list[float]] = {way: [] for way in SHORT_WAYS}
    sizes: dict[str, int] = {}
    for _ in range(repeats):
        data = [trade_like_state() for _ in range(states)]
        streams: dict[str, list[bytes]] = {}
        for way, (compress, _) in SHORT_WAYS.items():
            started = time.perf_counter()
            streams[way] = [compress(state) for state in data]  # kept, as a save keeps them
            packing[way].append((time.perf_counter() - started) / states)
            sizes[way] = sum(len(stream) for stream in streams[way])
        for way, (_, decompress) in SHORT_WAYS.items():
            other = streams[next(w for w in SHORT_WAYS if w != way)]
            started = time.perf_counter()
            read = [decompress(stream) for stream in other]
            reading[way].append((time.perf_counter() - started) / states)
            assert read == data, way
    return packing, reading, sizes


def main() -> None:
    """Measures and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--states", type=int, default=2_000)
    args = parser.parse_args()
    before = os.getloadavg()[0]
    state = proof_batch_like_state(args.shares)
    times = compression_times(state, args.repeats)
    one, threads = (statistics.median(times[w]) * 1000 for w in ("one thread", "threads"))
    workers = compression._threads()
    count = workers._max_workers if workers is not None else 1
    print(f"Command: `.venv/bin/python -m bench.compression_bench --shares {args.shares} "
          f"--repeats {args.repeats} --states {args.states}`")
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
    packing, reading, sizes = short_state_times(args.states, args.repeats)
    state_bytes = len(trade_like_state())
    base_way = next(iter(SHORT_WAYS))
    print(f"\n| a trade-like state ({state_bytes:,} bytes) | compress µs (median) | ratio "
          f"| decompress µs (median) | ratio | compressed, of the state |")
    print("|---|---:|---:|---:|---:|---:|")
    for way in SHORT_WAYS:
        packed, read = (statistics.median(times[way]) * 1e6 for times in (packing, reading))
        base_packed, base_read = (statistics.median(times[base_way]) * 1e6
                                  for times in (packing, reading))
        print(f"| {way} | {packed:.1f} | {packed / base_packed:.2f} | {read:.1f} "
              f"| {read / base_read:.2f} | {sizes[way] / (state_bytes * args.states):.0%} |")


if __name__ == "__main__":
    main()

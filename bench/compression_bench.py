"""How fast a long event state is compressed: its pieces on threads against one thread.

A state shaped like a 100,000-share ``ProofBatch.Verified`` (``--shares``): the base64 of a
repetitive packed batch (run-length deflated), a verdict digit per share (deflated) and
the base64 of random 32-byte hashes (stored). ``ledger.compression.compress_state`` runs
on this process's compression threads (one a core, ``ledger.compression.MAX_THREADS`` at
most), and the baseline on the calling thread alone, alternating; both make the same
bytes (checked). It prints the median milliseconds of each.

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
from unittest import mock

from ledger import compression


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


if __name__ == "__main__":
    main()

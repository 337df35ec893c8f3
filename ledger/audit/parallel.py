"""`audit verify --workers N`: one verification spread over N worker processes, with the
same report as the single-process pass (``ledger.audit.verify``).

This process reads the stream (a store's pages or an export's frames) and cuts its
records into chunks of ``chunk_size`` records, a power of two, so that every full chunk
is one perfect subtree of the log's tree. A worker hashes each chunk's leaves and returns
the chunk's subtree hashes at every size a checkpoint (or a trusted checkpoint) needs, its
hints, notification ids and aggregate identities; here the tree is folded chunk by chunk
and every checkpoint checked against the root at its size exactly as the single pass
does. With the cipher key each record also goes to one of N partitions by its aggregate
id: partition p's chunks run one after the other in one process (a pool of one), which
decodes them and rebuilds its aggregates in log order, and returns the faults and the
events the replay checks watch; the checks run here, in log order.

Faults come out identical to the single pass because the per-record checks have one
owner (``Tally.record``): a chunk whose quick whole-array checks find nothing amiss
(no changed leaf, no claimed or unknown follower leaf, no repeated version, no malformed
leaf) cannot hold a per-record fault; any other chunk is walked record by record through
``Tally.record``. Chunks are merged strictly in log order, so faults, warnings and
counts are added in the order the single pass adds them.
"""

from __future__ import annotations

import hashlib
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ledger.audit.faults import Fault
from ledger.audit.leaf import LeafFormatError, decode_leaf
from ledger.audit.replay import MapperRecipe, Replayer
from ledger.audit.stream import AuditStream, StreamCheckpoint, StreamRecord
from ledger.audit.verify import (
    CheckpointState,
    StreamVerifier,
    Tally,
    VerifyReport,
    fold_root,
    identity,
    unknown_item,
    unreadable,
)
from ledger.audit.workers import process_pool
from tlog.hashes import node_hash

DEFAULT_CHUNK = 1 << 13
"""Records per chunk (8,192: a few MB of leaf data, a fraction of a second of work)."""

IN_FLIGHT_PER_WORKER = 2
"""Chunks handed out per worker before the oldest is merged (bounds the memory)."""


# ------------------------------------------------------------------ worker processes


@dataclass(frozen=True)
class HashedChunk:
    """What a worker returns of one chunk's leaves."""

    roots: dict[int, list[bytes]]
    """The chunk's compact range (subtree hashes, left to right) at each asked offset."""
    hints: bytes
    nids: bytes
    changed: bool
    """Some record's bytes differ from those the follower integrated."""
    identities: list[tuple[bytes, int] | None]


def hash_chunk(nids: Sequence[int], datas: Sequence[bytes], hints: Sequence[int],
               hint_hashes: Sequence[bytes], offsets: Sequence[int]) -> HashedChunk:
    """Returns the leaf hashes of one chunk folded into its subtrees (at each of
    ``offsets``), and what the merge needs of each record."""
    sha256 = hashlib.sha256
    wanted = set(offsets)
    roots: dict[int, list[bytes]] = {0: []} if 0 in wanted else {}
    hashes: list[bytes] = []
    changed = False
    for i, data in enumerate(datas):
        h = sha256(b"\x00" + data).digest()
        s, x = i, h
        while s & 1:
            x = node_hash(hashes.pop(), x)
            s >>= 1
        hashes.append(x)
        if i + 1 in wanted:
            roots[i + 1] = list(hashes)
        if hints[i] >= 0 and hint_hashes[i] != h:
            changed = True
    return HashedChunk(roots, np.asarray(hints, np.int64).tobytes(),
                       np.asarray(nids, np.int64).tobytes(), changed,
                       [identity(data) for data in datas])


@dataclass(frozen=True)
class ReplayedPart:
    """What a partition returns of its share of one chunk."""

    faults: list[tuple[int, list[Fault]]]
    events: list[tuple[int, Any]]
    """The decoded events some check watches, with their leaf index."""
    malformed: bool


@dataclass
class _Partition:
    replayer: Replayer
    watches: tuple[type, ...]


_PARTITIONS: dict[str, _Partition] = {}
"""The partitions this worker process rebuilds, by audit run."""


def replay_part(run: str, start: tuple[MapperRecipe, tuple[type, ...]] | None,
                positions: Sequence[int], datas: Sequence[bytes]) -> ReplayedPart:
    """Decodes the records of one partition's share of a chunk and applies them to its
    aggregates (``start``: the mapper's recipe and the watched classes, on the first)."""
    partition = _PARTITIONS.get(run)
    if partition is None:
        if start is None:
            raise RuntimeError(f"audit run {run} is not known to this worker")
        partition = _PARTITIONS[run] = _Partition(Replayer(start[0].build()), start[1])
    faults: list[tuple[int, list[Fault]]] = []
    events: list[tuple[int, Any]] = []
    malformed = False
    rebuild, watches = partition.replayer.rebuild, partition.watches
    for position, data in zip(positions, datas, strict=True):
        try:
            record = decode_leaf(data)
        except LeafFormatError:
            malformed = True
            continue
        event, found = rebuild(position, record)
        if found:
            faults.append((position, found))
        if event is not None and isinstance(event, watches):
            events.append((position, event))
    return ReplayedPart(faults, events, malformed)


def finish_part(run: str) -> tuple[int, int]:
    """Forgets one partition; returns (events decoded, aggregates rebuilt)."""
    partition = _PARTITIONS.pop(run, None)
    if partition is None:
        return 0, 0
    return partition.replayer.decoded, len(partition.replayer.aggregates)


# ------------------------------------------------------------------ this process


@dataclass
class _Chunk:
    start: int
    records: list[StreamRecord]
    marks: list[tuple[int, object]]
    """Checkpoints (and unknown items) with the number of records read before each."""
    hashed: Future[HashedChunk] | None = None
    replayed: list[Future[ReplayedPart]] = field(default_factory=list)


class ParallelPass:
    """One verification of a stream across ``workers`` processes (see the module)."""

    def __init__(self, checker: StreamVerifier, workers: int,
                 chunk_size: int = DEFAULT_CHUNK) -> None:
        if chunk_size < 1 or chunk_size & (chunk_size - 1):
            raise ValueError(f"chunk size {chunk_size} is not a power of two")
        self.checker = checker
        self.workers = workers
        self.chunk_size = chunk_size
        self.run = uuid.uuid4().hex
        self.pools: list[ProcessPoolExecutor] = [
            process_pool(1, f"audit-{k}") for k in range(workers)]
        self.replayer = checker.replayer
        self.started = False
        self.hashes: list[bytes] = []  # the tree's compact range after the merged chunks
        self.trusted = list(checker.trusted)
        self.checkpoints = CheckpointState()
        self.report = VerifyReport("")
        self.tally = Tally(0, 0)
        self.chunks_sent = 0

    def verify(self, stream: AuditStream, progress: Callable[[int], None] | None = None
               ) -> VerifyReport:
        """Returns the report of the stream, equal to the single-process pass's."""
        header = stream.header
        report = self.report = VerifyReport(header.source)
        self.tally = Tally(header.tracked_size, header.tracked_position)
        checker = self.checker
        while self.trusted and self.trusted[0].size == 0:
            checker.check_trusted(report, self.trusted, 0, fold_root([]))
        in_flight: deque[_Chunk] = deque()
        window = IN_FLIGHT_PER_WORKER * self.workers
        chunk = _Chunk(0, [], [])
        size = 0
        broken: Exception | None = None
        try:
            try:
                for item in stream.items:
                    if type(item) is StreamRecord:
                        if len(chunk.records) == self.chunk_size:
                            in_flight.append(self._send(chunk))
                            chunk = _Chunk(size, [], [])
                            while len(in_flight) > window:
                                self._merge(in_flight.popleft(), progress)
                        chunk.records.append(item)
                        size += 1
                    else:
                        chunk.marks.append((size, item))
            except (ValueError, OSError) as e:
                broken = e
            in_flight.append(self._send(chunk))
            while in_flight:
                self._merge(in_flight.popleft(), progress)
        finally:
            parts = self._finish()
        if broken is not None:
            report.add(unreadable(size, broken))
        checker.conclude(report, stream, self.tally, size, fold_root(self.hashes),
                         self.trusted, self.checkpoints)
        replayer = self.replayer
        if replayer is not None:
            for fault in replayer.finish():
                report.add(fault)
            report.events_decoded = sum(decoded for decoded, _ in parts)
            report.aggregates_rebuilt = sum(rebuilt for _, rebuilt in parts)
        return report

    def _send(self, chunk: _Chunk) -> _Chunk:
        """Hands one chunk to the workers; returns it."""
        start, n = chunk.start, len(chunk.records)
        offsets = {size - start for size, _ in chunk.marks}
        offsets.update(cp.size - start for cp in self.trusted if start < cp.size <= start + n)
        offsets.add(n)
        columns = list(zip(*chunk.records, strict=True)) or [(), (), (), ()]
        nids, datas, hints, hint_hashes = columns
        pool = self.pools[self.chunks_sent % self.workers]
        self.chunks_sent += 1
        chunk.hashed = pool.submit(hash_chunk, nids, datas, hints, hint_hashes,
                                   sorted(offsets))
        if self.replayer is not None:
            chunk.replayed = self._send_replay(start, datas)
        return chunk

    def _send_replay(self, start: int, datas: Sequence[bytes]) -> list[Future[ReplayedPart]]:
        """Hands each partition its records of a chunk; returns their futures."""
        assert self.replayer is not None
        workers = self.workers
        positions: list[list[int]] = [[] for _ in range(workers)]
        shares: list[list[bytes]] = [[] for _ in range(workers)]
        crc32 = zlib.crc32
        for position, data in enumerate(datas, start):
            ident = identity(data)
            k = crc32(ident[0]) % workers if ident is not None else 0
            positions[k].append(position)
            shares[k].append(data)
        begin = None
        if not self.started:
            begin = (MapperRecipe.of(self.replayer.mapper), self.replayer.watches())
            self.started = True
        return [pool.submit(replay_part, self.run, begin, positions[k], shares[k])
                for k, pool in enumerate(self.pools)]

    def _finish(self) -> list[tuple[int, int]]:
        """Ends the run's partitions in the workers; returns their counts."""
        if not self.started:
            return []
        return [pool.submit(finish_part, self.run).result() for pool in self.pools]

    def _merge(self, chunk: _Chunk, progress: Callable[[int], None] | None) -> None:
        """Adds one chunk's faults and checkpoints to the report, in log order."""
        assert chunk.hashed is not None
        hashed = chunk.hashed.result()
        parts = [future.result() for future in chunk.replayed]
        replay_faults: dict[int, list[Fault]] = {}
        events: dict[int, Any] = {}
        for part in parts:
            replay_faults.update(part.faults)
            events.update(part.events)
        start, n = chunk.start, len(chunk.records)
        clean = self._quick(hashed, any(part.malformed for part in parts))
        positions = (sorted(replay_faults.keys() | events.keys()) if clean
                     else range(start, start + n))
        report, replayer = self.report, self.replayer
        marks = deque(chunk.marks)
        sha256 = hashlib.sha256
        for position in positions:
            self._settle(chunk, marks, hashed, position)
            if not clean:
                nid, data, hint, hint_hash = chunk.records[position - start]
                self.tally.record(report, position, nid, data, hint, hint_hash,
                                  sha256(b"\x00" + data).digest(), replayer is not None)
            for fault in replay_faults.get(position, ()):
                report.add(fault)
            event = events.get(position)
            if event is not None and replayer is not None:
                for fault in replayer.check(position, event):
                    report.add(fault)
        self._settle(chunk, marks, hashed, start + n)
        if n == self.chunk_size:  # a perfect subtree joins the tree
            s, x = start // n, hashed.roots[n][0]
            while s & 1:
                x = node_hash(self.hashes.pop(), x)
                s >>= 1
            self.hashes.append(x)
        else:  # the last chunk
            self.hashes = self.hashes + hashed.roots[n]
        if progress is not None and n:
            progress(n)

    def _settle(self, chunk: _Chunk, marks: deque[tuple[int, object]], hashed: HashedChunk,
                upto: int) -> None:
        """Checks the trusted checkpoints and the stream's checkpoints up to ``upto``
        records, in the single pass's order (at one size: trusted ones first)."""
        checker, report = self.checker, self.report
        while True:
            trusted = self.trusted[0].size if self.trusted else None
            mark = marks[0][0] if marks else None
            if trusted is not None and trusted <= upto and (mark is None or trusted <= mark):
                root = fold_root(self.hashes + hashed.roots[trusted - chunk.start])
                checker.check_trusted(report, self.trusted, trusted, root)
            elif mark is not None and mark <= upto:
                size, item = marks.popleft()
                if type(item) is StreamCheckpoint:
                    root = fold_root(self.hashes + hashed.roots[size - chunk.start])
                    checker.checkpoint(report, item, size, root, self.checkpoints)
                else:
                    report.add(unknown_item(item))
            else:
                return

    def _quick(self, hashed: HashedChunk, malformed: bool) -> bool:
        """Returns whether a chunk is free of per-record faults, and if so takes its
        records into the tally; leaves the tally as it was otherwise."""
        if hashed.changed or malformed:
            return False
        tally = self.tally
        hints = np.frombuffer(hashed.hints, np.int64)
        nids = np.frombuffer(hashed.nids, np.int64)
        untracked = hints < 0
        if bool((nids[untracked] <= tally.tracked_position).any()):
            return False  # a record the follower passed without integrating it
        tracked = hints[~untracked]
        claimed = tracked[tracked < tally.tracked_size]
        covered = np.frombuffer(tally.covered, np.uint8)
        if claimed.size and (bool(covered[claimed].any())
                             or np.unique(claimed).size != claimed.size):
            return False  # a follower leaf claimed twice
        seen: dict[bytes, int] = {}
        versions = tally.versions
        for ident in hashed.identities:
            if ident is not None:
                key, version = ident
                last = seen.get(key)
                if last is None:
                    last = versions.get(key)
                if last is not None and version <= last:
                    return False  # a repeated or earlier version of an aggregate
                seen[key] = version
        covered[claimed] = 1
        if tracked.size:
            running = np.maximum.accumulate(np.concatenate(([tally.max_hint], tracked)))
            if bool((tracked < running[:-1]).any()):
                tally.disorder = True
            tally.max_hint = int(running[-1])
        tally.untracked += int(untracked.sum())
        versions.update(seen)
        tally.hints.frombytes(hashed.hints)
        tally.nids.frombytes(hashed.nids)
        return True

"""`audit verify --workers N`: one verification spread over N worker processes, with the
same report as the single-process pass (``ledger.audit.verify``).

The records are cut into chunks of ``chunk_size`` records, a power of two, so that every
full chunk is one perfect subtree of the log's tree. When the stream has a plan (a store
opened with its settings, an export file) the workers read their chunks themselves (a
page of the store through their own connection, a byte range of the file) and this
process only plans them and reads the checkpoints; otherwise it reads the stream and
sends each chunk's records along.

Each of the N workers is a pool of one process, so that the tasks sent to it run one
after the other in the order sent. A chunk is hashed by one worker (in turn): it returns
the chunk's subtree hashes at every size a checkpoint (or a trusted checkpoint) needs, its
hints and notification ids, and its records shared out by aggregate id into N partitions.
Partition p always goes to worker p, chunk after chunk in log order: there the versions of
its aggregates are checked (DUPLICATE_EVENT) and, with the cipher key, its events decoded
and its aggregates rebuilt; it returns the faults and the events the replay checks watch.
Here the tree is folded chunk by chunk, every checkpoint checked against the root at its
size exactly as the single pass does, and the replay checks run in log order.

Faults come out identical to the single pass because each rule has one owner, which both
run: ``Tally.record`` for the per-record checks, ``next_version`` for repeated versions,
``Replayer.rebuild`` and the checks for the replay. A chunk whose whole-array checks find
nothing amiss (no changed leaf, no claimed or unknown follower leaf, no repeated version,
no malformed leaf) cannot hold a per-record fault; any other is walked record by record
through ``Tally.record`` (re-reading its records here). Chunks are merged strictly in log
order, so faults, warnings and counts are added in the order the single pass adds them.

The module is long because the pass has two sides that only make sense together: what
the workers compute of a chunk (hashes, shares, partitions) and how this process merges
it back into one report in the single pass's order (tree, checkpoints, faults).
"""

from __future__ import annotations

import hashlib
import threading
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ledger.audit.faults import Fault
from ledger.audit.leaf import ID_KIND_UUID, LeafFormatError, decode_leaf
from ledger.audit.replay import MapperRecipe, Replayer
from ledger.audit.stream import (
    AuditStream,
    ChunkSource,
    Columns,
    PlannedChunk,
    StreamCheckpoint,
    StreamRecord,
    records_of,
)
from ledger.audit.verify import (
    CheckpointState,
    StreamVerifier,
    Tally,
    VerifyReport,
    fold_root,
    identity,
    next_version,
    unknown_item,
    unreadable,
)
from ledger.audit.workers import process_pool
from tlog.hashes import node_hash

DEFAULT_CHUNK = 1 << 13
"""Records per chunk (8,192: a few MB of leaf data, a fraction of a second of work)."""

REPLAY_CHUNK = 1 << 10
"""Records per chunk when the events are decoded too (1,024: each costs some 100 times
more, and smaller chunks let the replay checks here overlap the workers' decoding)."""

IN_FLIGHT_PER_WORKER = 2
"""Chunks handed out per worker before the oldest is merged (bounds the memory)."""


# ------------------------------------------------------------------ worker processes


@dataclass(frozen=True)
class Shipped:
    """Records sent along with their chunk (a stream without a plan), as columns."""

    records: Columns

    @classmethod
    def of(cls, records: Sequence[StreamRecord]) -> Shipped:
        """Returns the columns of ``records``."""
        return cls(([r[0] for r in records], [r[1] for r in records],
                    [r[2] for r in records], [r[3] for r in records]))

    def columns(self) -> Columns:
        """Returns the records."""
        return self.records


@dataclass
class Share:
    """The records of one chunk that fall in one partition: their leaf indexes,
    aggregate keys and versions (and leaf data when the aggregates are rebuilt)."""

    positions: list[int] = field(default_factory=list)
    keys: list[bytes | None] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    datas: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class HashedChunk:
    """What a worker returns of one chunk's leaves."""

    roots: dict[int, list[bytes]]
    """The chunk's compact range (subtree hashes, left to right) at each asked offset."""
    hints: bytes
    nids: bytes
    changed: bool
    """Some record's bytes differ from those the follower integrated."""
    shares: list[Share]


def hash_chunk(source: ChunkSource | Shipped, start: int, offsets: Sequence[int],
               partitions: int, with_data: bool) -> HashedChunk:
    """Returns the leaf hashes of one chunk (its first leaf at ``start``) folded into its
    subtrees at each of ``offsets``, and its records shared out into ``partitions``."""
    nids, datas, hints, hint_hashes = source.columns()
    sha256 = hashlib.sha256
    wanted = set(offsets)
    roots: dict[int, list[bytes]] = {0: []} if 0 in wanted else {}
    hashes: list[bytes] = []
    changed = False
    shares = [Share() for _ in range(partitions)]
    crc32 = zlib.crc32
    from_bytes = int.from_bytes
    for i, data in enumerate(datas):
        h = sha256(b"\x00" + data).digest()
        s, x = i, h
        while s & 1:
            x = node_hash(hashes.pop(), x)
            s >>= 1
        hashes.append(x)
        if i + 1 in wanted:
            roots[i + 1] = list(hashes)
        if hint_hashes[i] != h and hints[i] >= 0:
            changed = True
        # identity(), inlined for the common case: a UUID aggregate id.
        ident = ((data[1:18], from_bytes(data[18:26], "big"))
                 if len(data) >= 26 and data[1] == ID_KIND_UUID else identity(data))
        if ident is None:
            share = shares[0]
            share.keys.append(None)
            share.versions.append(0)
        else:
            key = ident[0]
            share = shares[crc32(key) % partitions]
            share.keys.append(key)
            share.versions.append(ident[1])
        share.positions.append(start + i)
        if with_data:
            share.datas.append(data)
    return HashedChunk(roots, np.asarray(hints, np.int64).tobytes(),
                       np.asarray(nids, np.int64).tobytes(), changed, shares)


@dataclass(frozen=True)
class CheckedShare:
    """What a partition returns of its share of one chunk."""

    repeats: list[tuple[int, tuple[int, int]]]
    """Records repeating or going back in their aggregate: (leaf, (version, last))."""
    faults: list[tuple[int, list[Fault]]]
    events: list[tuple[int, Any]]
    """The decoded events some check watches, with their leaf index."""
    malformed: bool


@dataclass(frozen=True)
class Begin:
    """What a partition needs first: the mapper's recipe (None: no rebuild), the event
    classes the replay checks watch and what they read of some (``Replayer``)."""

    recipe: MapperRecipe | None
    watches: tuple[type, ...]
    projections: dict[type, Callable[[Any], Any]] = field(default_factory=dict)


@dataclass
class _Partition:
    versions: dict[bytes, int]
    replayer: Replayer | None
    watches: tuple[type, ...]
    projections: dict[type, Callable[[Any], Any]]


_PARTITIONS: dict[str, _Partition] = {}
"""The partitions this worker process keeps, by audit run."""


def check_share(run: str, begin: Begin | None, share: Share) -> CheckedShare:
    """Checks the versions of one partition's share of a chunk and, with a mapper,
    decodes its records and applies them to the partition's aggregates."""
    partition = _PARTITIONS.get(run)
    if partition is None:
        if begin is None:
            raise RuntimeError(f"audit run {run} is not known to this worker")
        replayer = Replayer(begin.recipe.build()) if begin.recipe is not None else None
        partition = _PARTITIONS[run] = _Partition({}, replayer, begin.watches,
                                                  begin.projections)
    repeats: list[tuple[int, tuple[int, int]]] = []
    faults: list[tuple[int, list[Fault]]] = []
    events: list[tuple[int, Any]] = []
    malformed = False
    versions, replayer, watches = partition.versions, partition.replayer, partition.watches
    projections = partition.projections
    for i, position in enumerate(share.positions):
        key = share.keys[i]
        if key is not None:
            repeat = next_version(versions, key, share.versions[i])
            if repeat is not None:
                repeats.append((position, repeat))
        if replayer is None:
            continue
        try:
            record = decode_leaf(share.datas[i])
        except LeafFormatError:
            malformed = True
            continue
        event, found = replayer.rebuild(position, record)
        if found:
            faults.append((position, found))
        if event is not None and isinstance(event, watches):
            project = projections.get(type(event))
            events.append((position, event if project is None else project(event)))
    return CheckedShare(repeats, faults, events, malformed)


def read_chunk(source: ChunkSource | Shipped) -> list[StreamRecord]:
    """Returns the records of a chunk (for a chunk the merge walks record by record)."""
    return records_of(source.columns())


def finish_part(run: str) -> tuple[int, int]:
    """Forgets one partition; returns (events decoded, aggregates rebuilt)."""
    partition = _PARTITIONS.pop(run, None)
    if partition is None or partition.replayer is None:
        return 0, 0
    return partition.replayer.decoded, len(partition.replayer.aggregates)


def start_workers(workers: int) -> None:
    """Starts the ``workers`` processes a parallel pass uses, if not yet running, and
    returns once each has answered (a benchmark separates their start from the pass)."""
    pools = [process_pool(1, f"audit-{k}") for k in range(workers)]
    for future in [pool.submit(finish_part, "") for pool in pools]:
        future.result()


# ------------------------------------------------------------------ this process


@dataclass
class _Chunk:
    start: int
    count: int
    source: ChunkSource | Shipped
    marks: list[tuple[int, object]]
    """Checkpoints (and unknown items) with the number of records read before each."""
    records: list[StreamRecord] | None = None
    hashed: Future[HashedChunk] | None = None
    checked: list[Future[CheckedShare]] = field(default_factory=list)


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
        self.hashes: list[bytes] = []  # the tree's compact range after the merged chunks
        self.trusted = list(checker.trusted)
        self.checkpoints = CheckpointState()
        self.report = VerifyReport("")
        self.tally = Tally(0, 0)
        self.chunks_sent = 0
        self.unforwarded: deque[_Chunk] = deque()
        self.forwarding = threading.RLock()
        self.begun = False

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
        size = 0
        broken: Exception | None = None
        try:
            chunks = self._planned(stream) if stream.plan is not None else self._read(stream)
            try:
                for chunk in chunks:
                    in_flight.append(self._send(chunk))
                    size = chunk.start + chunk.count
                    while len(in_flight) > window:
                        self._merge(in_flight.popleft(), progress)
            except _Broken as e:
                broken = e.error
                in_flight.append(self._send(e.last))
                size = e.last.start + e.last.count
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

    def _read(self, stream: AuditStream) -> Iterator[_Chunk]:
        """Yields the stream's records in chunks, each with the marks that follow its
        records before the next chunk's; the last (maybe empty) through _Broken when
        the stream breaks off."""
        chunk = _Chunk(0, 0, Shipped.of(()), [], [])
        records: list[StreamRecord] = []
        size = 0
        try:
            for item in stream.items:
                if type(item) is StreamRecord:
                    if len(records) == self.chunk_size:
                        chunk.count, chunk.records = len(records), records
                        chunk.source = Shipped.of(records)
                        yield chunk
                        records = []
                        chunk = _Chunk(size, 0, chunk.source, [], records)
                    records.append(item)
                    size += 1
                else:
                    chunk.marks.append((size, item))
        except (ValueError, OSError) as e:
            chunk.count, chunk.records, chunk.source = len(records), records, \
                Shipped.of(records)
            raise _Broken(e, chunk) from e
        chunk.count, chunk.records, chunk.source = len(records), records, Shipped.of(records)
        yield chunk

    def _planned(self, stream: AuditStream) -> Iterator[_Chunk]:
        """Yields the chunks of the stream's plan (read by the workers), as _read."""
        assert stream.plan is not None
        chunk: _Chunk | None = None
        early: list[tuple[int, object]] = []  # marks before the first chunk
        size = 0
        try:
            for item in stream.plan(self.chunk_size):
                if isinstance(item, PlannedChunk):
                    if chunk is not None:
                        yield chunk
                    chunk = _Chunk(size, item.count, item.source, early if chunk is None
                                   else [])
                    size += item.count
                else:
                    (chunk.marks if chunk is not None else early).append(
                        (item.size, item.item))
        except (ValueError, OSError) as e:
            raise _Broken(e, chunk or _Chunk(size, 0, Shipped.of(()), early, [])) from e
        yield chunk or _Chunk(size, 0, Shipped.of(()), early, [])

    def _send(self, chunk: _Chunk) -> _Chunk:
        """Hands one chunk to a worker to hash; returns it."""
        start, n = chunk.start, chunk.count
        offsets = {size - start for size, _ in chunk.marks}
        offsets.update(cp.size - start for cp in self.trusted if start < cp.size <= start + n)
        offsets.add(n)
        pool = self.pools[self.chunks_sent % self.workers]
        self.chunks_sent += 1
        chunk.hashed = pool.submit(hash_chunk, chunk.source, start, sorted(offsets),
                                   self.workers, self.replayer is not None)
        with self.forwarding:
            self.unforwarded.append(chunk)
        chunk.hashed.add_done_callback(lambda _: self._forward())
        return chunk

    def _forward(self) -> None:
        """Hands each hashed chunk's shares to their partitions, chunk after chunk in log
        order (each partition's worker runs them in the order sent)."""
        with self.forwarding:
            while self.unforwarded and self.unforwarded[0].hashed is not None \
                    and self.unforwarded[0].hashed.done():
                chunk = self.unforwarded[0]
                assert chunk.hashed is not None
                if chunk.hashed.exception() is not None:
                    return  # the merge raises it; no later share may overtake it
                self.unforwarded.popleft()
                begin = None
                if not self.begun:
                    replayer = self.replayer
                    begin = Begin(MapperRecipe.of(replayer.mapper), replayer.watches(),
                                  replayer.projections()) \
                        if replayer is not None else Begin(None, ())
                    self.begun = True
                shares = chunk.hashed.result().shares
                chunk.checked = [pool.submit(check_share, self.run, begin, shares[k])
                                 for k, pool in enumerate(self.pools)]

    def _finish(self) -> list[tuple[int, int]]:
        """Ends the run's partitions in the workers; returns their counts."""
        with self.forwarding:
            self.unforwarded.clear()
            begun = self.begun
        if not begun:
            return []
        return [pool.submit(finish_part, self.run).result() for pool in self.pools]

    def _merge(self, chunk: _Chunk, progress: Callable[[int], None] | None) -> None:
        """Adds one chunk's faults and checkpoints to the report, in log order."""
        assert chunk.hashed is not None
        hashed = chunk.hashed.result()
        self._forward()
        checked = [future.result() for future in chunk.checked]
        repeats: dict[int, tuple[int, int]] = {}
        replay_faults: dict[int, list[Fault]] = {}
        events: dict[int, Any] = {}
        for part in checked:
            repeats.update(part.repeats)
            replay_faults.update(part.faults)
            events.update(part.events)
        start, n = chunk.start, chunk.count
        clean = (not repeats and not any(part.malformed for part in checked)
                 and self._quick(hashed))
        positions = (sorted(replay_faults.keys() | events.keys()) if clean
                     else range(start, start + n))
        records = chunk.records
        if not clean and records is None:  # read again, by a worker (its connection)
            records = self.pools[0].submit(read_chunk, chunk.source).result()
        report, replayer = self.report, self.replayer
        marks = deque(chunk.marks)
        sha256 = hashlib.sha256
        for position in positions:
            self._settle(chunk, marks, hashed, position)
            if not clean:
                assert records is not None
                nid, data, hint, hint_hash = records[position - start]
                self.tally.record(report, position, nid, data, hint, hint_hash,
                                  sha256(b"\x00" + data).digest(), replayer is not None,
                                  repeats)
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

    def _quick(self, hashed: HashedChunk) -> bool:
        """Returns whether a chunk's leaves and hints hold no per-record fault, and if so
        takes them into the tally; leaves the tally as it was otherwise."""
        if hashed.changed:
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
        covered[claimed] = 1
        if tracked.size:
            running = np.maximum.accumulate(np.concatenate(([tally.max_hint], tracked)))
            if bool((tracked < running[:-1]).any()):
                tally.disorder = True
            tally.max_hint = int(running[-1])
        tally.untracked += int(untracked.sum())
        tally.hints.frombytes(hashed.hints)
        tally.nids.frombytes(hashed.nids)
        return True


class _Broken(Exception):
    """The stream broke off: the error, and the last chunk of the records before it."""

    def __init__(self, error: Exception, last: _Chunk) -> None:
        super().__init__(str(error))
        self.error = error
        self.last = last

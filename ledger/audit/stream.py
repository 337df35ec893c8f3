"""The audit stream: every stored record and every checkpoint, in log order.

Both sources of an audit — a live database and an export file — produce this stream, and
the verifier consumes it. Each record carries its leaf data and, as an *unauthenticated
hint*, where the follower placed it (its leaf index and leaf hash); hints only help to
locate a fault, the signed checkpoints decide whether there is one. A checkpoint comes
right after the record that completes the tree it signs.

A stream may also offer a *plan* of itself for the parallel audit
(``ledger.audit.parallel``): the same items, but each run of records replaced by a
:class:`PlannedChunk` whose ``source`` a worker process reads by itself (a page of the
store, a byte range of the export file), so that the records need not pass through the
auditing process.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from ledger.audit.leaf import encode_leaf
from ledger.audit.store import AuditStore, StoredCheckpoint
from ledger.config import StoreConfig

NO_HINT = -1
MIN_NOTIFICATION_ID = -(2**63)


class StreamRecord(NamedTuple):
    """One stored record: its notification id, leaf data and the follower's hint."""

    notification_id: int
    leaf_data: bytes
    hint_index: int
    hint_hash: bytes


class StreamCheckpoint(NamedTuple):
    """One stored checkpoint: its number, signed note and consistency proof."""

    seq: int
    note: str
    consistency: tuple[bytes, ...]
    created_at: str


StreamItem = StreamRecord | StreamCheckpoint


@dataclass(frozen=True)
class StreamHeader:
    """What the source says about itself (informational, not trusted)."""

    source: str
    origin: str
    tracked_position: int
    tracked_size: int
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    record_count: int | None = None


Columns = tuple[list[int], list[bytes], list[int], list[bytes]]
"""Records as four lists: notification ids, leaf data, hint indexes, hint hashes."""


class ChunkSource(Protocol):
    """Where a worker process reads one chunk of records (a picklable value)."""

    def columns(self) -> Columns:
        """Returns the chunk's records, in log order, as columns."""
        ...


def records_of(columns: Columns) -> list[StreamRecord]:
    """Returns the records of columns."""
    return [StreamRecord(*row) for row in zip(*columns, strict=True)]


@dataclass(frozen=True)
class PlannedChunk:
    """``count`` records of the stream, read by a worker from ``source``."""

    count: int
    source: ChunkSource


class Mark(NamedTuple):
    """A stream item that is not a record, and the number of records before it."""

    size: int
    item: StreamItem


PlanItem = PlannedChunk | Mark


@dataclass
class AuditStream:
    """A header and the items that follow it; ``plan``, when the source offers one,
    returns the same items with the records in chunks of a given size (all full but the
    last; a damaged source raises after the chunks of the records before the damage)."""

    header: StreamHeader
    items: Iterator[StreamItem]
    describe_leaf: Callable[[int], str | None] = field(default=lambda _i: None)
    plan: Callable[[int], Iterator[PlanItem]] | None = None


def record_of_row(row: Sequence[Any]) -> StreamRecord:
    """Returns the stream record of a row of ``AuditStore.events_page`` (the one owner of
    that conversion: the stream and the parallel audit's workers read rows alike)."""
    nid, oid, version, topic, state_bytes, hint_index, hint_hash = row
    return StreamRecord(
        nid,
        encode_leaf(oid, version, topic, bytes(state_bytes)),
        NO_HINT if hint_index is None else hint_index,
        b"" if hint_hash is None else bytes(hint_hash),
    )


ONE_CONNECTION = {"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "0"}
"""The connection pool of a worker's store (PostgreSQL; SQLite ignores it)."""

_WORKER_STORES: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}
"""The stores a worker process has opened, by URL and settings (kept for the process)."""


@dataclass(frozen=True)
class StoreChunk:
    """``count`` stored records after notification id ``after``, read in a worker."""

    config: StoreConfig
    after: int
    count: int

    def columns(self) -> Columns:
        """Returns the records, read through this process's own connection."""
        key = (self.config.url, tuple(sorted(self.config.extra.items())))
        log = _WORKER_STORES.get(key)
        if log is None:
            from ledger.audit.log import AuditLog

            # One connection a worker (N workers hold N connections, not N pools), and
            # nothing created: an audit only reads.
            config = replace(self.config, create_tables=False,
                             extra={**self.config.extra, **ONE_CONNECTION})
            log = _WORKER_STORES[key] = AuditLog.open(config, create_tables=False)
        nids: list[int] = []
        datas: list[bytes] = []
        hints: list[int] = []
        hint_hashes: list[bytes] = []
        for row in log.store.events_page(self.after, self.count):
            nid, data, hint, hint_hash = record_of_row(row)
            nids.append(nid)
            datas.append(data)
            hints.append(hint)
            hint_hashes.append(hint_hash)
        return nids, datas, hints, hint_hashes


def interleave(
    records: Iterator[StreamRecord], checkpoints: list[StoredCheckpoint]
) -> Iterator[StreamItem]:
    """Yields the records with each checkpoint placed right after its last record."""
    pending = deque(checkpoints)
    count = 0

    def due() -> Iterator[StreamCheckpoint]:
        while pending and pending[0].size <= count:
            cp = pending.popleft()
            yield StreamCheckpoint(cp.seq, cp.cosigned_note, cp.consistency, cp.created_at)

    yield from due()
    for record in records:
        yield record
        count += 1
        if pending and pending[0].size <= count:
            yield from due()
    for cp in pending:
        yield StreamCheckpoint(cp.seq, cp.cosigned_note, cp.consistency, cp.created_at)


def database_stream(store: AuditStore, origin: str = "", page_size: int = 5000,
                    config: StoreConfig | None = None) -> AuditStream:
    """Returns the stream of a live store: stored events joined with the audit tables;
    with the store's ``config``, also its plan (workers open the store themselves)."""
    with store.read() as tx:
        state = tx.read_state()
        checkpoints = tx.checkpoints()
        tx.execute(f"SELECT COUNT(*) FROM {store.events}")
        (count,) = tx.fetchall()[0]

    def records() -> Iterator[StreamRecord]:
        after = MIN_NOTIFICATION_ID
        while True:
            rows = store.events_page(after, page_size)
            for row in rows:
                yield record_of_row(row)
            if len(rows) < page_size:
                return
            after = rows[-1][0]

    def describe(leaf_index: int) -> str | None:
        with store.read() as tx:
            ref = tx.leaf_at(leaf_index)
        if ref is None:
            return None
        return (f"notification {ref.notification_id}, "
                f"event {ref.originator_id}:{ref.originator_version}")

    def plan(chunk_size: int) -> Iterator[PlanItem]:
        assert config is not None
        # Each checkpoint at the count of records after which ``interleave`` yields it.
        due, at = deque[tuple[int, StreamCheckpoint]](), 0
        for cp in checkpoints:
            at = max(at, cp.size)
            due.append((at, StreamCheckpoint(cp.seq, cp.cosigned_note, cp.consistency,
                                             cp.created_at)))
        after, read = MIN_NOTIFICATION_ID, 0
        while due and due[0][0] <= 0:
            yield Mark(0, due.popleft()[1])
        while True:
            last = store.nth_event_after(after, chunk_size)
            n = chunk_size if last is not None else store.count_events_after(after)
            if n:
                yield PlannedChunk(n, StoreChunk(config, after, n))
            read += n
            while due and due[0][0] <= read:
                yield Mark(due[0][0], due.popleft()[1])
            if last is None:
                break
            after = last
        for _, item in due:
            yield Mark(read, item)

    source = "postgresql" if store.placeholder == "%s" else "sqlite"
    header = StreamHeader(source, origin, state.position, state.size, record_count=int(count))
    return AuditStream(header, interleave(records(), checkpoints), describe,
                       plan if config is not None else None)

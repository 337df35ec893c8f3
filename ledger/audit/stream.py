"""The audit stream: every stored record and every checkpoint, in log order.

Both sources of an audit — a live database and an export file — produce this stream, and
the verifier consumes it. Each record carries its leaf data and, as an *unauthenticated
hint*, where the follower placed it (its leaf index and leaf hash); hints only help to
locate a fault, the signed checkpoints decide whether there is one. A checkpoint comes
right after the record that completes the tree it signs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from ledger.audit.leaf import encode_leaf
from ledger.audit.store import AuditStore, StoredCheckpoint

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


@dataclass
class AuditStream:
    """A header and the items that follow it."""

    header: StreamHeader
    items: Iterator[StreamItem]
    describe_leaf: Callable[[int], str | None] = field(default=lambda _i: None)


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


def database_stream(store: AuditStore, origin: str = "", page_size: int = 5000) -> AuditStream:
    """Returns the stream of a live store: stored events joined with the audit tables."""
    with store.read() as tx:
        state = tx.read_state()
        checkpoints = tx.checkpoints()
        tx.execute(f"SELECT COUNT(*) FROM {store.events}")
        (count,) = tx.fetchall()[0]

    def records() -> Iterator[StreamRecord]:
        after = MIN_NOTIFICATION_ID
        while True:
            rows = store.events_page(after, page_size)
            for nid, oid, version, topic, state_bytes, hint_index, hint_hash in rows:
                yield StreamRecord(
                    nid,
                    encode_leaf(oid, version, topic, bytes(state_bytes)),
                    NO_HINT if hint_index is None else hint_index,
                    b"" if hint_hash is None else bytes(hint_hash),
                )
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

    source = "postgresql" if store.placeholder == "%s" else "sqlite"
    header = StreamHeader(source, origin, state.position, state.size, record_count=int(count))
    return AuditStream(header, interleave(records(), checkpoints), describe)

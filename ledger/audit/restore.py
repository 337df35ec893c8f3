"""Restore a store from an audit export (docs/AUDIT-EXPORT.md §9).

Every record of the export is written back exactly as it was stored (originator id,
version, topic and state bytes — encrypted state stays encrypted, so no cipher key is
needed) through the recorder's own insert path, in export order, so the restored
notification ids are dense and in log order. The audit tree is rebuilt as the records go
in, and each checkpoint is imported as it was signed, at the moment the rebuilt tree
reaches its size and only if the rebuilt root is the root it signs. The restored tree
therefore equals the original one at every checkpoint, and every old signature verifies
against the restored store.

Nothing is written unless a first pass over the file finds it whole and self-consistent
(and, given trusted keys, verifying exactly as ``valedger audit verify --from`` does), and
the target store holds no rows at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

from eventsourcing.persistence import StoredEvent

from ledger.audit.follower import TreeFollower
from ledger.audit.leaf import LeafFormatError, decode_leaf
from ledger.audit.log import AuditLog
from ledger.audit.store import AuditStore, StoredCheckpoint
from ledger.audit.stream import AuditStream, StreamCheckpoint, StreamItem, StreamRecord
from ledger.audit.verify import StreamVerifier, VerifyReport
from ledger.errors import LedgerError
from tlog.checkpoint import Checkpoint
from tlog.compact_range import CompactRange
from tlog.consistency import verify_consistency
from tlog.errors import ProofError
from tlog.hashes import HASH_SIZE, leaf_hash
from tlog.note import NoteError, NoteVerifier, parse_note

MAX_PROBLEMS = 100
"""At most this many structural problems are listed (all are counted)."""

BATCH_RECORDS = 500
BATCH_BYTES = 8 * 1024 * 1024
"""A write transaction holds at most this many records or (about) this many state bytes."""

TREE_BATCH = 2000
"""Leaves the tree takes in per transaction."""

Progress = Callable[[int], None]


class RestoreError(LedgerError):
    """The restore cannot go on; what was written before it stopped is said in the message."""


class StoreNotEmptyError(RestoreError):
    """The target store already holds rows: a restore only goes into an empty store."""

    def __init__(self, tables: dict[str, int], where: str) -> None:
        listed = ", ".join(
            f"{name} ({'over 1000' if n > 1000 else n} row{'s' if n != 1 else ''})"
            for name, n in tables.items()
        )
        super().__init__(f"the store {where} is not empty: {listed}; a restore goes only "
                         "into an empty store (a new database, or a new SQLite file)")
        self.tables = dict(tables)


@dataclass
class ExportCheck:
    """What the first pass found: counts, the root of every record, and any problem."""

    records: int = 0
    checkpoints: int = 0
    root: bytes = b""
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    report: VerifyReport | None = None
    """The verification report, when trusted keys were given."""

    @property
    def ok(self) -> bool:
        """Returns True when the file may be restored."""
        return not self.problem_count and (self.report is None or self.report.ok)

    def problem(self, message: str) -> None:
        """Records one structural problem."""
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(message)


@dataclass(frozen=True)
class RestoreSummary:
    """What was restored."""

    records: int
    checkpoints: int
    tree_size: int
    root: bytes
    first_notification_id: int | None
    last_notification_id: int | None


class _Structure:
    """Checks, record by record, what a restore relies on (no key needed): every leaf
    decodes, every checkpoint body parses, follows the previous one in number and by its
    consistency proof, signs exactly the records before it, and has a readable time."""

    def __init__(self, check: ExportCheck) -> None:
        self.check = check
        self.compact = CompactRange()
        self.last_seq = 0
        self.previous: Checkpoint | None = None

    def observe(self, item: StreamItem) -> None:
        check = self.check
        if type(item) is StreamRecord:
            position = self.compact.size
            try:
                decode_leaf(item.leaf_data)
            except LeafFormatError as e:
                check.problem(f"record at leaf {position} (notification "
                              f"{item.notification_id}) is malformed: {e}")
            self.compact.append(leaf_hash(item.leaf_data))
            check.records += 1
            return
        assert isinstance(item, StreamCheckpoint)
        check.checkpoints += 1
        seq = item.seq
        where = f"checkpoint {seq} (after {self.compact.size} records)"
        if seq <= self.last_seq:
            check.problem(f"{where} does not follow checkpoint {self.last_seq}")
        self.last_seq = max(seq, self.last_seq)
        try:
            cp = Checkpoint.from_text(parse_note(item.note).text)
        except NoteError as e:
            check.problem(f"{where} is unreadable: {e}")
            return
        if cp.size != self.compact.size:
            check.problem(f"{where} signs {cp.size} records")
        elif cp.root_hash != self.compact.root():
            check.problem(f"{where}: the records before it do not hash to the root it signs")
        if any(len(h) != HASH_SIZE for h in item.consistency):
            check.problem(f"{where} has a consistency proof hash that is not 32 bytes")
        elif self.previous is not None and self.previous.size > 0:
            try:
                verify_consistency(self.previous.size, cp.size, self.previous.root_hash,
                                   cp.root_hash, item.consistency)
            except ProofError as e:
                check.problem(f"{where} is not consistent with the previous checkpoint: {e}")
        if self.previous is not None and cp.origin != self.previous.origin:
            check.problem(f"{where} has origin {cp.origin!r}, the previous one "
                          f"{self.previous.origin!r}")
        try:
            datetime.fromisoformat(item.created_at)
        except ValueError:
            check.problem(f"{where} has no readable creation time ({item.created_at!r})")
        self.previous = cp


def check_export(
    stream: AuditStream,
    verifiers: Sequence[NoteVerifier] = (),
    origin: str | None = None,
    progress: Progress | None = None,
) -> ExportCheck:
    """Returns what one pass over an export stream found.

    Always: the structure a restore relies on (format and checksum, leaves, checkpoint
    sizes, roots, numbering, consistency proofs). With ``verifiers``: also the full
    verification of :class:`StreamVerifier` (signatures by trusted keys, hints), whose
    report is kept in the result.
    """
    check = ExportCheck()
    structure = _Structure(check)

    def observed() -> Iterator[StreamItem]:
        for item in stream.items:
            structure.observe(item)
            yield item

    if verifiers:
        checked = AuditStream(stream.header, observed(), stream.describe_leaf)
        check.report = StreamVerifier(verifiers, origin).verify(checked, progress)
    else:
        pending = 0
        try:
            for item in stream.items:
                structure.observe(item)
                pending += 1
                if progress is not None and pending >= 4096:
                    progress(pending)
                    pending = 0
        except (ValueError, OSError) as e:
            check.problem(f"the file is unreadable after {check.records} records: {e}")
        if progress is not None and pending:
            progress(pending)
    check.root = structure.compact.root()
    declared = stream.header.record_count
    if declared is not None and declared != check.records:
        check.problem(f"the header announces {declared} records, the file holds "
                      f"{check.records}")
    return check


def check_empty(store: AuditStore, where: str) -> None:
    """Raises StoreNotEmptyError when any table of the store holds a row."""
    with store.read() as tx:
        tables = tx.nonempty_tables()
    if tables:
        raise StoreNotEmptyError(tables, where)


def restore_export(
    stream: AuditStream,
    log: AuditLog,
    where: str = "",
    progress: Progress | None = None,
    batch_records: int = BATCH_RECORDS,
    batch_bytes: int = BATCH_BYTES,
) -> RestoreSummary:
    """Writes an export stream into the empty store of ``log``; returns what it wrote.

    Check the file with :func:`check_export` first: this pass stops at the first problem,
    leaving the records and checkpoints before it in the store (a prefix of the export
    whose every checkpoint matches its tree).
    """
    check_empty(log.store, where)
    recorder = log.recorder
    store = log.store
    follower = TreeFollower(recorder, store=store, batch_size=TREE_BATCH)
    pending: list[StoredEvent] = []
    pending_bytes = 0
    written = 0
    tree_size = 0
    checkpoints = 0
    first_id: int | None = None
    last_id: int | None = None

    def flush() -> None:
        nonlocal pending_bytes, written, first_id, last_id
        if not pending:
            return
        ids = list(recorder.insert_events(pending) or [])
        previous = [last_id] if last_id is not None else []
        if len(ids) != len(pending) or any(b <= a for a, b in pairwise(previous + ids)):
            raise RestoreError(
                f"the store gave notification ids out of order after {written} records")
        first_id = ids[0] if first_id is None else first_id
        last_id = ids[-1]
        written += len(pending)
        if progress is not None:
            progress(len(pending))
        pending.clear()
        pending_bytes = 0

    def integrate(target: int) -> None:
        nonlocal tree_size
        while tree_size < target:
            n = follower.step(limit=min(target - tree_size, TREE_BATCH))
            if n is None:
                raise RestoreError(
                    "another process is advancing the audit tree of this store; stop every "
                    f"server on it during a restore ({written} records written so far)")
            if n == 0:
                raise RestoreError(f"the audit tree stopped at {tree_size} of {target} records")
            tree_size += n

    def import_checkpoint(item: StreamCheckpoint) -> None:
        nonlocal checkpoints
        body = Checkpoint.from_text(parse_note(item.note).text)
        integrate(body.size)
        with store.write() as tx:
            if tx is None:
                raise RestoreError("another process holds the audit lock; stop every server "
                                   "on this store during a restore")
            state = tx.read_state()
            if state.size != body.size or state.compact.root() != body.root_hash:
                raise RestoreError(
                    f"the restored tree of {state.size} records does not have the root that "
                    f"checkpoint {item.seq} signs; the store holds the first {written} records")
            tx.insert_checkpoint(StoredCheckpoint(
                item.seq, body.size, body.root_hash, item.note, item.consistency,
                item.created_at))
        checkpoints += 1

    try:
        for item in stream.items:
            if type(item) is StreamRecord:
                record = decode_leaf(item.leaf_data)
                pending.append(StoredEvent(record.originator_id, record.originator_version,
                                           record.topic, record.state))
                pending_bytes += len(record.state)
                if len(pending) >= batch_records or pending_bytes >= batch_bytes:
                    flush()
            else:
                assert isinstance(item, StreamCheckpoint)
                flush()
                import_checkpoint(item)
        flush()
        integrate(written)
    except Exception as e:
        raise RestoreError(
            f"restore stopped after {written} records and {checkpoints} checkpoints: {e}. "
            "The store holds that prefix of the export; restore again into a new, empty "
            "store") from e
    state = log.state()
    return RestoreSummary(written, checkpoints, state.size, state.compact.root(),
                          first_id, last_id)

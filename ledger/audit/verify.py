"""Offline verification of an audit stream (a live store or an export file).

Trust comes only from the regulator's public key: every leaf and the whole tree are
recomputed from the records, every checkpoint's signature and origin are checked, each
checkpoint must be consistent with the previous one (by the consistency proof stored with
it) and must sign exactly the root of the records that precede it. The follower's hints
are used only to say *where* a fault is: a changed, deleted, inserted or reordered record.

The module is long because one pass over the stream checks everything at once (leaves,
tree, signatures, cosignatures, consistency, duplicates): splitting it would read the
stream, millions of records, more than once. The parallel pass (``ledger.audit.parallel``,
``verify(workers=N)``) reuses its per-record checks (``Tally``), its checkpoint checks and
its conclusion, so that both word every fault alike.
"""

from __future__ import annotations

import bisect
import hashlib
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ledger.audit.faults import Fault, FaultKind
from ledger.audit.leaf import (
    ID_KIND_TEXT,
    ID_KIND_UUID,
    LeafFormatError,
    LeafRecord,
    decode_leaf,
)
from ledger.audit.replay import Replayer
from ledger.audit.stream import AuditStream, StreamCheckpoint, StreamRecord
from tlog.checkpoint import Checkpoint, open_checkpoint
from tlog.consistency import verify_consistency
from tlog.cosignature import check_cosignatures
from tlog.errors import ProofError
from tlog.hashes import EMPTY_ROOT, node_hash
from tlog.note import NoteError, NoteVerifier, UntrustedKeyError

MAX_REPORTED = 1000
"""At most this many faults of one kind are listed (all are counted)."""


@dataclass
class VerifyReport:
    """The outcome of one verification."""

    source: str
    records: int = 0
    tree_root: bytes = EMPTY_ROOT
    checkpoints_seen: int = 0
    checkpoints_matched: int = 0
    checkpoints_by_key: dict[str, int] = field(default_factory=dict)
    """Checkpoints whose signature verified, by key (``name+hex key id``)."""
    checkpoints_witnessed: int = 0
    """Checkpoints that meet the witness quorum (when one is asked)."""
    cosignatures_by_witness: dict[str, int] = field(default_factory=dict)
    """Valid cosignatures by trusted witness key."""
    last_matched_size: int = 0
    events_decoded: int = 0
    aggregates_rebuilt: int = 0
    faults: list[Fault] = field(default_factory=list)
    fault_counts: dict[FaultKind, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Returns True when no fault was found."""
        return not self.fault_counts

    def add(self, fault: Fault) -> None:
        """Records one fault (listing at most MAX_REPORTED of each kind)."""
        n = self.fault_counts.get(fault.kind, 0)
        self.fault_counts[fault.kind] = n + 1
        if n < MAX_REPORTED:
            self.faults.append(fault)


def _event_of(data: bytes) -> str | None:
    try:
        return decode_leaf(data).event_id
    except LeafFormatError:
        return None


def identity(data: bytes) -> tuple[bytes, int] | None:
    """Returns (originator id bytes, version) read from version-1 leaf data without
    decoding the rest, or None when the data is too short to hold them. The id bytes
    name one aggregate: the parallel pass partitions the rebuild by them."""
    try:
        if data[1] == ID_KIND_UUID and len(data) >= 26:
            return data[1:18], int.from_bytes(data[18:26], "big")
        if data[1] == ID_KIND_TEXT and len(data) >= 4:
            end = 4 + int.from_bytes(data[2:4], "big")
            if len(data) >= end + 8:
                return data[1:end], int.from_bytes(data[end : end + 8], "big")
    except IndexError:
        return None
    return None


def _longest_increasing(values: array[int]) -> set[int]:
    """Returns the positions of one longest strictly increasing subsequence."""
    tails: list[int] = []
    tail_pos: list[int] = []
    prev = [-1] * len(values)
    for pos, v in enumerate(values):
        k = bisect.bisect_left(tails, v)
        if k == len(tails):
            tails.append(v)
            tail_pos.append(pos)
        else:
            tails[k] = v
            tail_pos[k] = pos
        prev[pos] = tail_pos[k - 1] if k else -1
    keep: set[int] = set()
    pos = tail_pos[-1] if tail_pos else -1
    while pos >= 0:
        keep.add(pos)
        pos = prev[pos]
    return keep


def fold_root(hashes: Sequence[bytes]) -> bytes:
    """Returns the root of a tree given its compact range (the roots of its perfect
    subtrees, left to right)."""
    if not hashes:
        return EMPTY_ROOT
    r = hashes[-1]
    for h in reversed(hashes[:-1]):
        r = node_hash(h, r)
    return r


def next_version(versions: dict[bytes, int], key: bytes, version: int
                 ) -> tuple[int, int] | None:
    """Returns (version, last version) when ``version`` does not follow the last version
    of aggregate ``key`` in ``versions``, else None after remembering it (the one owner of
    the DUPLICATE_EVENT rule; the parallel pass's partitions run it too)."""
    last = versions.get(key)
    if last is not None and version <= last:
        return version, last
    versions[key] = version
    return None


def unknown_item(item: object) -> Fault:
    """Returns the fault of a stream item that is neither a record nor a checkpoint."""
    return Fault(FaultKind.FORMAT, f"unknown stream item {type(item)}")


def unreadable(size: int, error: Exception) -> Fault:
    """Returns the fault of a stream that broke off after ``size`` records."""
    return Fault(FaultKind.FORMAT, f"stream unreadable after {size} records: {error}",
                 leaf_index=size)


@dataclass
class CheckpointState:
    """The last checkpoint whose signature verified, and the highest number seen."""

    last_valid: Checkpoint | None = None
    last_seq: int = 0


class Tally:
    """What one pass remembers of the records it has seen to judge the next one: which
    follower leaves were claimed, the hints and notification ids (to find reordered
    records at the end), the last version of each aggregate. ``record`` is the one owner
    of the per-record checks; the parallel pass (``ledger.audit.parallel``) runs it on
    any chunk its quick checks find anything in, so both paths word faults alike."""

    __slots__ = ("covered", "disorder", "hints", "max_hint", "nids", "tracked_position",
                 "tracked_size", "untracked", "versions")

    def __init__(self, tracked_size: int, tracked_position: int) -> None:
        self.tracked_size = max(0, tracked_size)
        self.tracked_position = tracked_position
        self.covered = bytearray(self.tracked_size)
        self.hints: array[int] = array("q")
        self.nids: array[int] = array("q")
        self.disorder = False
        self.max_hint = -1
        self.untracked = 0
        self.versions: dict[bytes, int] = {}

    def record(self, report: VerifyReport, position: int, nid: int, data: bytes, hint: int,
               hint_hash: bytes, h: bytes, decode: bool,
               repeats: Mapping[int, tuple[int, int]] | None = None) -> LeafRecord | None:
        """Adds the faults of one record (leaf hash ``h``) at ``position`` to ``report``;
        returns its decoded leaf when ``decode`` is asked and it decodes. ``repeats``:
        the (version, last version) of the records found repeating or going back in
        their aggregate elsewhere (the parallel pass, by partition), instead of the
        versions this tally keeps."""
        self.hints.append(hint)
        self.nids.append(nid)
        record: LeafRecord | None = None
        if decode:
            try:
                record = decode_leaf(data)
            except LeafFormatError as e:
                report.add(Fault(FaultKind.MALFORMED_RECORD, str(e), position, nid))
        if hint >= 0:
            if hint < self.tracked_size:
                if self.covered[hint]:
                    report.add(Fault(
                        FaultKind.INSERTED,
                        f"second record claiming follower leaf {hint}",
                        position, nid, _event_of(data)))
                self.covered[hint] = 1
            if hint_hash != h:
                where = "" if hint == position else f" (integrated as leaf {hint})"
                report.add(Fault(
                    FaultKind.CHANGED,
                    f"record bytes differ from those integrated{where}",
                    position, nid, _event_of(data)))
            if hint < self.max_hint:
                self.disorder = True
            else:
                self.max_hint = hint
        elif nid <= self.tracked_position:
            report.add(Fault(
                FaultKind.INSERTED,
                "record was never integrated although the follower passed it",
                position, nid, _event_of(data)))
        else:
            self.untracked += 1
        if repeats is None:
            ident = identity(data)
            repeat = next_version(self.versions, *ident) if ident is not None else None
        else:
            repeat = repeats.get(position)
        if repeat is not None:
            version, last = repeat
            report.add(Fault(
                FaultKind.DUPLICATE_EVENT,
                f"version {version} of its aggregate follows version {last}: "
                "an event recorded twice or out of order",
                position, nid, _event_of(data)))
        return record



class StreamVerifier:
    """Verifies audit streams against the trusted verifier keys.

    Several keys may be trusted (the regulator rotated its checkpoint key): each
    checkpoint is checked against the key its signature line names (key name and key id);
    one signed by none of them is an UNTRUSTED_KEY fault. Whatever keys sign them, all
    checkpoints of one log must share one origin. With witness keys and a quorum k, each
    checkpoint needs k valid cosignatures by distinct witness keys (else UNWITNESSED). A
    record repeating an (aggregate id, version) pair, or going back to an earlier version
    of its aggregate, is a DUPLICATE_EVENT, found from the leaf data alone.
    """

    def __init__(
        self,
        verifiers: NoteVerifier | Sequence[NoteVerifier],
        origin: str | None = None,
        replayer: Replayer | None = None,
        trusted: Sequence[Checkpoint] = (),
        witnesses: Sequence[NoteVerifier] = (),
        quorum: int = 0,
        require_signed: bool = False,
    ) -> None:
        self.verifiers = (
            (verifiers,) if isinstance(verifiers, NoteVerifier) else tuple(verifiers)
        )
        self.origin = origin
        self.replayer = replayer
        # Checkpoints the auditor kept from earlier audits: the store must still hold
        # exactly those trees (catches a truncated log whose later checkpoints were
        # deleted too, which the store's own checkpoints cannot show).
        self.trusted = sorted(trusted, key=lambda c: c.size)
        # Witnesses: every checkpoint needs ``quorum`` valid cosignatures by these keys.
        self.witnesses = tuple(witnesses)
        self.quorum = quorum
        self.require_signed = require_signed

    def verify(
        self, stream: AuditStream, progress: Callable[[int], None] | None = None,
        workers: int = 1, chunk_size: int | None = None,
    ) -> VerifyReport:
        """Returns the report of one pass over ``stream``: in this process when
        ``workers`` is 1, else with leaf hashing and decoding in chunks of ``chunk_size``
        records (a power of two) across ``workers`` processes and the aggregates rebuilt
        in ``workers`` partitions (``ledger.audit.parallel``); the report is the same."""
        if workers > 1:
            from ledger.audit.parallel import DEFAULT_CHUNK, REPLAY_CHUNK, ParallelPass

            chunk = chunk_size or (REPLAY_CHUNK if self.replayer is not None
                                   else DEFAULT_CHUNK)
            return ParallelPass(self, workers, chunk).verify(stream, progress)
        header = stream.header
        report = VerifyReport(header.source)
        tally = Tally(header.tracked_size, header.tracked_position)
        hashes: list[bytes] = []
        size = 0
        sha256 = hashlib.sha256
        checkpoints = CheckpointState()
        replayer = self.replayer
        since_progress = 0
        trusted = list(self.trusted)
        next_trusted = trusted[0].size if trusted else -1

        def root() -> bytes:
            return fold_root(hashes)

        try:
            while next_trusted == 0:
                next_trusted = self.check_trusted(report, trusted, 0, EMPTY_ROOT)
            for item in stream.items:
                if type(item) is StreamRecord:
                    nid, data, hint, hint_hash = item
                    h = sha256(b"\x00" + data).digest()
                    s, x = size, h
                    while s & 1:
                        x = node_hash(hashes.pop(), x)
                        s >>= 1
                    hashes.append(x)
                    position = size
                    size += 1
                    record = tally.record(report, position, nid, data, hint, hint_hash, h,
                                          replayer is not None)
                    if record is not None and replayer is not None:
                        for fault in replayer.observe(position, record):
                            report.add(fault)
                    while size == next_trusted:
                        next_trusted = self.check_trusted(report, trusted, size, root())
                    since_progress += 1
                    if progress is not None and since_progress >= 4096:
                        progress(since_progress)
                        since_progress = 0
                elif type(item) is StreamCheckpoint:
                    self.checkpoint(report, item, size, root(), checkpoints)
                else:
                    report.add(unknown_item(item))
        except (ValueError, OSError) as e:
            report.add(unreadable(size, e))
        if progress is not None and since_progress:
            progress(since_progress)
        self.conclude(report, stream, tally, size, root(), trusted, checkpoints)
        if replayer is not None:
            for fault in replayer.finish():
                report.add(fault)
            report.events_decoded = replayer.decoded
            report.aggregates_rebuilt = len(replayer.aggregates)
        return report

    def conclude(self, report: VerifyReport, stream: AuditStream, tally: Tally, size: int,
                 root: bytes, trusted: list[Checkpoint], checkpoints: CheckpointState) -> None:
        """Adds what is known once the stream has ended (every path reports it alike):
        trusted checkpoints beyond the log, deleted and reordered records, missing or
        unsigned checkpoints, untracked records."""
        report.records = size
        report.tree_root = root
        for cp in trusted:
            report.add(Fault(
                FaultKind.SIZE_MISMATCH,
                f"a trusted checkpoint signs {cp.size} records but the log holds only {size}: "
                "records were deleted", leaf_index=size))
        self._missing(report, tally.covered, stream)
        if tally.disorder:
            self._reordered(report, tally.hints, tally.nids)
        if report.checkpoints_seen == 0:
            report.add(Fault(FaultKind.MISSING_CHECKPOINT, "no signed checkpoint at all"))
        last_valid = checkpoints.last_valid
        if last_valid is not None and size > last_valid.size:
            message = (f"{size - last_valid.size} records after the last checkpoint "
                       f"(size {last_valid.size}) are not yet covered by a signature")
            if self.require_signed:
                report.add(Fault(FaultKind.UNSIGNED, message, leaf_index=last_valid.size))
            else:
                report.warnings.append(message)
        if tally.untracked:
            report.warnings.append(
                f"{tally.untracked} records after the follower's position "
                f"{tally.tracked_position} are not yet in the tree"
            )

    def checkpoint(self, report: VerifyReport, item: StreamCheckpoint, size: int,
                   root: bytes, state: CheckpointState) -> None:
        """Checks one stream checkpoint read after ``size`` records whose tree has
        ``root``; keeps the last valid one and the highest number in ``state``."""
        state.last_valid, state.last_seq = self._checkpoint(
            report, item, size, root, state.last_valid, state.last_seq)

    @staticmethod
    def check_trusted(
        report: VerifyReport, trusted: list[Checkpoint], size: int, root: bytes
    ) -> int:
        """Checks the first trusted checkpoint against the tree; returns the next size."""
        cp = trusted.pop(0)
        if cp.root_hash != root:
            report.add(Fault(
                FaultKind.ROOT_MISMATCH,
                f"the first {size} records do not hash to the root of a trusted checkpoint "
                "held by the auditor", leaf_index=size))
        return trusted[0].size if trusted else -1

    def _checkpoint(
        self,
        report: VerifyReport,
        item: StreamCheckpoint,
        size: int,
        root: bytes,
        last_valid: Checkpoint | None,
        last_seq: int,
    ) -> tuple[Checkpoint | None, int]:
        report.checkpoints_seen += 1
        seq = item.seq
        if seq > last_seq + 1:
            report.add(Fault(FaultKind.MISSING_CHECKPOINT,
                             f"checkpoints {last_seq + 1}..{seq - 1} are missing",
                             checkpoint_seq=seq))
        elif seq <= last_seq:
            report.add(Fault(FaultKind.INCONSISTENT_CHECKPOINT,
                             f"checkpoint number {seq} repeats or goes backwards after {last_seq}",
                             checkpoint_seq=seq))
        last_seq = max(seq, last_seq)
        try:
            signed = open_checkpoint(item.note, self.verifiers, self.origin)
        except UntrustedKeyError as e:
            report.add(Fault(FaultKind.UNTRUSTED_KEY,
                             f"forged, or signed by a key not passed to the audit: {e}",
                             leaf_index=size, checkpoint_seq=seq))
            return last_valid, last_seq
        except NoteError as e:
            report.add(Fault(FaultKind.BAD_SIGNATURE, f"forged or altered checkpoint: {e}",
                             leaf_index=size, checkpoint_seq=seq))
            return last_valid, last_seq
        cp = signed.checkpoint
        label = signed.keys[0].label
        report.checkpoints_by_key[label] = report.checkpoints_by_key.get(label, 0) + 1
        if self.witnesses or self.quorum:
            self._witnessed(report, item.note, size, seq)
        if last_valid is not None and cp.origin != last_valid.origin:
            report.add(Fault(
                FaultKind.INCONSISTENT_CHECKPOINT,
                f"origin {cp.origin!r} differs from the previous checkpoint's "
                f"{last_valid.origin!r}: one log has one origin", checkpoint_seq=seq))
        if last_valid is not None and last_valid.size > 0:
            try:
                verify_consistency(last_valid.size, cp.size, last_valid.root_hash, cp.root_hash,
                                   item.consistency)
            except ProofError as e:
                report.add(Fault(
                    FaultKind.INCONSISTENT_CHECKPOINT,
                    f"size {cp.size} is not consistent with the previous checkpoint at size "
                    f"{last_valid.size}: {e}", checkpoint_seq=seq))
        if cp.size != size:
            report.add(Fault(
                FaultKind.SIZE_MISMATCH,
                f"signs {cp.size} records but {size} precede it: records were deleted or "
                "inserted", leaf_index=min(size, cp.size), checkpoint_seq=seq))
        elif cp.root_hash != root:
            low = report.last_matched_size
            report.add(Fault(
                FaultKind.ROOT_MISMATCH,
                f"records do not hash to the signed root: a record in leaves [{low}, {size}) "
                "was changed, deleted, inserted or reordered", leaf_index=low,
                checkpoint_seq=seq))
        else:
            report.checkpoints_matched += 1
            report.last_matched_size = size
        return cp, last_seq

    def _witnessed(self, report: VerifyReport, note: str, size: int, seq: int) -> None:
        """Counts the valid cosignatures of one checkpoint; reports UNWITNESSED when they
        fall short of the quorum or a trusted witness's line does not verify."""
        check = check_cosignatures(note, self.witnesses)
        for c in check.valid:
            report.cosignatures_by_witness[c.witness] = (
                report.cosignatures_by_witness.get(c.witness, 0) + 1)
        for label in check.invalid:
            report.add(Fault(FaultKind.UNWITNESSED,
                             f"cosignature by witness {label} does not verify (forged or "
                             "altered)", leaf_index=size, checkpoint_seq=seq))
        if len(check.witnesses) < self.quorum:
            report.add(Fault(
                FaultKind.UNWITNESSED,
                f"{len(check.witnesses)} of the {self.quorum} witness cosignatures the policy "
                f"requires (tree size {size})", leaf_index=size, checkpoint_seq=seq))
        elif not check.invalid:
            report.checkpoints_witnessed += 1

    @staticmethod
    def _missing(report: VerifyReport, covered: bytearray, stream: AuditStream) -> None:
        start = covered.find(0)
        while start >= 0:
            end = covered.find(1, start)
            end = len(covered) if end < 0 else end
            what = stream.describe_leaf(start) if end - start == 1 else None
            detail = f" ({what})" if what else ""
            span = f"leaf {start}" if end - start == 1 else f"leaves {start}..{end - 1}"
            report.add(Fault(FaultKind.DELETED,
                             f"{span} integrated by the follower no longer present{detail}",
                             leaf_index=start))
            start = covered.find(0, end)

    @staticmethod
    def _reordered(report: VerifyReport, hints: array[int], nids: array[int]) -> None:
        positions = [p for p, h in enumerate(hints) if h >= 0]
        values = array("q", (hints[p] for p in positions))
        keep = _longest_increasing(values)
        for k, p in enumerate(positions):
            if k not in keep:
                report.add(Fault(
                    FaultKind.REORDERED,
                    f"record integrated as leaf {hints[p]} now appears at leaf {p}",
                    p, nids[p]))

"""The tree follower: integrates the notification log into the Merkle tree and signs
checkpoints.

Each step runs in one database transaction that takes the write lock, reads the tracking
position, appends the next records as leaves (dense indexes 0, 1, 2 … over whatever
notification ids are present), stores the completed subtree hashes and the new position,
and — when due — signs a checkpoint after proving it consistent with the previous one.
A crash at any point leaves either the whole step or none of it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from eventsourcing.persistence import ApplicationRecorder

from ledger.audit.leaf import encode_leaf
from ledger.audit.store import AuditStore, AuditTransaction, StoredCheckpoint, TreeState
from tlog.checkpoint import Checkpoint, sign_checkpoint
from tlog.consistency import consistency_proof, verify_consistency
from tlog.errors import ProofError
from tlog.hashes import leaf_hash
from tlog.note import NoteError, NoteSigner, open_note, parse_note

log = logging.getLogger(__name__)


class AuditIntegrityError(RuntimeError):
    """The stored tree or checkpoints contradict each other: nothing more is signed."""


@dataclass(frozen=True)
class CheckpointPolicy:
    """When the follower signs: every ``every_records`` leaves, or ``every_seconds``
    after the last checkpoint when the tree has grown (0 disables either rule)."""

    every_records: int = 1000
    every_seconds: float = 60.0


class Companion(Protocol):
    """A background worker that runs while the follower runs."""

    def start(self) -> None:
        """Starts the worker."""

    def stop(self) -> None:
        """Stops the worker."""


class Follower(Companion, Protocol):
    """What follows a store's audit log beside a server: a :class:`TreeFollower` in a
    thread, or ``ledger.audit.follower_process.FollowerProcess`` in a child process."""

    def expect_stop(self) -> None:
        """Says the owner is shutting down (``stop`` follows)."""


class TreeFollower:
    """Keeps the audit tree in step with an application recorder's notification log."""

    def __init__(
        self,
        recorder: ApplicationRecorder,
        signer: NoteSigner | None = None,
        origin: str | None = None,
        policy: CheckpointPolicy | None = None,
        batch_size: int = 2000,
        store: AuditStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.recorder = recorder
        self.store = store or AuditStore.for_recorder(recorder)
        self.signer = signer
        self.origin = origin or (signer.name if signer else "")
        self.policy = policy or CheckpointPolicy()
        self.batch_size = batch_size
        self.clock = clock
        self._started = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.companions: list[Companion] = []
        """Background workers started and stopped with the follower (the cosignature
        collector)."""

    # ------------------------------------------------------------------ one step

    def step(self, limit: int | None = None) -> int | None:
        """Integrates up to ``limit`` new records; returns how many, or None when another
        instance holds the lock."""
        with self.store.write() as tx:
            if tx is None:
                return None
            state = tx.read_state()
            latest = tx.latest_checkpoint() if self.signer else None
            want = limit or self.batch_size
            if self.signer and self.policy.every_records > 0:
                # Cut batches at checkpoint boundaries, so checkpoints land every N leaves.
                done = state.size - (latest.size if latest else 0)
                want = min(want, max(1, self.policy.every_records - done))
            # Same records as recorder.select_notifications, read inside this transaction.
            notifications = tx.notifications_after(state.position, want)
            if notifications:
                compact = state.compact.copy()
                leaf_rows = []
                node_rows: list[tuple[int, int, bytes]] = []
                db_id = self.store.db_id
                for nid, oid, version, topic, stored in notifications:
                    h = leaf_hash(encode_leaf(oid, version, topic, stored))
                    leaf_rows.append((compact.size, nid, db_id(oid), version, h))
                    node_rows.extend(compact.append(h)[1:])
                tx.insert_leaves(leaf_rows)
                if node_rows:
                    tx.insert_nodes(node_rows)
                state = TreeState(notifications[-1][0], compact)
                tx.write_state(state)
            if self.signer and self._due(state, latest):
                self._sign(tx, state, latest)
            return len(notifications)

    def _due(self, state: TreeState, latest: StoredCheckpoint | None) -> bool:
        grown = state.size - (latest.size if latest else 0)
        if grown <= 0:
            return False
        if self.policy.every_records and grown >= self.policy.every_records:
            return True
        if self.policy.every_seconds:
            since = (datetime.fromisoformat(latest.created_at).timestamp() if latest
                     else self._started)
            return self.clock() - since >= self.policy.every_seconds
        return False

    def _sign(
        self, tx: AuditTransaction, state: TreeState, latest: StoredCheckpoint | None
    ) -> StoredCheckpoint:
        """Signs a checkpoint of ``state`` after proving it extends ``latest``."""
        assert self.signer is not None
        root = state.compact.root()
        proof: list[bytes] = []
        if latest is not None:
            self._check_previous(latest)
            if latest.size > state.size:
                raise AuditIntegrityError(
                    f"tree has {state.size} leaves but checkpoint {latest.seq} "
                    f"signed {latest.size}; refusing to sign"
                )
            if latest.size == state.size:
                if latest.root_hash != root:
                    raise AuditIntegrityError(
                        f"tree root at size {state.size} differs from checkpoint {latest.seq}"
                    )
                return latest
            if latest.size > 0:
                try:
                    proof = consistency_proof(latest.size, state.size, tx.get_nodes)
                    verify_consistency(latest.size, state.size, latest.root_hash, root, proof)
                except ProofError as e:
                    raise AuditIntegrityError(
                        f"tree at size {state.size} is not consistent with checkpoint "
                        f"{latest.seq} at size {latest.size} ({e}); refusing to sign"
                    ) from None
        signed = sign_checkpoint(Checkpoint(self.origin, state.size, root), self.signer)
        stored = StoredCheckpoint(
            seq=(latest.seq + 1) if latest else 1,
            size=state.size,
            root_hash=root,
            note=signed.note,
            consistency=tuple(proof),
            created_at=datetime.fromtimestamp(self.clock(), UTC).isoformat(),
        )
        tx.insert_checkpoint(stored)
        log.info("audit checkpoint %d signed at size %d", stored.seq, stored.size)
        return stored

    def _check_previous(self, latest: StoredCheckpoint) -> None:
        """Raises AuditIntegrityError unless the newest stored checkpoint may be extended.

        Its note must name this log's origin and the very size and root kept in its row;
        a signature by the current key must verify. A checkpoint signed by another key —
        the key before a rotation — is accepted on the tree alone: the caller then proves
        the new tree consistent with the root that note signed. Auditors check the old
        signatures with the old public key.
        """
        assert self.signer is not None
        try:
            note = parse_note(latest.note)
            signed = Checkpoint.from_text(note.text)
            if any((s.name, s.key_id) == (self.signer.name, self.signer.key_id)
                   for s in note.signatures):
                open_note(latest.note, self.signer.verifier)
        except NoteError as e:
            raise AuditIntegrityError(
                f"stored checkpoint {latest.seq} does not verify ({e}); refusing to sign"
            ) from None
        if signed.origin != self.origin:
            raise AuditIntegrityError(
                f"stored checkpoint {latest.seq} has origin {signed.origin!r}, not this "
                f"log's {self.origin!r} (a new key keeps the log's origin); refusing to sign"
            )
        if (signed.size, signed.root_hash) != (latest.size, latest.root_hash):
            raise AuditIntegrityError(
                f"stored checkpoint {latest.seq} does not verify (its note and its row "
                "disagree on the tree); refusing to sign"
            )

    # ------------------------------------------------------------------ driving

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Integrates every record there is now; returns how many (0 if not the leader)."""
        total = 0
        while True:
            n = self.step()
            if not n:
                return total
            total += n
            if progress:
                progress(n)

    def checkpoint_now(self) -> StoredCheckpoint:
        """Catches up and signs a checkpoint of the whole tree (on demand)."""
        if self.signer is None:
            raise AuditIntegrityError("no signing key is configured")
        self.catch_up()
        with self.store.write() as tx:
            if tx is None:
                raise AuditIntegrityError("another instance holds the audit lock; try again")
            state = tx.read_state()
            latest = tx.latest_checkpoint()
            if latest is not None and latest.size == state.size:
                self._sign(tx, state, latest)  # checks it still verifies and matches
                return latest
            return self._sign(tx, state, latest)

    def start(self, poll_interval: float = 0.5) -> None:
        """Runs the follower in a daemon thread until :meth:`stop` (and its companions)."""
        if self._thread is not None:
            return
        for companion in self.companions:
            companion.start()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run, args=(poll_interval,), name="audit-follower", daemon=True
        )
        self._thread.start()

    def run(self, poll_interval: float = 0.5) -> None:
        """Follows the log until :meth:`stop`; errors are logged and retried."""
        while not self._stop.is_set():
            try:
                n = self.step()
            except AuditIntegrityError:
                log.exception("audit follower stopped: the stored tree is inconsistent")
                return
            except Exception:
                log.exception("audit follower step failed; retrying")
                n = 0
            if not n:
                self._stop.wait(poll_interval)

    def expect_stop(self) -> None:
        """Says the owner is shutting down: nothing to do, the thread ends with ``stop``."""

    def stop(self) -> None:
        """Stops the background thread, if any, and the companions."""
        for companion in self.companions:
            companion.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

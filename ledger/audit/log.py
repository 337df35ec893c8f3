"""The audit log of one store: follower, proofs, checkpoints and proof bundles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory
from eventsourcing.utils import Environment

from ledger.audit.follower import AuditIntegrityError, CheckpointPolicy, TreeFollower
from ledger.audit.hot_nodes import HotNodes
from ledger.audit.leaf import encode_leaf
from ledger.audit.proof_bundle import ProofBundle
from ledger.audit.store import (
    CHECKPOINTS_TABLE,
    AuditStore,
    AuditTransaction,
    LeafRef,
    StoredCheckpoint,
    TreeState,
)
from ledger.audit.witnessing import CosignatureCollector, WitnessPolicy
from ledger.config import StoreConfig
from ledger.errors import CheckpointNotSigned, InvalidRequest, NotFound
from tlog.consistency import consistency_plan
from tlog.errors import ProofError
from tlog.inclusion import inclusion_plan
from tlog.nodes import build_proof as _build
from tlog.nodes import plan_node_ids
from tlog.note import NoteSigner

APPLICATION_NAME = "valedger"
"""Name of the Ledger application: it decides the events table the audit log follows."""


@dataclass(frozen=True)
class InclusionProof:
    """Leaf ``leaf_index`` with hash ``leaf_hash`` is in the tree of ``tree_size`` leaves."""

    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    hashes: tuple[bytes, ...]


@dataclass(frozen=True)
class ConsistencyProof:
    """The tree of ``new_size`` leaves extends the tree of ``old_size`` leaves."""

    old_size: int
    new_size: int
    hashes: tuple[bytes, ...]


def parse_event_ref(text: str) -> tuple[UUID, int]:
    """Returns (aggregate id, version) of ``AGGREGATE_ID:VERSION``."""
    head, sep, tail = text.strip().rpartition(":")
    if not sep:
        raise InvalidRequest("event", "must be AGGREGATE_ID:VERSION")
    try:
        aggregate_id = UUID(head)
    except ValueError:
        raise InvalidRequest("event", f"{head!r} is not a UUID") from None
    if not tail.isdigit() or len(tail) > 18:
        raise InvalidRequest("event", f"version {tail!r} is not a positive integer")
    return aggregate_id, int(tail)


class AuditLog:
    """Tamper-evident log over an application recorder (SQLite or PostgreSQL)."""

    def __init__(
        self,
        recorder: ApplicationRecorder,
        signer: NoteSigner | None = None,
        origin: str | None = None,
        policy: CheckpointPolicy | None = None,
        create_tables: bool = True,
        batch_size: int = 2000,
        witnesses: WitnessPolicy | None = None,
    ) -> None:
        self.recorder = recorder
        self.store = AuditStore.for_recorder(recorder)
        if create_tables:
            self.store.create_tables()
        self.follower = TreeFollower(
            recorder, signer=signer, origin=origin, policy=policy, batch_size=batch_size,
            store=self.store,
        )
        self.witnesses = witnesses or WitnessPolicy()
        self.collector: CosignatureCollector | None = None
        if self.witnesses.witnesses:
            self.collector = CosignatureCollector(self.store, self.witnesses)
            self.follower.companions.append(self.collector)
        self._factory: InfrastructureFactory[Any] | None = None
        self.config: StoreConfig | None = None
        """The store's settings when opened by :meth:`open` (the parallel audit's workers
        open the store with them)."""
        self.hot = HotNodes()
        """The tree's upper levels, kept for proofs."""

    @classmethod
    def open(
        cls,
        config: StoreConfig,
        signer: NoteSigner | None = None,
        origin: str | None = None,
        policy: CheckpointPolicy | None = None,
        create_tables: bool = True,
        witnesses: WitnessPolicy | None = None,
    ) -> AuditLog:
        """Returns the audit log of a store, opened without decoding anything (so no cipher
        key is needed); :meth:`close` releases its connections."""
        env = Environment(APPLICATION_NAME, config.eventsourcing_env())
        factory: InfrastructureFactory[Any] = InfrastructureFactory.construct(env)
        try:
            log = cls(factory.application_recorder(), signer=signer, origin=origin,
                      policy=policy, create_tables=create_tables, witnesses=witnesses)
        except BaseException:
            factory.close()
            raise
        log._factory = factory
        log.config = config
        return log

    def close(self) -> None:
        """Closes the connections opened by :meth:`open` (if any)."""
        self.follower.stop()
        if self._factory is not None:
            self._factory.close()
            self._factory = None

    @property
    def origin(self) -> str:
        """Returns the checkpoint origin line."""
        return self.follower.origin

    def state(self) -> TreeState:
        """Returns the follower's position and the tree's compact range."""
        with self.store.read() as tx:
            return tx.read_state()

    def inclusion_proof(self, leaf_index: int, tree_size: int | None = None) -> InclusionProof:
        """Returns the proof of leaf ``leaf_index`` in the tree of ``tree_size`` leaves
        (default: the current tree); O(log n) rows in two queries."""
        with self.store.read(snapshot=False) as tx:
            current = tx.tree_size()
            size = current if tree_size is None else tree_size
            return self._inclusion(tx, leaf_index, size, current)

    def event_inclusion_proof(
        self, originator_id: UUID | str, version: int, tree_size: int | None = None
    ) -> InclusionProof:
        """Returns the inclusion proof of an event (by aggregate id and version)."""
        with self.store.read(snapshot=False) as tx:
            ref = tx.find_leaf(originator_id, version)
            if ref is None:
                raise NotFound("audit leaf for event", f"{originator_id}:{version}")
            current = tx.tree_size()
            size = current if tree_size is None else tree_size
            return self._inclusion(tx, ref.leaf_index, size, current)

    def _inclusion(
        self, tx: AuditTransaction, leaf_index: int, size: int, current: int | None = None
    ) -> InclusionProof:
        if current is None:
            current = tx.tree_size()
        if size > current:
            raise InvalidRequest("tree_size", f"the tree has only {current} leaves")
        try:
            plan = inclusion_plan(leaf_index, size)
        except ProofError as e:
            raise InvalidRequest("leaf_index", str(e)) from None
        ids = plan_node_ids(plan) | {(0, leaf_index)}  # the leaf itself: same query
        nodes = self.hot.get_nodes(tx, ids, current)
        if (0, leaf_index) not in nodes:
            raise AuditIntegrityError(f"leaf {leaf_index} is missing from the audit tables")
        try:
            hashes = _build(plan, nodes)
        except ProofError as e:
            raise AuditIntegrityError(str(e)) from None
        return InclusionProof(leaf_index, size, nodes[(0, leaf_index)], tuple(hashes))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """Returns the proof that the tree of ``new_size`` extends that of ``old_size``."""
        with self.store.read() as tx:
            current = tx.tree_size()
            size = current if new_size is None else new_size
            if size > current:
                raise InvalidRequest("second_tree_size", f"the tree has only {current} leaves")
            try:
                plan = consistency_plan(old_size, size)
            except ProofError as e:
                raise InvalidRequest("first_tree_size", str(e)) from None
            try:
                hashes = _build(plan, self.hot.get_nodes(tx, plan_node_ids(plan), current))
            except ProofError as e:
                raise AuditIntegrityError(str(e)) from None
            return ConsistencyProof(old_size, size, tuple(hashes))

    def locate(self, originator_id: UUID | str, version: int) -> LeafRef:
        """Returns where an event sits in the tree, or raises NotFound."""
        with self.store.read() as tx:
            ref = tx.find_leaf(originator_id, version)
        if ref is None:
            raise NotFound("audit leaf for event", f"{originator_id}:{version}")
        return ref

    def latest_checkpoint_end(self) -> tuple[StoredCheckpoint, int] | None:
        """Returns the newest signed checkpoint with the notification id of its last record
        (where its records end in the log), or None when the store has no audit tables or
        no checkpoint. Read-only, in one transaction; relied on by the supervisor's report,
        which is made from exactly a checkpoint's records."""
        with self.store.read() as tx:
            if CHECKPOINTS_TABLE not in tx.table_names():
                return None
            checkpoint = tx.latest_checkpoint()
            if checkpoint is None or checkpoint.size == 0:
                return None
            last = tx.leaf_at(checkpoint.size - 1)
        return None if last is None else (checkpoint, last.notification_id)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """Returns the newest signed checkpoint, or None."""
        with self.store.read() as tx:
            return tx.latest_checkpoint()

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Returns every signed checkpoint, oldest first."""
        with self.store.read() as tx:
            return tx.checkpoints()

    def prove_event(self, originator_id: UUID | str, version: int) -> ProofBundle:
        """Returns a tlog-proof bundle for one event, against the newest checkpoint that
        covers it (signing one on demand when a key is configured and none does)."""
        stored = self.recorder.select_events(originator_id, gt=version - 1, lte=version)
        if not stored:
            raise NotFound("event", f"{originator_id}:{version}")
        record = stored[0]
        leaf_data = encode_leaf(record.originator_id, record.originator_version, record.topic,
                                record.state)
        try:
            ref = self.locate(originator_id, version)
        except NotFound:
            self.follower.catch_up()  # recorded but not yet integrated
            ref = self.locate(originator_id, version)
        with self.store.read() as tx:
            checkpoint = tx.checkpoint_covering(ref.leaf_index)
        if checkpoint is None:
            if self.follower.signer is None:
                raise CheckpointNotSigned(ref.leaf_index)
            checkpoint = self.follower.checkpoint_now()
        with self.store.read() as tx:
            proof = self._inclusion(tx, ref.leaf_index, checkpoint.size)
        return ProofBundle(leaf_data, ref.leaf_index, proof.hashes, checkpoint.cosigned_note)

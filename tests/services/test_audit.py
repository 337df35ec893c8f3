"""AuditService over mTLS: signed checkpoints, proofs that verify, the export stream."""

from __future__ import annotations

import io
import time

import grpc
import pytest

from ledger.audit.export import read_export
from services.generated.valedger.v1 import audit_pb2
from tests.services.harness import AUDIT_SIGNER, World
from tlog.checkpoint import open_checkpoint
from tlog.consistency import verify_consistency
from tlog.inclusion import verify_inclusion


def latest_checkpoint(world: World) -> audit_pb2.Checkpoint:
    deadline = time.monotonic() + 20
    with world.client("miner_a") as miner:
        while True:
            try:
                return miner.audit.GetCheckpoint(audit_pb2.GetCheckpointRequest(),
                                                 timeout=10).checkpoint
            except grpc.RpcError as error:
                assert error.code() is grpc.StatusCode.NOT_FOUND
                assert time.monotonic() < deadline, "no checkpoint was signed"
                time.sleep(0.2)


def test_checkpoint_is_signed_and_proofs_verify(world: World) -> None:
    checkpoint = latest_checkpoint(world)
    opened = open_checkpoint(checkpoint.signed_note, AUDIT_SIGNER.verifier)
    assert opened.size == checkpoint.tree_size > 0
    assert opened.root_hash == checkpoint.root_hash
    with world.client("miner_a") as miner:
        proof = miner.audit.GetInclusionProof(audit_pb2.GetInclusionProofRequest(
            leaf_index=checkpoint.tree_size - 1, tree_size=checkpoint.tree_size), timeout=10)
        verify_inclusion(proof.leaf_index, proof.tree_size, proof.leaf_hash,
                         list(proof.hashes), checkpoint.root_hash)
        older = miner.audit.GetCheckpoint(audit_pb2.GetCheckpointRequest(
            tree_size=10), timeout=10).checkpoint
        consistency = miner.audit.GetConsistencyProof(audit_pb2.GetConsistencyProofRequest(
            first_tree_size=10, second_tree_size=checkpoint.tree_size), timeout=10)
    verify_consistency(10, checkpoint.tree_size, older.root_hash, checkpoint.root_hash,
                       list(consistency.hashes))


def test_proof_beyond_the_tree_is_invalid_argument(world: World) -> None:
    with world.client("auditor") as auditor, pytest.raises(grpc.RpcError) as caught:
        auditor.audit.GetInclusionProof(audit_pb2.GetInclusionProofRequest(
            leaf_index=0, tree_size=10**9), timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_export_streams_a_readable_file(world: World) -> None:
    latest_checkpoint(world)
    with world.client("auditor") as auditor:
        chunks = [m.chunk for m in auditor.audit.ExportLog(audit_pb2.ExportLogRequest(),
                                                           timeout=60)]
        listed = sum(1 for _ in auditor.list_events(page_size=1000))
    stream = read_export(io.BytesIO(b"".join(chunks)))
    items = list(stream.items)
    records = [i for i in items if type(i).__name__ == "StreamRecord"]
    assert len(records) >= listed > 0

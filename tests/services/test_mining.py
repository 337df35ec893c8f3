"""MiningService over mTLS: proof batches in signed envelopes, output reports, meter
readings, reconciliations; and the Prometheus metrics the server keeps of them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import grpc
import pytest
from prometheus_client import generate_latest

from ledger.domain.proof_batch import ProofBatch
from services import wire
from services.client import proof_batch_payload
from services.generated.valedger.v1 import common_pb2, mining_pb2
from services.metrics import ServerMetrics
from tests.services.harness import World, reason
from verifier.simulator import SimulatedMiner, mine_period

START = datetime(2026, 5, 31, tzinfo=UTC)
"""Start of the mined period: within the proof-batch window of the server's NOW."""
SECONDS = 600


@pytest.fixture(scope="module")
def batch() -> dict[str, Any]:
    miner = SimulatedMiner(hashrate=Decimal(50), coinbase_tag=b"miner_a")
    period = mine_period(miner, start_time=int(START.timestamp()), seconds=SECONDS,
                         network_difficulty=Decimal("0.001"), seed=5)
    assert len(period.batch["shares"]) > 10
    return period.batch


@pytest.fixture(scope="module")
def metrics(world: World) -> ServerMetrics:
    assert world.server is not None
    attached = ServerMetrics()
    attached.attach(world.server.backend)
    return attached


def counts(response: mining_pb2.SubmitProofBatchResponse) -> dict[str, int]:
    names = {v: k.removeprefix("SHARE_VERDICT_") for k, v in mining_pb2.ShareVerdict.items()}
    return {names[c.verdict]: c.count for c in response.verdict_counts if c.count}


def test_batch_is_verified_recorded_and_stored_as_signed(
        world: World, batch: dict[str, Any], metrics: ServerMetrics) -> None:
    payload = proof_batch_payload(batch, "proofs-1", world.ids["licence_miner_a"],
                                  START + timedelta(seconds=SECONDS + 60))
    with world.client("miner_a") as miner:
        sealed = miner.seal(payload)
        response = miner.mining.SubmitProofBatch(
            mining_pb2.SubmitProofBatchRequest(envelope=sealed), timeout=60)
        again = miner.mining.SubmitProofBatch(
            mining_pb2.SubmitProofBatchRequest(envelope=sealed), timeout=60)
    assert counts(response) == {"ACCEPTED": len(batch["shares"])}
    assert int(response.accepted_work) > 0 and response.backend in ("cpu", "cuda")
    assert again.receipt.replayed and again.receipt.aggregate_id == response.receipt.aggregate_id
    assert world.server is not None
    stored: ProofBatch = world.server.backend.ledger.repository.get(
        UUID(response.receipt.aggregate_id))
    kept = stored.envelope
    assert kept is not None and kept.payload == sealed.payload
    assert kept.signature == sealed.signature
    scraped = generate_latest(metrics.registry).decode()
    assert f'valedger_shares_verified_total{{backend="{response.backend}",verdict="ACCEPTED"}} ' \
        f'{float(len(batch["shares"]))}' in scraped
    assert "valedger_events_recorded_total 1.0" in scraped


def test_shares_accepted_before_are_duplicates(world: World, batch: dict[str, Any]) -> None:
    payload = proof_batch_payload({"jobs": batch["jobs"], "shares": batch["shares"][:5]},
                                  "proofs-dup", world.ids["licence_miner_a"],
                                  START + timedelta(seconds=SECONDS + 120))
    with world.client("miner_a") as miner:
        response = miner.submit_proof_batch(payload)
    assert counts(response) == {"DUPLICATE": 5}


def test_a_miner_cannot_submit_for_another_licence(world: World, batch: dict[str, Any]) -> None:
    payload = proof_batch_payload(batch, "proofs-theft", world.ids["licence_miner_a"])
    with world.client("miner_b") as thief, pytest.raises(grpc.RpcError) as caught:
        thief.submit_proof_batch(payload)
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED


def test_another_licences_shares_are_credited_to_nobody_else(
        world: World, batch: dict[str, Any]) -> None:
    """miner_b claims miner_a's shares (their coinbase carries miner_a's tag)."""
    payload = proof_batch_payload(batch, "proofs-b", world.ids["licence_miner_b"],
                                  START + timedelta(seconds=SECONDS + 60))
    with world.client("miner_b") as miner:
        response = miner.submit_proof_batch(payload)
    assert counts(response) == {"FOREIGN_COINBASE_TAG": len(batch["shares"])}
    assert response.accepted_work == "0"


def test_shares_without_the_licence_tag_are_untagged(world: World) -> None:
    untagged = mine_period(SimulatedMiner(hashrate=Decimal(50), coinbase_tag=b"/no-licence/"),
                           start_time=int(START.timestamp()), seconds=SECONDS,
                           network_difficulty=Decimal("0.001"), seed=6).batch
    payload = proof_batch_payload(untagged, "proofs-untagged", world.ids["licence_miner_b"],
                                  START + timedelta(seconds=SECONDS + 60))
    with world.client("miner_b") as miner:
        response = miner.submit_proof_batch(payload)
    assert counts(response) == {"UNTAGGED_COINBASE": len(untagged["shares"])}


def test_malformed_batch_is_invalid_argument_and_records_nothing(
        world: World, batch: dict[str, Any]) -> None:
    job = dict(batch["jobs"][0], prevhash="00" * 31)  # one byte short
    payload = proof_batch_payload({"jobs": [job], "shares": batch["shares"][:1]},
                                  "proofs-bad", world.ids["licence_miner_a"], packed=False)
    with world.client("miner_a") as miner, pytest.raises(grpc.RpcError) as caught:
        miner.submit_proof_batch(payload)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "prevhash" in str(caught.value.details())


def test_forged_envelope_is_refused(world: World, batch: dict[str, Any]) -> None:
    payload = proof_batch_payload(batch, "proofs-forged", world.ids["licence_miner_a"])
    with world.client("miner_a") as miner:
        sealed = miner.seal(payload)
        sealed.payload = sealed.payload + b"\x00"
        with pytest.raises(grpc.RpcError) as caught:
            miner.mining.SubmitProofBatch(mining_pb2.SubmitProofBatchRequest(envelope=sealed),
                                          timeout=30)
    assert caught.value.code() in (grpc.StatusCode.PERMISSION_DENIED,
                                   grpc.StatusCode.INVALID_ARGUMENT)


def test_period_closes_into_a_reconciliation_the_miner_can_read(world: World) -> None:
    period = common_pb2.Period(start_time=wire.timestamp(START),
                               end_time=wire.timestamp(START + timedelta(seconds=SECONDS)))
    with world.client("grid") as grid:
        grid.mining.RecordMeterReading(mining_pb2.RecordMeterReadingRequest(
            request_id="meter-a", meter_id="m-miner_a", period=period, kwh="0.000001",
            at=wire.timestamp(START + timedelta(hours=1))), timeout=30)
    with world.client("regulator") as reg:
        closed = reg.mining.CloseReconciliation(mining_pb2.CloseReconciliationRequest(
            request_id="close-a", licence_id=world.ids["licence_miner_a"], period=period,
            at=wire.timestamp(START + timedelta(hours=2))), timeout=60)
    rec = closed.reconciliation
    assert rec.licence_id == world.ids["licence_miner_a"]
    assert int(rec.figures["proved_work"]) > 0
    assert Decimal(rec.figures["metered_kwh"]) == Decimal("0.000001")
    assert rec.findings  # every verdict that failed, or OK
    with world.client("miner_a") as miner:
        read = miner.mining.GetReconciliation(mining_pb2.GetReconciliationRequest(
            licence_id=world.ids["licence_miner_a"], period=period), timeout=30)
    assert read.reconciliation == rec
    with world.client("miner_b") as other, pytest.raises(grpc.RpcError) as caught:
        other.mining.GetReconciliation(mining_pb2.GetReconciliationRequest(
            licence_id=world.ids["licence_miner_a"], period=period), timeout=30)
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    with world.client("regulator") as reg, pytest.raises(grpc.RpcError) as again:
        reg.mining.CloseReconciliation(mining_pb2.CloseReconciliationRequest(
            request_id="close-a-second", licence_id=world.ids["licence_miner_a"],
            period=period, at=wire.timestamp(START + timedelta(hours=3))), timeout=60)
    assert again.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert reason(again.value) == "RECONCILIATION_ALREADY_CLOSED"


def test_packed_batch_is_decoded_out_of_the_signed_payload_and_stored_as_signed(
        world: World, batch: dict[str, Any]) -> None:
    payload = proof_batch_payload(batch, "proofs-packed", world.ids["licence_miner_a"],
                                  START + timedelta(seconds=SECONDS + 60))
    assert payload.packed_batch[:4] == b"VPB1" and not payload.shares
    with world.client("miner_a") as miner:
        sealed = miner.seal(payload)
        response = miner.mining.SubmitProofBatch(
            mining_pb2.SubmitProofBatchRequest(envelope=sealed), timeout=60)
    assert sum(counts(response).values()) == len(batch["shares"])
    assert response.batch_digest == hashlib.sha256(payload.packed_batch).hexdigest()
    assert world.server is not None
    stored: ProofBatch = world.server.backend.ledger.repository.get(
        UUID(response.receipt.aggregate_id))
    assert stored.batch_json == ""  # the signed payload is the record
    assert stored.envelope is not None and stored.envelope.payload == sealed.payload


def test_a_packed_header_claiming_billions_of_shares_is_invalid_argument(
        world: World, batch: dict[str, Any]) -> None:
    payload = proof_batch_payload(batch, "proofs-huge", world.ids["licence_miner_a"])
    header = bytearray(payload.packed_batch)
    header[8:12] = (2**32 - 1).to_bytes(4, "little")  # share_count
    payload.packed_batch = bytes(header)
    both = proof_batch_payload(batch, "proofs-both", world.ids["licence_miner_a"])
    both.shares.add(job_id="j", extranonce2=b"\0", ntime=1, nonce=1)
    with world.client("miner_a") as miner:
        for bad, field in ((payload, "packed_batch.share_count"), (both, "packed_batch")):
            with pytest.raises(grpc.RpcError) as caught:
                miner.submit_proof_batch(bad)
            assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert field in str(caught.value.details())

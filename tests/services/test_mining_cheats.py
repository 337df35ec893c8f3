"""Supervision over mTLS as the regulator and miners meet it: coinbase tags unique per
licence, shares mined during a suspension, accredited pools and a pool miner hiding
output or not reporting at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import grpc
import pytest

from services import wire
from services.client import proof_batch_payload
from services.generated.valedger.v1 import common_pb2, compliance_pb2, licensing_pb2, mining_pb2
from tests.services.harness import VALID_FROM, VALID_UNTIL, World, reason
from verifier.simulator import SimulatedMiner, mine_period

START = datetime(2026, 5, 30, tzinfo=UTC)
"""Start of the mined periods: within the proof-batch window of the server's NOW."""
SECONDS = 1200
NETWORK = Decimal("0.002")
POOL_TAG = b"/pool-b/"


def mined(tag: bytes, seed: int, start: datetime = START) -> dict[str, Any]:
    miner = SimulatedMiner(hashrate=Decimal(80), coinbase_tag=tag)
    return mine_period(miner, start_time=int(start.timestamp()), seconds=SECONDS,
                       network_difficulty=NETWORK, seed=seed).batch


def period_of(start: datetime) -> common_pb2.Period:
    return common_pb2.Period(start_time=wire.timestamp(start),
                             end_time=wire.timestamp(start + timedelta(seconds=SECONDS)))


def counts(response: mining_pb2.SubmitProofBatchResponse) -> dict[str, int]:
    names = {v: k.removeprefix("SHARE_VERDICT_") for k, v in mining_pb2.ShareVerdict.items()}
    return {names[c.verdict]: c.count for c in response.verdict_counts if c.count}


def findings(rec: mining_pb2.Reconciliation) -> dict[str, mining_pb2.VerdictFinding]:
    names = {v: k.removeprefix("RECONCILIATION_VERDICT_")
             for k, v in mining_pb2.ReconciliationVerdict.items()}
    return {names[f.verdict]: f for f in rec.findings}


def close(world: World, request_id: str, licence: str, start: datetime
          ) -> mining_pb2.Reconciliation:
    with world.client("regulator") as reg:
        return reg.mining.CloseReconciliation(mining_pb2.CloseReconciliationRequest(
            request_id=request_id, licence_id=licence, period=period_of(start),
            at=wire.timestamp(start + timedelta(hours=2))), timeout=60).reconciliation


@pytest.fixture(scope="module", autouse=True)
def network(world: World) -> None:
    """The network difficulty the simulated shares were mined against, from before."""
    with world.client("regulator") as reg:
        reg.compliance.SetPolicy(_policy("network_difficulty", str(NETWORK)), timeout=20)


def _policy(parameter: str, value: str) -> compliance_pb2.SetPolicyRequest:
    return compliance_pb2.SetPolicyRequest(
        request_id=f"policy-{parameter}", parameter=parameter, value=value,
        effective_from=wire.timestamp(START - timedelta(days=1)),
        at=wire.timestamp(START - timedelta(days=1)))


def grant(world: World, request_id: str, holder: str, tag: bytes, meter: str,
          **fields: Any) -> str:
    with world.client("regulator") as reg:
        return reg.licensing.GrantMiningLicence(licensing_pb2.GrantMiningLicenceRequest(
            request_id=request_id, participant_id=world.ids[holder],
            site=licensing_pb2.Site(region="north", grid_zone="z1", meter_id=meter),
            licensed_power_mw="0.000000001", declared_efficiency_j_per_th="20",
            coinbase_tags=[tag], valid_from=wire.timestamp(VALID_FROM),
            valid_until=wire.timestamp(VALID_UNTIL), **fields), timeout=20).receipt.aggregate_id


def test_a_coinbase_tag_held_by_another_licence_is_refused_at_grant(world: World) -> None:
    for n, tag in enumerate((b"miner_a", b"miner_a/x", b"iner_")):
        with pytest.raises(grpc.RpcError) as caught:
            grant(world, f"grant-taken-{n}", "miner_b", tag, f"m-taken-{n}")
        assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert reason(caught.value) == "COINBASE_TAG_IN_USE"
        assert "coinbase_tags" in str(caught.value.details())
    with pytest.raises(grpc.RpcError) as short:
        grant(world, "grant-short", "miner_b", b"abc", "m-short")
    assert short.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "coinbase_tags" in str(short.value.details())


def test_shares_mined_during_a_suspension_are_not_credited(world: World) -> None:
    licence = world.ids["licence_miner_a"]
    with world.client("regulator") as reg:
        reg.licensing.SuspendLicence(licensing_pb2.SuspendLicenceRequest(
            request_id="suspend-a", licence_id=licence, reason="inspection",
            at=wire.timestamp(START + timedelta(seconds=400)),
            until=wire.timestamp(START + timedelta(seconds=800))), timeout=20)
    batch = mined(b"miner_a", 21)
    ntimes = [s["ntime"] for s in batch["shares"]]
    low = int(START.timestamp()) + 400
    inside = sum(low <= t < low + 400 for t in ntimes)
    assert 0 < inside < len(ntimes)
    with world.client("miner_a") as miner:
        response = miner.submit_proof_batch(proof_batch_payload(
            batch, "suspended-proofs", licence, START + timedelta(seconds=SECONDS + 60)))
    assert counts(response) == {"ACCEPTED": len(ntimes) - inside,
                                "LICENCE_NOT_ACTIVE": inside}
    rec = close(world, "close-suspended", licence, START)
    found = findings(rec)
    assert found["MINED_WHILE_NOT_ACTIVE"].figures["shares_not_active"] == str(inside)
    # A third of the period suspended: two thirds of the power and of the quota.
    assert Decimal(rec.figures["licensed_mw"]) == Decimal(10) * 2 / 3
    assert int(rec.figures["shares"]) == len(ntimes) - inside
    with world.client("regulator") as reg:
        alerts = reg.compliance.ListAlerts(compliance_pb2.ListAlertsRequest(
            kind="MINED_WHILE_NOT_ACTIVE"), timeout=20).alerts
    # One alert with the batch, one with the reconciliation.
    assert sorted((a.subject, a.figures["shares_not_active"]) for a in alerts) == \
        sorted([(licence, str(inside)), (rec.reconciliation_id, str(inside))])


@pytest.fixture(scope="module")
def pool_licence(world: World) -> str:
    with world.client("regulator") as reg:
        pool = reg.mining.RegisterPool(mining_pb2.RegisterPoolRequest(
            request_id="pool-alpha", name="Alpha Pool", country="KZ", payout_scheme="FPPS",
            fee="0.02", at=wire.timestamp(START - timedelta(days=1))), timeout=20)
    with world.client("miner_b") as miner:
        pools = miner.mining.ListPools(mining_pb2.ListPoolsRequest(), timeout=20).pools
    assert [(p.name, p.payout_scheme, p.fee) for p in pools] == [("Alpha Pool", "FPPS", "0.02")]
    licence = grant(world, "grant-pool-b", "miner_b", POOL_TAG, "m-pool-b",
                    mode=licensing_pb2.MINING_MODE_POOL,
                    pool_id=pool.receipt.aggregate_id)
    with world.client("regulator") as reg:
        terms = reg.licensing.GetLicence(licensing_pb2.GetLicenceRequest(
            licence_id=licence), timeout=20).licence.mining
    assert (terms.mode, terms.pool_id) == (licensing_pb2.MINING_MODE_POOL,
                                           pool.receipt.aggregate_id)
    return licence


def test_a_pool_licence_must_name_an_accredited_pool(world: World) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        grant(world, "grant-pool-none", "miner_b", b"/pool-none/", "m-pool-none",
              mode=licensing_pb2.MINING_MODE_POOL)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "pool_id" in str(caught.value.details())


@pytest.mark.parametrize(("request_id", "factor", "fires"),
                         [("hidden", "0.90", True), ("honest", "0.97", False)])
def test_a_pool_miner_hiding_output_is_caught(world: World, pool_licence: str,
                                              request_id: str, factor: str,
                                              fires: bool) -> None:
    start = START + timedelta(hours=6 if fires else 12)
    batch = mined(POOL_TAG, 31 if fires else 32, start)
    with world.client("miner_b") as miner:
        accepted = miner.submit_proof_batch(proof_batch_payload(
            batch, f"pool-proofs-{request_id}", pool_licence,
            start + timedelta(seconds=SECONDS + 60)))
        work = int(accepted.accepted_work)
        net = Decimal(work) / (NETWORK * 2**32) * Decimal("3.15") * Decimal("0.98")
        miner.report_output(mining_pb2.OutputReportPayload(
            request_id=f"pool-report-{request_id}", licence_id=pool_licence,
            period=period_of(start), asset="BTC",
            amount=str((net * Decimal(factor)).quantize(Decimal("1e-12"))),
            sold_through_exchange_amount="0",
            at=wire.timestamp(start + timedelta(seconds=SECONDS + 60))))
    rec = close(world, f"close-pool-{request_id}", pool_licence, start)
    found = findings(rec)
    assert ("OUTPUT_UNDER_REPORTED" in found) is fires
    if fires:
        finding = found["OUTPUT_UNDER_REPORTED"]
        assert Decimal(finding.p_value) < Decimal("0.025")
        assert abs(Decimal(finding.figures["expected_net_output"]) - net) < Decimal("1e-9")


def test_a_missing_report_counts_as_zero(world: World, pool_licence: str) -> None:
    start = START + timedelta(hours=18)
    with world.client("miner_b") as miner:
        miner.submit_proof_batch(proof_batch_payload(
            mined(POOL_TAG, 33, start), "pool-proofs-silent", pool_licence,
            start + timedelta(seconds=SECONDS + 60)))
    rec = close(world, "close-pool-silent", pool_licence, start)
    found = findings(rec)
    assert {"REPORT_MISSING", "OUTPUT_UNDER_REPORTED"} <= set(found)
    assert rec.figures["reported_output"] == "0"

"""MiningService: proof batches and output reports in signed envelopes, meter readings."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import grpc

from ledger import Envelope, MiningLicence, MiningPool, ProofReceipt, Receipt, Reconciliation
from services import envelope, wire
from services.auth import require_own_participant
from services.generated.valedger.v1 import common_pb2, mining_pb2, mining_pb2_grpc
from services.ledger_pool import LedgerPool
from services.licensing import receipt
from services.status import invalid_argument


class MiningServicer(mining_pb2_grpc.MiningServiceServicer):
    """Serves MiningService over the ledger."""

    def __init__(self, backend: LedgerPool) -> None:
        self.backend = backend
        self.ledger = backend.ledger

    def require_own_licence(self, licence_id: UUID) -> None:
        """Raises PERMISSION_DENIED unless the caller holds the mining licence (the ledger
        checks the envelope's signature and key when it records)."""
        licence = self.ledger.read_typed(licence_id, MiningLicence, "mining licence")
        require_own_participant(str(licence.participant_id), "mining licences")

    async def SubmitProofBatch(self, request: mining_pb2.SubmitProofBatchRequest,
                               context: Any) -> mining_pb2.SubmitProofBatchResponse:
        sealed = request.envelope
        payload = envelope.parse(sealed, mining_pb2.ProofBatchPayload)
        licence_id = wire.uuid(payload.licence_id, "licence_id")
        at = wire.time(payload, "at")
        signed = envelope.stored(sealed)
        batch: dict[str, Any] | Envelope
        if payload.packed_batch:
            # The ledger decodes the packed batch out of the signed payload itself.
            if len(payload.jobs) or len(payload.shares):
                raise invalid_argument("packed_batch",
                                       "give the batch once: packed_batch, or jobs and shares")
            batch, stored = signed, None
        else:  # the batch as messages: still accepted, converted per share
            batch, stored = batch_json(payload), signed

        def submit() -> ProofReceipt:
            self.require_own_licence(licence_id)
            return self.ledger.submit_proof_batch(
                payload.request_id, licence_id, batch, at=at, envelope=stored)

        result = await self.backend.run(submit)
        if self.backend.metrics is not None and not result.replayed:
            self.backend.metrics.count_shares(result.backend, result.counts)
        return mining_pb2.SubmitProofBatchResponse(
            receipt=common_pb2.Receipt(aggregate_id=str(result.batch_id),
                                       version=result.version, replayed=result.replayed),
            verdict_counts=[
                mining_pb2.VerdictCount(verdict="SHARE_VERDICT_" + name, count=count)
                for name, count in sorted(result.counts.items())],
            accepted_work=str(result.accepted_work),
            block_candidates=result.block_candidates, backend=result.backend,
            batch_digest=result.batch_digest)

    async def ReportOutput(self, request: mining_pb2.ReportOutputRequest,
                           context: Any) -> mining_pb2.ReportOutputResponse:
        sealed = request.envelope
        payload = envelope.parse(sealed, mining_pb2.OutputReportPayload)
        licence_id = wire.uuid(payload.licence_id, "licence_id")
        at = wire.time(payload, "at")
        start = wire.required_time(payload.period, "start_time", "period.start_time")
        end = wire.required_time(payload.period, "end_time", "period.end_time")

        def report() -> Any:
            self.require_own_licence(licence_id)
            return self.ledger.report_output(
                payload.request_id, licence_id, start, end, payload.asset, payload.amount,
                list(payload.wallets), payload.sold_through_exchange_amount, at=at,
                envelope=envelope.stored(sealed))

        return mining_pb2.ReportOutputResponse(receipt=receipt(await self.backend.run(report)))

    async def RecordMeterReading(self, request: mining_pb2.RecordMeterReadingRequest,
                                 context: Any) -> mining_pb2.RecordMeterReadingResponse:
        start = wire.required_time(request.period, "start_time", "period.start_time")
        end = wire.required_time(request.period, "end_time", "period.end_time")
        result = await self.backend.run(
            self.ledger.record_meter_reading, request.request_id, request.meter_id, start, end,
            request.kwh, at=wire.time(request, "at"))
        return mining_pb2.RecordMeterReadingResponse(receipt=receipt(result))

    async def CloseReconciliation(self, request: mining_pb2.CloseReconciliationRequest,
                                  context: Any) -> mining_pb2.CloseReconciliationResponse:
        licence_id = wire.uuid(request.licence_id, "licence_id")
        start = wire.required_time(request.period, "start_time", "period.start_time")
        end = wire.required_time(request.period, "end_time", "period.end_time")

        def close() -> tuple[Receipt, Reconciliation]:
            closed = self.ledger.close_reconciliation(
                request.request_id, licence_id, start, end, at=wire.time(request, "at"))
            return closed, self.ledger.get_reconciliation(closed.aggregate_id)

        closed, reconciliation = await self.backend.run(close)
        return mining_pb2.CloseReconciliationResponse(
            receipt=receipt(closed), reconciliation=reconciliation_message(reconciliation))

    async def GetReconciliation(self, request: mining_pb2.GetReconciliationRequest,
                                context: Any) -> mining_pb2.GetReconciliationResponse:
        licence_id = wire.uuid(request.licence_id, "licence_id")
        start = wire.required_time(request.period, "start_time", "period.start_time")
        end = wire.required_time(request.period, "end_time", "period.end_time")

        def find() -> Reconciliation:
            licence = self.ledger.get_mining_licence(licence_id)
            require_own_participant(str(licence.participant_id), "mining licences")
            return self.ledger.find_reconciliation(licence_id, start, end)

        found = await self.backend.run(find)
        return mining_pb2.GetReconciliationResponse(
            reconciliation=reconciliation_message(found))

    async def RegisterPool(self, request: mining_pb2.RegisterPoolRequest,
                           context: Any) -> mining_pb2.RegisterPoolResponse:
        result = await self.backend.run(
            self.ledger.register_pool, request.request_id, request.name, request.country,
            request.payout_scheme, request.fee, at=wire.time(request, "at"))
        return mining_pb2.RegisterPoolResponse(receipt=receipt(result))

    async def ListPools(self, request: mining_pb2.ListPoolsRequest,
                        context: Any) -> mining_pb2.ListPoolsResponse:
        pools = await self.backend.run(self.ledger.list_pools)
        return mining_pb2.ListPoolsResponse(pools=[pool_message(p) for p in pools])


def batch_json(payload: mining_pb2.ProofBatchPayload) -> dict[str, Any]:
    """Returns the proof batch of a payload in the JSON form of DESIGN.md §4."""
    return {
        "jobs": [{
            "job_id": j.job_id, "version": j.version, "prevhash": j.prevhash.hex(),
            "coinb1": j.coinb1.hex(), "coinb2": j.coinb2.hex(),
            "extranonce1": j.extranonce1.hex(), "extranonce2_size": j.extranonce2_size,
            "merkle_branch": [b.hex() for b in j.merkle_branch], "nbits": j.nbits,
            "ntime": j.ntime, "version_mask": j.version_mask,
            "share_difficulty": j.share_difficulty,
        } for j in payload.jobs],
        "shares": [{
            "job_id": s.job_id, "extranonce2": s.extranonce2.hex(), "ntime": s.ntime,
            "nonce": s.nonce, "version_bits": s.version_bits,
        } for s in payload.shares],
    }


def pool_message(pool: MiningPool) -> mining_pb2.MiningPool:
    """Returns the wire form of an accredited pool."""
    return mining_pb2.MiningPool(pool_id=str(pool.id), name=pool.name, country=pool.country,
                                 payout_scheme=pool.payout_scheme, fee=str(pool.fee),
                                 version=pool.version)


def reconciliation_message(rec: Reconciliation) -> mining_pb2.Reconciliation:
    """Returns the wire form of a closed reconciliation, one finding per failing verdict."""
    findings = []
    for check in rec.checks:
        if not check["triggered"]:
            continue
        figures = dict(check["figures"])
        if check.get("p_value") is not None:
            figures["p_value"] = check["p_value"]
        if check.get("detail"):
            figures["detail"] = check["detail"]
        findings.append(mining_pb2.VerdictFinding(
            verdict="RECONCILIATION_VERDICT_" + check["verdict"], figures=figures,
            p_value=check.get("p_value") or ""))
    if not findings:
        findings.append(mining_pb2.VerdictFinding(
            verdict=mining_pb2.RECONCILIATION_VERDICT_OK))
    return mining_pb2.Reconciliation(
        reconciliation_id=str(rec.id), licence_id=str(rec.licence_id),
        period=common_pb2.Period(start_time=wire.timestamp(rec.period_start),
                                 end_time=wire.timestamp(rec.period_end)),
        figures=rec.figures, findings=findings, version=rec.version)


def add_to_server(backend: LedgerPool, server: grpc.aio.Server) -> None:
    """Registers the servicer on ``server``."""
    mining_pb2_grpc.add_MiningServiceServicer_to_server(MiningServicer(backend), server)

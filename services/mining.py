"""MiningService: proof batches and output reports in signed envelopes, meter readings."""

from __future__ import annotations

from typing import Any

import grpc

from ledger.domain.base import now
from services import envelope, wire
from services.auth import require_own_participant
from services.backend import Backend
from services.generated.valedger.v1 import mining_pb2, mining_pb2_grpc
from services.licensing import receipt
from services.status import ServiceError

_NOT_YET = ("the ledger does not offer {} yet (the verifier integration adds it); "
            "nothing was recorded")


class MiningServicer(mining_pb2_grpc.MiningServiceServicer):
    """Serves MiningService over the ledger."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.ledger = backend.ledger

    async def SubmitProofBatch(self, request: mining_pb2.SubmitProofBatchRequest,
                               context: Any) -> mining_pb2.SubmitProofBatchResponse:
        envelope.parse(request.envelope, mining_pb2.ProofBatchPayload)
        raise ServiceError(grpc.StatusCode.UNIMPLEMENTED, _NOT_YET.format("proof batches"))

    async def ReportOutput(self, request: mining_pb2.ReportOutputRequest,
                           context: Any) -> mining_pb2.ReportOutputResponse:
        sealed = request.envelope
        payload = envelope.parse(sealed, mining_pb2.OutputReportPayload)
        licence_id = wire.uuid(payload.licence_id, "licence_id")
        at = wire.time(payload, "at") or now()
        start = wire.required_time(payload.period, "start_time", "period.start_time")
        end = wire.required_time(payload.period, "end_time", "period.end_time")
        amount = wire.decimal(payload.amount, "amount")
        sold = wire.decimal(payload.sold_through_exchange_amount,
                            "sold_through_exchange_amount")

        def report() -> Any:
            licence = self.ledger.get_mining_licence(licence_id)
            require_own_participant(str(licence.participant_id), "mining licences")
            participant = self.ledger.get_participant(licence.participant_id)
            envelope.verify(sealed, participant.keys.get(sealed.key_id), at,
                            str(licence.participant_id))
            return self.ledger.report_output(
                payload.request_id, licence_id, start, end, payload.asset, amount,
                list(payload.wallets), sold, at=at)

        return mining_pb2.ReportOutputResponse(receipt=receipt(await self.backend.run(report)))

    async def RecordMeterReading(self, request: mining_pb2.RecordMeterReadingRequest,
                                 context: Any) -> mining_pb2.RecordMeterReadingResponse:
        start = wire.required_time(request.period, "start_time", "period.start_time")
        end = wire.required_time(request.period, "end_time", "period.end_time")
        result = await self.backend.run(
            self.ledger.record_meter_reading, request.request_id, request.meter_id, start, end,
            wire.decimal(request.kwh, "kwh"), at=wire.time(request, "at"))
        return mining_pb2.RecordMeterReadingResponse(receipt=receipt(result))

    async def CloseReconciliation(self, request: mining_pb2.CloseReconciliationRequest,
                                  context: Any) -> mining_pb2.CloseReconciliationResponse:
        wire.uuid(request.licence_id, "licence_id")
        raise ServiceError(grpc.StatusCode.UNIMPLEMENTED, _NOT_YET.format("reconciliations"))

    async def GetReconciliation(self, request: mining_pb2.GetReconciliationRequest,
                                context: Any) -> mining_pb2.GetReconciliationResponse:
        licence_id = wire.uuid(request.licence_id, "licence_id")
        licence = await self.backend.run(self.ledger.get_mining_licence, licence_id)
        require_own_participant(str(licence.participant_id), "mining licences")
        raise ServiceError(grpc.StatusCode.UNIMPLEMENTED, _NOT_YET.format("reconciliations"))


def add_to_server(backend: Backend, server: grpc.aio.Server) -> None:
    """Registers the servicer on ``server``."""
    mining_pb2_grpc.add_MiningServiceServicer_to_server(MiningServicer(backend), server)

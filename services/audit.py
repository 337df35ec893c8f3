"""AuditService: checkpoints, RFC 9162 proofs and the export stream, from ledger.audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from services.backend import Backend
from services.generated.valedger.v1 import audit_pb2, audit_pb2_grpc
from services.status import ServiceError

_NOT_YET = "the audit log is not wired into this server yet; nothing was read"


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    """Serves AuditService from the audit log."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def GetCheckpoint(self, request: audit_pb2.GetCheckpointRequest,
                            context: Any) -> audit_pb2.GetCheckpointResponse:
        raise ServiceError(grpc.StatusCode.UNIMPLEMENTED, _NOT_YET)

    async def GetInclusionProof(self, request: audit_pb2.GetInclusionProofRequest,
                                context: Any) -> audit_pb2.GetInclusionProofResponse:
        raise ServiceError(grpc.StatusCode.UNIMPLEMENTED, _NOT_YET)

    async def GetConsistencyProof(self, request: audit_pb2.GetConsistencyProofRequest,
                                  context: Any) -> audit_pb2.GetConsistencyProofResponse:
        raise ServiceError(grpc.StatusCode.UNIMPLEMENTED, _NOT_YET)

    async def ExportLog(self, request: audit_pb2.ExportLogRequest,
                        context: Any) -> AsyncIterator[audit_pb2.ExportLogResponse]:
        raise ServiceError(grpc.StatusCode.UNIMPLEMENTED, _NOT_YET)
        yield audit_pb2.ExportLogResponse()  # pragma: no cover (makes this a generator)


def add_to_server(backend: Backend, server: grpc.aio.Server) -> None:
    """Registers the servicer on ``server``."""
    audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditServicer(backend), server)

"""AuditService: checkpoints, RFC 9162 proofs and the export stream, from ledger.audit."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import grpc

from ledger import AuditLog, NotFound, StoredCheckpoint, database_stream, write_export
from services.generated.valedger.v1 import audit_pb2, audit_pb2_grpc
from services.ledger_pool import LedgerPool
from services.status import ServiceError, invalid_argument

CHUNK_BYTES = 256 * 1024


def checkpoint_message(stored: StoredCheckpoint, origin: str) -> audit_pb2.Checkpoint:
    """Returns the wire form of a signed checkpoint."""
    return audit_pb2.Checkpoint(origin=origin or stored.note.split("\n", 1)[0],
                                tree_size=stored.size, root_hash=stored.root_hash,
                                signed_note=stored.cosigned_note)


class _ChunkWriter:
    """A file-like sink that hands fixed-size chunks to an asyncio queue (with
    back-pressure: the writing thread waits while the queue is full)."""

    def __init__(self, queue: asyncio.Queue[bytes | BaseException | None],
                 loop: asyncio.AbstractEventLoop, cancelled: threading.Event) -> None:
        self.queue, self.loop, self.cancelled = queue, loop, cancelled
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        while len(self.buffer) >= CHUNK_BYTES:
            self._put(bytes(self.buffer[:CHUNK_BYTES]))
            del self.buffer[:CHUNK_BYTES]
        return len(data)

    def flush(self) -> None:
        if self.buffer:
            self._put(bytes(self.buffer))
            self.buffer.clear()

    def _put(self, item: bytes | BaseException | None) -> None:
        if self.cancelled.is_set():
            raise ConnectionAbortedError("export stream cancelled")
        asyncio.run_coroutine_threadsafe(self.queue.put(item), self.loop).result()


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    """Serves AuditService from the audit log."""

    def __init__(self, backend: LedgerPool) -> None:
        self.backend = backend

    def _audit(self) -> AuditLog:
        if self.backend.audit is None:
            raise ServiceError(grpc.StatusCode.UNAVAILABLE, "this server keeps no audit log")
        return self.backend.audit

    async def GetCheckpoint(self, request: audit_pb2.GetCheckpointRequest,
                            context: Any) -> audit_pb2.GetCheckpointResponse:
        audit = self._audit()
        if request.tree_size < 0:
            raise invalid_argument("tree_size", "must not be negative")

        def find() -> StoredCheckpoint:
            if request.tree_size == 0:
                latest = audit.latest_checkpoint()
                if latest is None:
                    raise NotFound("checkpoint", "latest (none signed yet)")
                return latest
            for stored in audit.checkpoints():
                if stored.size == request.tree_size:
                    return stored
            raise NotFound("checkpoint of size", request.tree_size)

        stored = await self.backend.run(find)
        return audit_pb2.GetCheckpointResponse(checkpoint=checkpoint_message(stored,
                                                                             audit.origin))

    async def GetInclusionProof(self, request: audit_pb2.GetInclusionProofRequest,
                                context: Any) -> audit_pb2.GetInclusionProofResponse:
        audit = self._audit()
        if request.leaf_index < 0 or request.tree_size < 0:
            raise invalid_argument("leaf_index", "indexes and sizes are not negative")
        proof = await self.backend.run(audit.inclusion_proof, request.leaf_index,
                                       request.tree_size or None)
        return audit_pb2.GetInclusionProofResponse(
            leaf_index=proof.leaf_index, tree_size=proof.tree_size, leaf_hash=proof.leaf_hash,
            hashes=list(proof.hashes))

    async def GetConsistencyProof(self, request: audit_pb2.GetConsistencyProofRequest,
                                  context: Any) -> audit_pb2.GetConsistencyProofResponse:
        audit = self._audit()
        if request.first_tree_size < 0 or request.second_tree_size < 0:
            raise invalid_argument("first_tree_size", "sizes are not negative")
        proof = await self.backend.run(audit.consistency_proof, request.first_tree_size,
                                       request.second_tree_size or None)
        return audit_pb2.GetConsistencyProofResponse(
            first_tree_size=proof.old_size, second_tree_size=proof.new_size,
            hashes=list(proof.hashes))

    async def ExportLog(self, request: audit_pb2.ExportLogRequest,
                        context: Any) -> AsyncIterator[audit_pb2.ExportLogResponse]:
        audit = self._audit()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(maxsize=8)
        cancelled = threading.Event()
        writer = _ChunkWriter(queue, loop, cancelled)

        def produce() -> None:
            try:
                write_export(database_stream(audit.store, audit.origin), writer)  # type: ignore[arg-type]
                writer.flush()
                writer._put(None)
            except ConnectionAbortedError:
                return
            except BaseException as exc:
                asyncio.run_coroutine_threadsafe(queue.put(exc), loop).result()

        thread = threading.Thread(target=produce, name="audit-export", daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield audit_pb2.ExportLogResponse(chunk=item)
        finally:
            cancelled.set()
            while not queue.empty():
                queue.get_nowait()


def add_to_server(backend: LedgerPool, server: grpc.aio.Server) -> None:
    """Registers the servicer on ``server``."""
    audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditServicer(backend), server)

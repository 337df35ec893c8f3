"""A small typed client of the valedger gRPC API: mTLS channel, signed envelopes, paging.

    client = LedgerClient.connect("localhost:50051", TlsFiles(ca, cert, key), signer)
    client.licensing.GetLicence(licensing_pb2.GetLicenceRequest(licence_id=...))
    client.record_trade(trading_pb2.TradePayload(...))      # sealed with ``signer``
    for event in client.list_events(participant_id=...):    # follows page tokens
        ...

The raw stubs (``licensing``, ``mining``, ``trading``, ``history``, ``audit``,
``compliance``, ``health``) are public; the helpers cover what needs more than one call
or a signature.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ledger import pack_proof_batch
from services import wire
from services.auth import (
    INSECURE_NAME_HEADER,
    INSECURE_PARTICIPANT_HEADER,
    INSECURE_ROLE_HEADER,
)
from services.envelope import Signer
from services.generated.valedger.v1 import (
    audit_pb2_grpc,
    common_pb2,
    compliance_pb2_grpc,
    history_pb2,
    history_pb2_grpc,
    licensing_pb2,
    licensing_pb2_grpc,
    mining_pb2,
    mining_pb2_grpc,
    trading_pb2,
    trading_pb2_grpc,
)
from services.tls import TlsFiles, channel_credentials

DEFAULT_TIMEOUT = 30.0
TRADES_PER_MESSAGE = 100
"""Trades a client puts in one RecordTrades message: fewer, larger messages cost both
ends less per trade, and 100 envelopes stay far below the message size limit."""


def trade_messages(envelopes: Iterable[common_pb2.SignedEnvelope], per_message: int
                   ) -> Iterator[trading_pb2.RecordTradesRequest]:
    """Yields RecordTrades messages carrying ``per_message`` envelopes each (the last one
    fewer; one envelope a message in the single-trade form when ``per_message`` is 1)."""
    if per_message < 1:
        raise ValueError(f"per_message must be at least 1, got {per_message}")
    if per_message == 1:
        yield from (trading_pb2.RecordTradesRequest(envelope=e) for e in envelopes)
        return
    chunk: list[common_pb2.SignedEnvelope] = []
    for sealed in envelopes:
        chunk.append(sealed)
        if len(chunk) == per_message:
            yield trading_pb2.RecordTradesRequest(envelopes=chunk)
            chunk = []
    if chunk:
        yield trading_pb2.RecordTradesRequest(envelopes=chunk)


def proof_batch_payload(batch: Mapping[str, Any], request_id: str, licence_id: str,
                        at: datetime | None = None, packed: bool = True
                        ) -> mining_pb2.ProofBatchPayload:
    """Returns the payload of a proof batch given in the JSON form of DESIGN.md §4: packed
    (``packed_batch``, docs/PACKED-BATCH.md) by default, as StratumJob/StratumShare
    messages with ``packed=False`` (still accepted, but the server then converts it share
    by share). Raises InvalidRequest naming the field when the batch is malformed."""
    if packed:
        return mining_pb2.ProofBatchPayload(request_id=request_id, at=wire.timestamp(at),
                                            licence_id=licence_id,
                                            packed_batch=pack_proof_batch(batch))
    jobs = [mining_pb2.StratumJob(
        job_id=job["job_id"], version=job["version"], prevhash=bytes.fromhex(job["prevhash"]),
        coinb1=bytes.fromhex(job["coinb1"]), coinb2=bytes.fromhex(job["coinb2"]),
        extranonce1=bytes.fromhex(job["extranonce1"]),
        extranonce2_size=job["extranonce2_size"],
        merkle_branch=[bytes.fromhex(b) for b in job["merkle_branch"]], nbits=job["nbits"],
        ntime=job["ntime"], version_mask=job["version_mask"],
        share_difficulty=str(job["share_difficulty"])) for job in batch["jobs"]]
    shares = [mining_pb2.StratumShare(
        job_id=share["job_id"], extranonce2=bytes.fromhex(share["extranonce2"]),
        ntime=share["ntime"], nonce=share["nonce"], version_bits=share.get("version_bits", 0))
        for share in batch["shares"]]
    return mining_pb2.ProofBatchPayload(request_id=request_id, at=wire.timestamp(at),
                                        licence_id=licence_id, jobs=jobs, shares=shares)


DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


@dataclass
class LedgerClient:
    """Stubs of every valedger.v1 service on one channel, plus helpers."""

    channel: grpc.Channel
    signer: Signer | None = None
    timeout: float = DEFAULT_TIMEOUT
    metadata: tuple[tuple[str, str], ...] = ()

    @classmethod
    def connect(cls, target: str, tls: TlsFiles | None, signer: Signer | None = None,
                timeout: float = DEFAULT_TIMEOUT,
                max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
                server_name: str | None = None,
                insecure_identity: tuple[str, str] | None = None) -> LedgerClient:
        """Returns a client of the server at ``target`` (``host:port``).

        With ``tls`` the channel is mTLS (our certificate, our CA only); without, it is
        plaintext and ``insecure_identity`` = (role, participant) is sent as metadata for a
        server started with ``--insecure``.
        """
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.keepalive_time_ms", 30_000),
        ]
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
        metadata: tuple[tuple[str, str], ...] = ()
        if tls is not None:
            channel = grpc.secure_channel(target, channel_credentials(tls), options=options)
        else:
            channel = grpc.insecure_channel(target, options=options)
            if insecure_identity is not None:
                role, participant = insecure_identity
                metadata = ((INSECURE_ROLE_HEADER, role),
                            (INSECURE_PARTICIPANT_HEADER, participant),
                            (INSECURE_NAME_HEADER, participant))
        return cls(channel, signer, timeout, metadata)

    def __post_init__(self) -> None:
        self.licensing = licensing_pb2_grpc.LicensingServiceStub(self.channel)
        self.mining = mining_pb2_grpc.MiningServiceStub(self.channel)
        self.trading = trading_pb2_grpc.TradingServiceStub(self.channel)
        self.history = history_pb2_grpc.HistoryServiceStub(self.channel)
        self.audit = audit_pb2_grpc.AuditServiceStub(self.channel)
        self.compliance = compliance_pb2_grpc.ComplianceServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def close(self) -> None:
        """Closes the channel."""
        self.channel.close()

    def __enter__(self) -> LedgerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call_options(self, timeout: float | None = None) -> dict[str, Any]:
        """Returns the keyword arguments every call carries (deadline, metadata)."""
        options: dict[str, Any] = {"timeout": self.timeout if timeout is None else timeout}
        if self.metadata:
            options["metadata"] = self.metadata
        return options

    # ------------------------------------------------------------------------ signing

    def seal(self, payload: Message) -> common_pb2.SignedEnvelope:
        """Returns ``payload`` signed with the client's key."""
        if self.signer is None:
            raise ValueError("this client has no signing key")
        return self.signer.seal(payload)

    def register_signing_key(self, participant_id: str, request_id: str,
                             at: datetime | None = None) -> licensing_pb2.RegisterKeyResponse:
        """Registers the client's public key for ``participant_id`` (valid from ``at``)."""
        if self.signer is None:
            raise ValueError("this client has no signing key")
        return self.licensing.RegisterKey(licensing_pb2.RegisterKeyRequest(
            request_id=request_id, participant_id=participant_id,
            key_id=self.signer.key_id, public_key=self.signer.public_key,
            at=wire.timestamp(at)), **self.call_options())

    # ------------------------------------------------------------------- signed writes

    def record_trade(self, payload: trading_pb2.TradePayload) -> trading_pb2.TradeResult:
        """Records one trade; a blocked trade raises grpc.RpcError (FAILED_PRECONDITION)."""
        response = self.trading.RecordTrade(
            trading_pb2.RecordTradeRequest(envelope=self.seal(payload)), **self.call_options())
        return response.result

    def record_trades(self, payloads: Iterable[trading_pb2.TradePayload],
                      timeout: float | None = None,
                      per_message: int = TRADES_PER_MESSAGE) -> trading_pb2.RecordTradesResponse:
        """Streams trades (signed one by one) and returns the per-trade results."""
        return self.record_sealed_trades((self.seal(p) for p in payloads), timeout,
                                         per_message)

    def record_sealed_trades(self, envelopes: Iterable[common_pb2.SignedEnvelope],
                             timeout: float | None = None,
                             per_message: int = TRADES_PER_MESSAGE
                             ) -> trading_pb2.RecordTradesResponse:
        """Streams trades already sealed, ``per_message`` to a stream message, and returns
        the per-trade results."""
        return self.trading.RecordTrades(trade_messages(envelopes, per_message),
                                         **self.call_options(timeout))

    def report_output(self, payload: mining_pb2.OutputReportPayload
                      ) -> mining_pb2.ReportOutputResponse:
        """Signs and records an output report."""
        return self.mining.ReportOutput(
            mining_pb2.ReportOutputRequest(envelope=self.seal(payload)), **self.call_options())

    def submit_proof_batch(self, payload: mining_pb2.ProofBatchPayload
                           ) -> mining_pb2.SubmitProofBatchResponse:
        """Signs and submits a proof batch."""
        return self.mining.SubmitProofBatch(
            mining_pb2.SubmitProofBatchRequest(envelope=self.seal(payload)),
            **self.call_options())

    # -------------------------------------------------------------------------- reads

    def list_events(self, page_size: int = 100, **filters: Any) -> Iterator[history_pb2.Event]:
        """Yields every event matching ``filters`` (ListEventsRequest fields), page by page."""
        token = ""
        while True:
            page = self.history.ListEvents(history_pb2.ListEventsRequest(
                page_size=page_size, page_token=token, **filters), **self.call_options())
            yield from page.events
            token = page.next_page_token
            if not token:
                return

    def list_licences(self, page_size: int = 100, **filters: Any
                      ) -> Iterator[licensing_pb2.Licence]:
        """Yields every licence matching ``filters`` (ListLicencesRequest fields)."""
        token = ""
        while True:
            page = self.licensing.ListLicences(licensing_pb2.ListLicencesRequest(
                page_size=page_size, page_token=token, **filters), **self.call_options())
            yield from page.licences
            token = page.next_page_token
            if not token:
                return

    def stream_events(self, after_position: int = 0, timeout: float | None = None
                      ) -> Iterator[history_pb2.Event]:
        """Yields events after ``after_position``, then live ones, until the deadline."""
        options = self.call_options(timeout)
        for message in self.history.StreamEvents(
                history_pb2.StreamEventsRequest(after_position=after_position), **options):
            yield message.event

    def check_health(self, service: str = "") -> int:
        """Returns the health status of ``service`` (HealthCheckResponse.ServingStatus)."""
        response = self.health.Check(health_pb2.HealthCheckRequest(service=service),
                                     **self.call_options())
        return int(response.status)

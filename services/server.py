"""The valedger gRPC server: every service over one ledger, mTLS, health and reflection.

``LedgerServer`` owns a grpc.aio server: authorisation interceptor (and the metrics one
when given), the six valedger.v1 services, ``grpc.health.v1.Health`` and server
reflection (``grpc.reflection.v1`` and ``v1alpha``), message size limits and keepalive
policy. ``stop()`` is graceful: health turns NOT_SERVING, new calls are refused, calls in
flight get ``grace`` seconds, ledger writes already running on the pool complete, then
the store is closed. :func:`serve` runs one until SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2

from ledger import (
    DEFAULT_CALENDAR_INTERVAL_SECONDS,
    HOME_COUNTRY,
    AuditLog,
    CheckpointPolicy,
    Follower,
    FollowerPlace,
    FollowerProcess,
    FollowerSettings,
    Ledger,
    RuleViolation,
    StoreConfig,
    WitnessPolicy,
)
from services import audit, compliance, history, licensing, mining, trading
from services.auth import AuthInterceptor
from services.generated.valedger.v1 import (
    audit_pb2,
    compliance_pb2,
    history_pb2,
    licensing_pb2,
    mining_pb2,
    trading_pb2,
)
from services.ledger_pool import DEFAULT_TRADE_BATCH, DEFAULT_WORKERS, LedgerPool
from services.metrics import ServerMetrics
from services.revocation import RevocationList
from services.tls import TlsFiles, server_credentials
from tlog.note import NoteSigner

log = logging.getLogger(__name__)

SERVICE_NAMES = tuple(
    module.DESCRIPTOR.services_by_name[name].full_name
    for module, name in (
        (licensing_pb2, "LicensingService"), (mining_pb2, "MiningService"),
        (trading_pb2, "TradingService"), (history_pb2, "HistoryService"),
        (audit_pb2, "AuditService"), (compliance_pb2, "ComplianceService"),
    )
)
"""Full names of the valedger.v1 services."""

REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"
INSECURE_WARNING = ("WARNING: serving WITHOUT TLS (--insecure). Callers are not "
                    "authenticated; their role is taken from request metadata. "
                    "Use this for local development only.")


@dataclass(frozen=True)
class ServerOptions:
    """How the server listens and behaves."""

    listen: str = "127.0.0.1:50051"
    tls: TlsFiles | None = None
    insecure: bool = False
    max_message_bytes: int = 16 * 1024 * 1024
    grace_seconds: float = 10.0
    workers: int = DEFAULT_WORKERS
    trade_batch_size: int = DEFAULT_TRADE_BATCH
    signature_workers: int = 0
    """Processes that check the signatures of streamed trades (0: in the server)."""
    keepalive_time_ms: int = 60_000
    keepalive_timeout_ms: int = 20_000
    min_client_ping_interval_ms: int = 10_000
    interceptors: Sequence[grpc.aio.ServerInterceptor] = field(default_factory=tuple)
    audit_signer: NoteSigner | None = None
    audit_origin: str = ""
    audit_policy: CheckpointPolicy = field(default_factory=CheckpointPolicy)
    audit_witnesses: WitnessPolicy | None = None
    metrics: ServerMetrics | None = None
    revocations: RevocationList | None = None
    """Client certificates refused per call (the CA's CRL, reloaded when it changes)."""
    calendar_interval_seconds: float = DEFAULT_CALENDAR_INTERVAL_SECONDS
    """How often the supervisory calendar looks for due work (0: not run here)."""
    reuse_port: bool = False
    """Share the port with the other workers of ``serve --processes N`` (SO_REUSEPORT)."""
    audit_follower: FollowerPlace = "thread"
    """Where the audit log is followed: "process" (a child process of its own, so the
    calls keep the GIL; `valedger serve`'s choice for a store on disk), "thread" (beside
    the calls), or "none" (another process of the same store follows it)."""
    follower_logging: Callable[[], None] | None = None
    """Sets up logging in the follower's process (a picklable function)."""

    def grpc_options(self) -> list[tuple[str, Any]]:
        """Returns the channel arguments of the server."""
        return [
            ("grpc.max_receive_message_length", self.max_message_bytes),
            ("grpc.max_send_message_length", self.max_message_bytes),
            ("grpc.keepalive_time_ms", self.keepalive_time_ms),
            ("grpc.keepalive_timeout_ms", self.keepalive_timeout_ms),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms",
             self.min_client_ping_interval_ms),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.so_reuseport", 1 if self.reuse_port else 0),
        ]


class LedgerServer:
    """A running (or ready to run) valedger gRPC server over one backend."""

    def __init__(self, backend: LedgerPool, options: ServerOptions) -> None:
        if options.tls is None and not options.insecure:
            raise ValueError("TLS files are required unless insecure is set")
        self.backend = backend
        self.options = options
        self.health = health.aio.HealthServicer()  # type: ignore[attr-defined]
        self.server = grpc.aio.server(
            interceptors=[*options.interceptors, AuthInterceptor(
                insecure=options.insecure,
                revoked=options.revocations.check if options.revocations else None)],
            options=options.grpc_options())
        for module in (licensing, mining, trading, history, audit, compliance):
            module.add_to_server(backend, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        register_reflection_v1_descriptor()
        names = (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                 reflection.SERVICE_NAME, REFLECTION_V1)
        servicer = reflection.aio.ReflectionServicer(names)  # type: ignore[attr-defined]
        reflection.enable_server_reflection(names, self.server)
        self.server.add_generic_rpc_handlers([_reflection_v1(servicer)])
        self.port = 0

    async def start(self) -> int:
        """Binds and starts serving; returns the bound port."""
        try:
            if self.options.tls is not None and not self.options.insecure:
                self.port = self.server.add_secure_port(self.options.listen,
                                                        server_credentials(self.options.tls))
            else:
                self.port = self.server.add_insecure_port(self.options.listen)
        except RuntimeError:  # grpc's "Failed to bind"
            self.port = 0
        if self.port == 0:
            raise OSError(f"cannot listen on {self.options.listen}")
        await self.server.start()
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        return self.port

    async def stop(self, grace: float | None = None) -> None:
        """Stops gracefully: refuses new calls, lets calls in flight finish within
        ``grace`` seconds, waits for ledger writes on the pool, closes the store."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(self.options.grace_seconds if grace is None else grace)
        await asyncio.get_running_loop().run_in_executor(None, self.backend.close)

    async def wait(self) -> None:
        """Returns when the server has stopped."""
        await self.server.wait_for_termination()


def _reflection_v1(servicer: Any) -> grpc.GenericRpcHandler:
    """Returns grpc.reflection.v1 served by the v1alpha servicer.

    v1 and v1alpha messages are identical on the wire (only the package differs), and
    some clients (buf curl, grpcurl) ask for v1 first.
    """
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString)
    return grpc.method_handlers_generic_handler(REFLECTION_V1,
                                                {"ServerReflectionInfo": handler})


def register_reflection_v1_descriptor() -> None:
    """Adds grpc.reflection.v1's file to the default descriptor pool (once), so that
    reflection can describe the v1 service it lists: v1alpha's file under v1's names."""
    pool = descriptor_pool.Default()
    try:
        pool.FindServiceByName(REFLECTION_V1)
        return
    except KeyError:
        pass
    old, new = "grpc.reflection.v1alpha", "grpc.reflection.v1"
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name = "grpc/reflection/v1/reflection.proto"
    proto.package = new
    proto.options.Clear()
    for message in proto.message_type:
        for message_field in message.field:
            if message_field.type_name:
                message_field.type_name = message_field.type_name.replace(f".{old}.",
                                                                          f".{new}.")
    for service in proto.service:
        for method in service.method:
            method.input_type = method.input_type.replace(f".{old}.", f".{new}.")
            method.output_type = method.output_type.replace(f".{old}.", f".{new}.")
    pool.AddSerializedFile(proto.SerializeToString())


def open_backend(store: StoreConfig, options: ServerOptions) -> LedgerPool:
    """Returns a backend over the store: history index caught up, audit log followed
    (checkpoints signed when ``options.audit_signer`` is set)."""
    ledger = Ledger(store)
    audit = AuditLog(ledger.recorder, signer=options.audit_signer,
                     origin=options.audit_origin or None, policy=options.audit_policy,
                     witnesses=options.audit_witnesses, create_tables=store.create_tables)
    follower: Follower | None = audit.follower
    if options.audit_follower == "none":
        follower = None
    elif options.audit_follower == "process" and not store.is_in_memory:
        follower = FollowerProcess(FollowerSettings(
            store, options.audit_signer.to_skey() if options.audit_signer else None,
            options.audit_origin or None, options.audit_policy, options.audit_witnesses,
            set_up_logging=options.follower_logging))
    backend = LedgerPool.open(ledger, workers=options.workers,
                              trade_batch_size=options.trade_batch_size, audit=audit,
                              signature_workers=options.signature_workers, follower=follower)
    return backend


def start_calendar(backend: LedgerPool, options: ServerOptions) -> None:
    """Starts the supervisory calendar of the backend's ledger in the background, unless
    ``options.calendar_interval_seconds`` is 0 (one server process per store leads)."""
    if options.calendar_interval_seconds > 0:
        backend.ledger.calendar.start(options.calendar_interval_seconds)


YOUNG_COLLECTION = 20_000
"""Container allocations between two collections of the youngest generation (see
``settle_heap``)."""


def settle_heap() -> None:
    """Moves every object alive once the server is up (modules, protobuf descriptors,
    the ledger's tables and caches as loaded) out of the garbage collector's reach.

    They live as long as the server, but a full collection walks them all: about 130,000
    objects, tens of milliseconds on the 2-core VM, and a stream of trades triggers one
    every few batches (each batch promotes thousands of short-lived objects). Frozen,
    a full collection walks only what was allocated since. Reference counting still
    frees frozen objects that are dropped later; only cycles among them would stay.

    The youngest generation is also collected less often (every ``YOUNG_COLLECTION``
    container allocations instead of Python's 700): a batch of 500 trades keeps about
    15,000 alive until it commits, and every young collection scanned them and moved them
    on to older generations, only for them to die a moment later. One young collection
    of that size holds the GIL for about 8 ms on the 2-core VM, once every 600-odd
    streamed trades; a full collection of the unfrozen heap took 66-77 ms."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION, 20, 10)


UNSIGNED_WARNING = (
    "no checkpoint signing key ([audit] signing_key_file, VALEDGER_AUDIT_SIGNING_KEY_FILE): "
    "the audit log is kept but no checkpoint is signed, so auditors cannot verify it; "
    "make one with `valedger audit keygen`")


NO_HOME_COUNTRY_WARNING = (
    "no home country is set: every trade is refused (HOME_COUNTRY_NOT_SET) until "
    "`valedger db init --home-country CC` or SetPolicy home_country")


def has_home_country(ledger: Ledger) -> bool:
    """Returns whether the store's policy names the ledger's home country."""
    try:
        return bool(ledger.get_policy(HOME_COUNTRY))
    except RuleViolation:
        return False


async def serve(store: StoreConfig, options: ServerOptions,
                ready: asyncio.Event | None = None,
                on_ready: Callable[[], None] | None = None) -> None:
    """Serves until SIGTERM or SIGINT, then shuts down gracefully; ``ready`` is set and
    ``on_ready`` called once it serves."""
    backend = await asyncio.get_running_loop().run_in_executor(
        None, open_backend, store, options)
    if options.insecure:
        log.warning(INSECURE_WARNING)
    if options.audit_follower != "none":  # once per store, not once per worker
        if options.audit_signer is None:
            log.warning(UNSIGNED_WARNING)
        if not has_home_country(backend.ledger):
            log.warning(NO_HOME_COUNTRY_WARNING)
    if options.metrics is not None:
        options.metrics.attach(backend)
    start_calendar(backend, options)
    server = LedgerServer(backend, options)
    port = await server.start()
    settle_heap()
    log.info("serving", extra={"listen": options.listen, "port": port,
                               "tls": not options.insecure})
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    if options.revocations is not None:
        loop.add_signal_handler(signal.SIGHUP, options.revocations.reload)
    if ready is not None:
        ready.set()
    if on_ready is not None:
        on_ready()
    await stopping.wait()
    backend.expect_stop()
    log.info("shutting down", extra={"grace_seconds": options.grace_seconds})
    await server.stop()
    log.info("stopped")

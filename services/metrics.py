"""Prometheus metrics of a `valedger serve` process and the interceptor that feeds them.

Exposed on ``/metrics`` by ``valedger serve --metrics-listen HOST:PORT``. Each server
process has its own registry, so tests can run several servers in one interpreter.

Under ``serve --processes N`` the workers' metrics are ``multiprocess`` ones: prometheus
client keeps their values in files of a directory the supervisor names
(``PROMETHEUS_MULTIPROC_DIR``) and serves summed (counters, histograms) or as the largest
value of a living worker (the audit gauges, which every worker reads from the one store
every few seconds, since scrapes reach the supervisor, not them; the audit follower's
CPU and memory, which only worker 0, its parent, sets).

A filtered scrape (``/metrics?name[]=…``) may read the on-scrape gauges before they are
refreshed (prometheus client then visits collectors in no set order); Prometheus itself
does not filter.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ledger import FollowerProcess

if TYPE_CHECKING:
    from ledger import CalendarRun
    from services.ledger_pool import LedgerPool

log = logging.getLogger(__name__)

GAUGE_REFRESH_SECONDS = 5.0
"""How often a worker of ``--processes N`` refreshes the audit gauges."""

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


class ServerMetrics:
    """The metrics of one server: requests, errors and latency per method, and ledger gauges."""

    def __init__(self, registry: CollectorRegistry | None = None,
                 multiprocess: bool = False) -> None:
        self.registry = registry or CollectorRegistry()
        self.multiprocess = multiprocess
        """Whether a supervisor serves these metrics from files (``--processes N``)."""
        # Registered before the gauges, so a scrape refreshes them before it reads them.
        self._on_scrape = _OnScrape()
        if not multiprocess:
            self.registry.register(self._on_scrape)
        self.requests = Counter(
            "valedger_grpc_requests", "gRPC requests handled, by method and status code.",
            ["method", "code"], registry=self.registry)
        self.latency = Histogram(
            "valedger_grpc_request_seconds", "gRPC request latency, by method.",
            ["method"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.events_recorded = Counter(
            "valedger_events_recorded", "Domain events this process recorded.",
            registry=self.registry)
        self.trade_recording = Histogram(
            "valedger_trade_recording_seconds",
            "Wall time of each commit of trades, by path: a RecordTrades batch (stream) or "
            "a round of concurrent RecordTrade calls (unary).",
            ["path"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.trade_recording_cpu = Counter(
            "valedger_trade_recording_cpu_seconds",
            "CPU time of the thread that made those commits, by path. Its rate over the "
            "rate of valedger_trade_recording_seconds_sum is the recorder's share of a core "
            "while it works: well below 1, it waits for the interpreter lock or a core.",
            ["path"], registry=self.registry)
        self.shares_verified = Counter(
            "valedger_shares_verified", "Mining shares verified, by backend and verdict.",
            ["backend", "verdict"], registry=self.registry)
        self.tree_size = self._live_gauge(
            "valedger_audit_tree_size", "Leaves in the audit Merkle tree.")
        self.checkpoint_timestamp = self._live_gauge(
            "valedger_audit_checkpoint_timestamp_seconds",
            "Unix time of the latest signed checkpoint (alert on its age).")
        self.calendar_runs = Counter(
            "valedger_calendar_runs",
            "Runs of the supervisory calendar, by whether this process led them.",
            ["leading"], registry=self.registry)
        self.calendar_items = Counter(
            "valedger_calendar_items",
            "Calendar items this process did: expiry, report_missing, period_close.",
            ["kind"], registry=self.registry)
        self.calendar_failures = Counter(
            "valedger_calendar_failures",
            "Calendar items that failed (retried on the next run).",
            registry=self.registry)
        self.calendar_leader = self._live_gauge(
            "valedger_calendar_leader",
            "1 when this process led the latest calendar run, else 0.")
        self.calendar_run_timestamp = self._live_gauge(
            "valedger_calendar_run_timestamp_seconds",
            "Ledger time of the latest calendar run (alert on its age).")
        self.witness_lag = self._live_gauge(
            "valedger_audit_witness_lag_leaves",
            "Leaves between the latest checkpoint and the latest one each witness cosigned.",
            ["witness"])
        self.follower_cpu = self._live_gauge(
            "valedger_audit_follower_cpu_seconds",
            "CPU time (user + system) the running audit follower process has used.")
        self.follower_memory = self._live_gauge(
            "valedger_audit_follower_resident_bytes",
            "Resident memory of the running audit follower process.")

    def observe_trade_recording(self, path: str, wall: float, cpu: float) -> None:
        """Counts one commit of trades on ``path`` ("stream" or "unary") that took
        ``wall`` seconds, ``cpu`` of them on a core."""
        self.trade_recording.labels(path).observe(wall)
        self.trade_recording_cpu.labels(path).inc(cpu)

    def _live_gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        """Returns a gauge of this registry that ``--processes N`` serves as the largest
        value of a living worker."""
        return Gauge(name, documentation, labels, registry=self.registry,
                     multiprocess_mode="livemax")

    def serve(self, host: str, port: int) -> None:
        """Starts the ``/metrics`` HTTP endpoint in a background thread."""
        start_http_server(port, addr=host, registry=self.registry)

    def attach(self, backend: LedgerPool) -> None:
        """Feeds the ledger metrics from ``backend``: events as they are saved, shares as
        the mining service verifies them, and the audit tree when Prometheus scrapes."""
        backend.metrics = self
        backend.ledger.listeners.append(lambda recordings: self.events_recorded.inc(
            len(recordings)))
        backend.ledger.calendar.listeners.append(self.count_calendar_run)
        audit = backend.audit
        if audit is None:
            return
        follower = backend.follower

        def refresh_tree() -> None:
            if isinstance(follower, FollowerProcess):
                self.refresh_follower(follower.pid)
            self.tree_size.set(audit.state().size)
            latest = audit.latest_checkpoint()
            if latest is not None:
                self.checkpoint_timestamp.set(
                    datetime.fromisoformat(latest.created_at).timestamp())
            if audit.collector is not None:
                for witness, lag in audit.collector.lag().items():
                    self.witness_lag.labels(witness).set(lag)

        if self.multiprocess:  # scrapes reach the supervisor: refresh every few seconds
            _refresh_every(GAUGE_REFRESH_SECONDS, refresh_tree)
            return
        # Gauges read the store only when scraped, through a collector of their own.
        self._on_scrape.refresh = refresh_tree

    def refresh_follower(self, pid: int | None) -> None:
        """Sets the follower process's gauges from ``/proc`` (to 0 while none runs)."""
        usage = process_usage(pid) if pid is not None else None
        cpu, memory = usage if usage is not None else (0.0, 0)
        self.follower_cpu.set(cpu)
        self.follower_memory.set(memory)

    def count_calendar_run(self, run: CalendarRun) -> None:
        """Counts one run of the supervisory calendar and what it did."""
        self.calendar_runs.labels("true" if run.leading else "false").inc()
        self.calendar_leader.set(1 if run.leading else 0)
        self.calendar_run_timestamp.set(run.at.timestamp())
        for kind, count in run.done.items():
            self.calendar_items.labels(kind).inc(count)
        if run.failed:
            self.calendar_failures.inc(run.failed)

    def count_shares(self, backend_name: str, counts: dict[str, int]) -> None:
        """Adds one verified batch's verdict counts."""
        for verdict, count in counts.items():
            if count:
                self.shares_verified.labels(backend_name, verdict).inc(count)

    def interceptor(self) -> MetricsInterceptor:
        """Returns a server interceptor that counts and times every call."""
        return MetricsInterceptor(self)


def process_usage(pid: int) -> tuple[float, int] | None:
    """Returns (CPU seconds, resident bytes) of process ``pid`` from ``/proc``, or None
    when it is gone (or not on Linux)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        cpu_ticks, pages = int(fields[11]) + int(fields[12]), int(fields[21])
    except (OSError, IndexError, ValueError):
        return None
    return cpu_ticks / os.sysconf("SC_CLK_TCK"), pages * PAGE_SIZE


PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _refresh_every(seconds: float, refresh: Callable[[], None]) -> threading.Thread:
    """Starts a daemon thread that calls ``refresh`` now and every ``seconds``."""

    def loop() -> None:
        wait = threading.Event()
        while True:
            try:
                refresh()
            except Exception:  # a busy store: try again next time
                log.warning("audit gauges not refreshed", exc_info=True)
            wait.wait(seconds)

    thread = threading.Thread(target=loop, name="metrics-refresh", daemon=True)
    thread.start()
    return thread


class _OnScrape(Collector):
    """A collector that runs a refresh (once one is set) before the collectors registered
    after it are read, and exports nothing itself."""

    def __init__(self) -> None:
        self.refresh: Callable[[], None] | None = None

    def collect(self) -> Iterable[Metric]:
        if self.refresh is None:
            return []
        try:
            self.refresh()
        except Exception:  # a busy store must not break the scrape of other metrics
            log.warning("audit gauges not refreshed", exc_info=True)
        return []


def _code_of(context: Any) -> str:
    code = context.code() if hasattr(context, "code") else None
    if code is None:
        return "OK"
    return code.name if isinstance(code, grpc.StatusCode) else str(code)


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Wraps each handler so its calls are counted by status code and timed (the wrapped
    handler and its metric children are built once per method, not once per call)."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self.metrics = metrics
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        known = self._wrapped.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        wrapped = self._wrap(handler, method)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        metrics = self.metrics
        latency = metrics.latency.labels(method)
        counts: dict[str, Any] = {}

        def finish(started: float, context: Any, failed: BaseException | None) -> None:
            code = _code_of(context)
            if failed is not None and code == "OK":
                code = "CANCELLED" if isinstance(failed, BaseException) and \
                    type(failed).__name__ == "CancelledError" else "UNKNOWN"
            counter = counts.get(code)
            if counter is None:
                counter = counts[code] = metrics.requests.labels(method, code)
            counter.inc()
            latency.observe(time.perf_counter() - started)

        def unary(behaviour: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            async def wrapped(request: Any, context: Any) -> Any:
                started, failed = time.perf_counter(), None
                try:
                    return await behaviour(request, context)
                except BaseException as exc:
                    failed = exc
                    raise
                finally:
                    finish(started, context, failed)
            return wrapped

        def streaming(behaviour: Callable[..., Any]) -> Callable[..., AsyncIterator[Any]]:
            async def wrapped(request: Any, context: Any) -> AsyncIterator[Any]:
                started, failed = time.perf_counter(), None
                try:
                    result = behaviour(request, context)
                    if hasattr(result, "__aiter__"):
                        async for item in result:
                            yield item
                    else:  # a handler that writes with context.write() and returns
                        await result
                except BaseException as exc:
                    failed = exc
                    raise
                finally:
                    finish(started, context, failed)
            return wrapped

        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                unary(handler.unary_unary), handler.request_deserializer,
                handler.response_serializer)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                unary(handler.stream_unary), handler.request_deserializer,
                handler.response_serializer)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                streaming(handler.unary_stream), handler.request_deserializer,
                handler.response_serializer)
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(
                streaming(handler.stream_stream), handler.request_deserializer,
                handler.response_serializer)
        return handler

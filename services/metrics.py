"""Prometheus metrics of a `valedger serve` process and the interceptor that feeds them.

Exposed on ``/metrics`` by ``valedger serve --metrics-listen HOST:PORT``. Each server
process has its own registry, so tests can run several servers in one interpreter.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from ledger import CalendarRun
    from services.ledger_pool import LedgerPool

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


class ServerMetrics:
    """The metrics of one server: requests, errors and latency per method, and ledger gauges."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "valedger_grpc_requests", "gRPC requests handled, by method and status code.",
            ["method", "code"], registry=self.registry)
        self.latency = Histogram(
            "valedger_grpc_request_seconds", "gRPC request latency, by method.",
            ["method"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.events_recorded = Counter(
            "valedger_events_recorded", "Domain events this process recorded.",
            registry=self.registry)
        self.shares_verified = Counter(
            "valedger_shares_verified", "Mining shares verified, by backend and verdict.",
            ["backend", "verdict"], registry=self.registry)
        self.tree_size = Gauge(
            "valedger_audit_tree_size", "Leaves in the audit Merkle tree.",
            registry=self.registry)
        self.checkpoint_timestamp = Gauge(
            "valedger_audit_checkpoint_timestamp_seconds",
            "Unix time of the latest signed checkpoint (alert on its age).",
            registry=self.registry)
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
        self.calendar_leader = Gauge(
            "valedger_calendar_leader",
            "1 when this process led the latest calendar run, else 0.",
            registry=self.registry)
        self.calendar_run_timestamp = Gauge(
            "valedger_calendar_run_timestamp_seconds",
            "Ledger time of the latest calendar run (alert on its age).",
            registry=self.registry)
        self.witness_lag = Gauge(
            "valedger_audit_witness_lag_leaves",
            "Leaves between the latest checkpoint and the latest one each witness cosigned.",
            ["witness"], registry=self.registry)

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

        def refresh_tree() -> None:
            self.tree_size.set(audit.state().size)
            latest = audit.latest_checkpoint()
            if latest is not None:
                self.checkpoint_timestamp.set(
                    datetime.fromisoformat(latest.created_at).timestamp())
            if audit.collector is not None:
                for witness, lag in audit.collector.lag().items():
                    self.witness_lag.labels(witness).set(lag)

        # Gauges read the store only when scraped, through a collector of their own.
        self.registry.register(_OnScrape(refresh_tree))

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


class _OnScrape(Collector):
    """A collector that runs a refresh before each scrape and exports nothing itself."""

    def __init__(self, refresh: Callable[[], None]) -> None:
        self.refresh = refresh

    def collect(self) -> Iterable[Metric]:
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
    """Wraps each handler so its calls are counted by status code and timed."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self.metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        metrics = self.metrics

        def finish(started: float, context: Any, failed: BaseException | None) -> None:
            code = _code_of(context)
            if failed is not None and code == "OK":
                code = "CANCELLED" if isinstance(failed, BaseException) and \
                    type(failed).__name__ == "CancelledError" else "UNKNOWN"
            metrics.requests.labels(method, code).inc()
            metrics.latency.labels(method).observe(time.perf_counter() - started)

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

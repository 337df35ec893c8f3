"""gRPC services benchmark: RecordTrades throughput over mTLS (SQLite, PostgreSQL) against
the raw eventsourcing batched insert rate, unary RecordTrade latency at a fixed rate,
ListEvents latency in a large store, and peak server memory under each load.

    .venv/bin/python -m bench.services_bench [--trades N] [--rate R] [--store-events N]
    .venv/bin/python -m bench.services_bench --only list-events --stores postgres \\
        --store-events 10000000

The server is a real ``valedger serve`` process (mTLS, private CA); the client signs every
trade envelope before the clock starts (signing is the exchange's cost, verification the
server's). The large store for ListEvents is bulk-loaded with genuine trade events and
their history rows (bench/bulk_store.py), then a fresh server is started on it.
``--only list-events`` skips the trade loads. Results are printed as a Markdown section
for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID

import grpc
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from prometheus_client.parser import text_string_to_metric_families

from bench.bulk_store import BULK_BUYERS, BulkResult, build_bulk_store
from ledger.application import Ledger
from ledger.config import StoreConfig
from ledger.domain.base import Stamp, stamped
from ledger.domain.licence import ExchangeLicence
from ledger.domain.participant import Participant
from ledger.domain.trade import Trade, TradeRequest
from ledger.history import HistoryIndex, HistoryQuery
from ledger.requests import REGULATOR, participant_requester
from ledger.trade_validation import validate_trade
from ledger.trading import EXACT
from services import envelope, wire
from services.ca import CertificateAuthority
from services.client import TRADES_PER_MESSAGE, LedgerClient, proof_batch_payload
from services.envelope import Signer
from services.generated.valedger.v1 import (
    common_pb2,
    compliance_pb2,
    history_pb2,
    licensing_pb2,
    mining_pb2,
    trading_pb2,
    trading_pb2_grpc,
)
from services.tls import TlsFiles, channel_credentials
from services.trading import trade_request

ROOT = Path(__file__).resolve().parent.parent
START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
"""When the benchmark's participants are approved and licensed: two days before it runs
(the server checks every time a client claims against its own clock)."""
TRADES_AT = START + timedelta(days=2) - timedelta(hours=1)
"""When the benchmark's trades happen: within the server's trade window."""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_pids(pid: int) -> list[int]:
    """Returns the server process and its children (the workers of --processes N)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [pid, *(int(c) for c in children.read_text().split())]
    except OSError:
        return [pid]


def peak_rss_mib(pid: int) -> float:
    """Returns the peak resident memory (VmHWM) of a server in MiB, summed over its
    worker processes when it has any."""
    total = 0.0
    for one in server_pids(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
    return total or float("nan")


def reset_peak(pid: int) -> None:
    """Resets VmHWM so the next reading is the peak of the next load only."""
    for one in server_pids(pid):
        with contextlib.suppress(OSError):
            Path(f"/proc/{one}/clear_refs").write_text("5")


def _stat_cpu(pid: int | str, tick: int) -> tuple[int, float]:
    """Returns the parent of process ``pid`` and the CPU seconds (user + system) its
    threads have spent so far, from /proc/PID/stat; raises OSError or ValueError."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / tick


def _clock_tick() -> int:
    """Returns the kernel's clock ticks a second, the unit of /proc's CPU times."""
    return os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu(pid: int) -> float:
    """Returns the CPU seconds (user + system) process ``pid`` alone has spent so far, all
    its threads but none of its children (0 where /proc cannot tell)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        return _stat_cpu(pid, _clock_tick())[1]
    return 0.0


def process_tree_cpu(pid: int) -> float:
    """Returns the CPU seconds (user + system) spent so far by process ``pid`` and every
    process below it (the server's signature workers), read from /proc (0 elsewhere)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = _clock_tick()
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parents[int(entry.name)], times[int(entry.name)] = _stat_cpu(entry.name, tick)
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, p in parents.items() if p == parent and child not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(times.get(p, 0.0) for p in tree)


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    ca: CertificateAuthority
    metrics_port: int

    def client(self, role: str, name: str, participant: str | None = None,
               signer: Signer | None = None) -> LedgerClient:
        issued = self.ca.issue(role, name, participant)
        return LedgerClient.connect(f"127.0.0.1:{self.port}", TlsFiles.issued(issued), signer,
                                    timeout=600)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)


def start_server(url: str, workdir: Path, batch: int, processes: int = 1) -> Server:
    """Returns a running `valedger serve --processes N` once every worker serves."""
    ca = CertificateAuthority.init(workdir / "ca", force=True)
    ca.issue("server", "localhost")
    port, metrics_port = free_port(), free_port()
    log = workdir / "server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-c", "from services.cli import main; main()", "serve", "--db", url,
         "--listen", f"127.0.0.1:{port}", "--ca-dir", str(workdir / "ca"), "--create-tables",
         "--trade-batch-size", str(batch), "--processes", str(processes)], cwd=ROOT,
        stderr=log.open("wb"),
        env=dict(os.environ, VALEDGER_SERVER_METRICS_LISTEN=f"127.0.0.1:{metrics_port}"))
    server = Server(process, port, ca, metrics_port)
    probe = server.client("auditor", "probe")
    deadline = time.monotonic() + 120
    while True:
        try:
            probe.check_health()
            if processes == 1 or '"processes"' in log.read_text():
                break  # the supervisor logs once all workers serve
        except grpc.RpcError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("server did not start")
        time.sleep(0.2)
    probe.close()
    return server


@dataclass
class Market:
    exchange: str
    licence: str
    buyers: list[str]
    seller: str
    signer: Signer


def set_up_market(server: Server, run: str, buyers: int = 4) -> Market:
    """Registers an exchange (licence, key), a seller and ``buyers`` buyers via gRPC."""
    names = [f"{run}-exchange", f"{run}-seller", *(f"{run}-buyer-{i}" for i in range(buyers))]
    ids = {n: str(Participant.create_id(REGULATOR, f"reg-{n}")) for n in names}
    with server.client("regulator", "cb") as reg:
        reg.compliance.SetPolicy(compliance_pb2.SetPolicyRequest(
            request_id="home-country", parameter="home_country", value=HOME,
            at=wire.timestamp(START - timedelta(days=1))))
        for name in names:
            reg.licensing.RegisterParticipant(licensing_pb2.RegisterParticipantRequest(
                request_id=f"reg-{name}", kind=common_pb2.PARTICIPANT_KIND_ENTERPRISE,
                legal_name=name, tax_id=name, country="KZ"))
            reg.licensing.ApproveParticipant(licensing_pb2.ApproveParticipantRequest(
                request_id=f"app-{name}", participant_id=ids[name],
                at=wire.timestamp(START - timedelta(days=1))))
        reg.licensing.GrantExchangeLicence(licensing_pb2.GrantExchangeLicenceRequest(
            request_id=f"lic-{run}", participant_id=ids[names[0]], services=["spot"],
            valid_from=wire.timestamp(START),
            valid_until=wire.timestamp(START + timedelta(days=3650))))
    signer = Signer.generate()
    with server.client("exchange", f"{run}-ex", ids[names[0]], signer) as ex:
        ex.register_signing_key(ids[names[0]], f"key-{run}", at=START - timedelta(days=1))
    return Market(ids[names[0]], str(ExchangeLicence.create_id(REGULATOR, f"lic-{run}")),
                  [ids[n] for n in names[2:]], ids[names[1]], signer)


def payload(market: Market, request_id: str, i: int) -> trading_pb2.TradePayload:
    return trading_pb2.TradePayload(
        request_id=request_id, exchange_licence_id=market.licence,
        exchange_trade_id=request_id, asset="BTC", quantity="0.001", price="500",
        quote_currency="USD", buyer_participant_id=market.buyers[i % len(market.buyers)],
        seller_participant_id=market.seller, counterparty_country=HOME,
        wallet_kind=trading_pb2.WALLET_KIND_HOSTED,
        at=wire.timestamp(TRADES_AT + timedelta(milliseconds=i)))


HOME = "KZ"
"""The ledger's home country (set by the regulator before the market): the trades are
domestic (hosted wallets, the counterparty at home), so each records one event, like the
raw rows (outflow trades would also debit the buyer's monthly account: bench.ledger_bench
measures those separately)."""


def stored_records(request: TradeRequest, requester: str) -> list[Aggregate]:
    """Returns what the ledger stores for a domestic recorded trade: the trade, stamped
    as a command would stamp it, its value the notional (the bench's quote currency is
    USD). ``request`` must be as ``validate_trade`` returns it (amounts as Decimals):
    the event then holds what the ledger's holds, field for field
    (tests/bench/test_stream_work_bench.py)."""
    trade_id = Trade.recorded_id(request.exchange_licence_id, request.exchange_trade_id)
    with stamped(Stamp(requester, request.digest(), datetime.now(UTC))):
        return [Trade.record(request, trade_id, request.notional_in(EXACT))]


def stored_request(sealed: common_pb2.SignedEnvelope, licence: UUID,
                   default_at: datetime) -> TradeRequest:
    """Returns the trade of a sealed envelope as the ledger stores it: decoded as the
    server decodes it and bounded by ``validate_trade`` (what ``stored_records`` needs);
    ``default_at`` when the payload names no time."""
    message = trading_pb2.TradePayload.FromString(sealed.payload)
    return validate_trade(trade_request(message, licence, wire.time(message, "at")
                                        or default_at, envelope.stored(sealed)))


class RawStore(Application[UUID]):
    """A plain eventsourcing application on the ledger's tables and settings."""

    name = Ledger.name


class RawRun(NamedTuple):
    """One raw baseline round: trades/s, and the CPU µs a trade of the saving process."""

    rate: float
    cpu_us: float


def raw_insert_rate(url: str, market: Market, run: str, n: int, batch: int) -> RawRun:
    """Returns trades/s of eventsourcing's own ``Application.save`` storing the records the
    server stores for the same stream (same payloads and signed envelopes, zlib, AES-GCM
    when configured), ``batch`` per transaction: no rules, no signature checks, no network;
    and the CPU time a trade of this process while it saves (its other threads idle).
    """
    config = StoreConfig(url=url, create_tables=False)
    app = RawStore(env=config.eventsourcing_env())
    try:
        licence = UUID(market.licence)
        requests = []
        for i in range(n):
            sealed = market.signer.seal(payload(market, f"{run}-raw-{i}", i))
            requests.append(stored_request(sealed, licence, START))
        cpu = time.process_time()
        started = time.perf_counter()
        for i in range(0, n, batch):
            app.save(*(record for r in requests[i:i + batch] for record in stored_records(
                r, participant_requester(UUID(market.exchange)))))
        elapsed = time.perf_counter() - started
        return RawRun(n / elapsed, (time.process_time() - cpu) / n * 1e6)
    finally:
        app.close()


class StreamRun(NamedTuple):
    """One RecordTrades stream: trades/s, the CPU µs a trade of the server's process alone
    (the one that serves, whose interpreter lock bounds the stream) and of that process
    with its children (signature workers, audit follower), and the share of its commits'
    wall time the recording thread spent on a core (from the server's metrics)."""

    rate: float
    server_cpu_us: float
    all_cpu_us: float
    recorder_share: float


def recording_clocks(server: Server) -> tuple[float, float]:
    """Returns the wall and CPU seconds the server has spent recording streamed trades
    (``valedger_trade_recording_seconds_sum`` and ``…_cpu_seconds_total``, path
    "stream"), read from its ``/metrics``."""
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=30) as answer:
        text = answer.read().decode()
    clocks = {"valedger_trade_recording_seconds_sum": 0.0,
              "valedger_trade_recording_cpu_seconds_total": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in clocks and sample.labels.get("path") == "stream":
                clocks[sample.name] = sample.value
    return (clocks["valedger_trade_recording_seconds_sum"],
            clocks["valedger_trade_recording_cpu_seconds_total"])


def stream_rate(server: Server, market: Market, run: str, n: int) -> StreamRun:
    """Returns the rate and CPU of one RecordTrades stream of ``n`` trades (on a shared
    machine the CPU a trade costs varies less than the rate)."""
    envelopes = [market.signer.seal(payload(market, f"{run}-s-{i}", i)) for i in range(n)]
    pid = server.process.pid
    with server.client("exchange", f"{run}-ex2", market.exchange) as ex:
        reset_peak(pid)
        wall, cpu = recording_clocks(server)
        own, everything = process_cpu(pid), process_tree_cpu(pid)
        started = time.perf_counter()
        response = ex.record_sealed_trades(envelopes, timeout=600)
        elapsed = time.perf_counter() - started
        own, everything = process_cpu(pid) - own, process_tree_cpu(pid) - everything
        wall_after, cpu_after = recording_clocks(server)
    assert response.recorded_count == n, (response.recorded_count, response.blocked_count)
    recording = wall_after - wall
    share = (cpu_after - cpu) / recording if recording > 0 else float("nan")
    return StreamRun(n / elapsed, own / n * 1e6, everything / n * 1e6, share)


async def unary_latency(server: Server, market: Market, run: str, rate: float,
                        seconds: float, channels: int = 1) -> tuple[list[float], int]:
    """Sends RecordTrade at a fixed rate (open loop) round-robin over ``channels``
    connections; returns latencies in ms measured from each request's scheduled time, and
    the number of failures."""
    n = int(rate * seconds)
    envelopes = [market.signer.seal(payload(market, f"{run}-u-{i}", i)) for i in range(n)]
    issued = server.ca.issue("exchange", f"{run}-ex3", market.exchange)
    opened = [grpc.aio.secure_channel(f"127.0.0.1:{server.port}",
                                      channel_credentials(TlsFiles.issued(issued)),
                                      options=[("grpc.use_local_subchannel_pool", 1)])
              for _ in range(channels)]
    stubs = [trading_pb2_grpc.TradingServiceStub(channel) for channel in opened]
    for k, stub in enumerate(stubs):
        await stub.RecordTrade(trading_pb2.RecordTradeRequest(
            envelope=market.signer.seal(payload(market, f"{run}-warm-{k}", k))), timeout=30)
    latencies: list[float] = []
    failures = 0
    loop = asyncio.get_running_loop()
    begin = loop.time() + 0.1

    async def one(i: int) -> None:
        nonlocal failures
        scheduled = begin + i / rate
        await asyncio.sleep(max(0.0, scheduled - loop.time()))
        try:
            await stubs[i % channels].RecordTrade(
                trading_pb2.RecordTradeRequest(envelope=envelopes[i]), timeout=5)
            latencies.append((loop.time() - scheduled) * 1000)
        except grpc.aio.AioRpcError:
            failures += 1

    reset_peak(server.process.pid)
    await asyncio.gather(*(one(i) for i in range(n)))
    for channel in opened:
        await channel.close(None)
    return latencies, failures


@dataclass
class ListEventsResult:
    label: str
    store_events: int
    participant_events: int
    build: BulkResult
    ready_seconds: float
    latencies: list[float]
    peak_rss: float
    plan: str


def explain_page(url: str, participant: str, after: int) -> str:
    """Returns PostgreSQL's EXPLAIN ANALYZE of the history query of one page."""
    ledger = Ledger(StoreConfig(url=url, create_tables=False))
    try:
        index = HistoryIndex(ledger)
        query = HistoryQuery(participant_id=participant, after_position=after, limit=101)
        captured: list[tuple[str, list[Any]]] = []
        fetch = index._fetch

        def capture(statement: str, params: Any = ()) -> list[tuple[Any, ...]]:
            captured.append((statement, list(params)))
            return fetch(statement, params)

        index._fetch = capture  # type: ignore[method-assign]
        index.search(query)
        plans = []
        for statement, params in captured:
            rows = fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            plans.append("\n".join(str(r[0]) for r in rows))
        return "\n\n".join(plans)
    finally:
        ledger.close()


def list_events_run(label: str, url: str, workdir: Path, n: int, queries: int,
                    workers: int, processes: int = 1) -> ListEventsResult:
    """Bulk-loads ``n`` trades into the store (bench/bulk_store.py), starts a fresh server
    on it and measures pages of 100 of one buyer at random points of its history."""
    licence = ExchangeLicence.create_id(REGULATOR, "bulk-licence")
    started = time.perf_counter()
    print(f"{label}: bulk-loading {n:,} trades", file=sys.stderr, flush=True)
    build = build_bulk_store(url, n, licence, workers=workers)
    print(f"{label}: loaded in {build.load_seconds:.0f} s, audit log followed in "
          f"{build.audit_seconds:.0f} s", file=sys.stderr, flush=True)
    participant = str(Participant.create_id(REGULATOR, "bulk-buyer-0"))
    # bulk-buyer-0 buys trades 0, 50, 100, ...: its events sit at these positions
    mine = range(build.first_position, build.last_position + 1, BULK_BUYERS)
    filters = {"p": participant, "l": "", "t": [], "s": "", "e": ""}
    rng = random.Random(5)
    afters = [mine[rng.randrange(len(mine) - 100)] - 1 for _ in range(queries)]
    started = time.perf_counter()
    server = start_server(url, workdir / f"{label}-list", 500, processes)
    try:
        ready = time.perf_counter() - started
        with server.client("regulator", "cb-reader") as reg:
            first = reg.history.ListEvents(history_pb2.ListEventsRequest(
                participant_id=participant, page_size=100), timeout=600)
            assert len(first.events) == 100, len(first.events)
            ready = time.perf_counter() - started
            for after in afters[:20]:  # warm-up (connection, code paths)
                reg.history.ListEvents(history_pb2.ListEventsRequest(
                    participant_id=participant, page_size=100,
                    page_token=wire.encode_token({"f": filters, "a": after})))
            reset_peak(server.process.pid)
            latencies = []
            for after in afters:
                token = wire.encode_token({"f": filters, "a": after})
                began = time.perf_counter()
                page = reg.history.ListEvents(history_pb2.ListEventsRequest(
                    participant_id=participant, page_size=100, page_token=token))
                latencies.append((time.perf_counter() - began) * 1000)
                assert len(page.events) == 100
                assert page.events[0].position == after + 1, (page.events[0], after)
        peak = peak_rss_mib(server.process.pid)
    finally:
        server.stop()
    plan = explain_page(url, participant, afters[0]) if url.startswith("postgresql") else ""
    total = build.last_position
    return ListEventsResult(label, total, len(mine), build, ready, latencies, peak, plan)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def postgres_url(workdir: Path) -> tuple[str, Any]:
    import pgserver
    import psycopg

    server: Any = pgserver.get_server(workdir / "pg", cleanup_mode="delete")
    socket_dir = server.get_uri().split("host=", 1)[1]
    with psycopg.connect(f"host={socket_dir} user=postgres dbname=postgres",
                         autocommit=True) as conn:
        conn.execute('CREATE DATABASE "bench"')
    return f"postgresql://postgres@:5432/bench?host={socket_dir}", server


def unary_loads(args: argparse.Namespace, label: str, url: str, workdir: Path,
                unary_rows: list[str]) -> None:
    """Unary latency of `serve --processes P` for each P, alternating, on one store."""
    for repeat in range(args.repeats):
        for processes in args.processes:
            server = start_server(url, workdir / f"{label}-p{processes}-{repeat}", args.batch,
                                  processes)
            try:
                for target in args.rate:
                    run = f"{label.lower()}-p{processes}-{repeat}-u{target:g}"
                    fresh = set_up_market(server, run, buyers=100)
                    latencies, failures = asyncio.run(unary_latency(
                        server, fresh, run, target, args.seconds, args.channels))
                    sent = int(target * args.seconds)
                    p50 = f"{percentile(latencies, 50):.1f}" if latencies else "-"
                    p99 = f"{percentile(latencies, 99):.1f}" if latencies else "-"
                    unary_rows.append(
                        f"| {label} | {processes} | {target:g} | {sent:,} | {p50} | {p99} | "
                        f"{failures:,} | {peak_rss_mib(server.process.pid):.0f} |")
            finally:
                server.stop()


def trade_loads(args: argparse.Namespace, label: str, url: str, workdir: Path,
                rows: list[str], unary_rows: list[str]) -> None:
    """RecordTrades throughput against the raw insert rate, then unary latency."""
    server = start_server(url, workdir / label, args.batch, args.processes[0])
    try:
        market = set_up_market(server, label.lower())
        ratios: list[float] = []
        cpu_ratios: list[float] = []
        shares: list[float] = []
        for k in range(args.repeats):  # raw and the stream alternate, new ids each round
            run = label.lower() if k == 0 else f"{label.lower()}-r{k}"
            # Which goes first swaps each round, so neither always meets the store
            # (its cache, its files' size, PostgreSQL's autovacuum) in the same state.
            if k % 2 == 0:
                raw = raw_insert_rate(url, market, run, args.trades, args.batch)
                stream = stream_rate(server, market, run, args.trades)
            else:
                stream = stream_rate(server, market, run, args.trades)
                raw = raw_insert_rate(url, market, run, args.trades, args.batch)
            ratios.append(stream.rate / raw.rate)
            shares.append(stream.recorder_share)
            # With --processes N the stream is served by one of the workers, not the
            # process started: its own CPU says nothing then.
            serving, cpu_ratio = "-", "-"
            if args.processes[0] == 1 and stream.server_cpu_us > 0:  # 0: no /proc
                cpu_ratios.append(raw.cpu_us / stream.server_cpu_us)
                serving, cpu_ratio = f"{stream.server_cpu_us:,.0f}", f"{cpu_ratios[-1]:.2f}"
            rows.append(
                f"| {label} | {k + 1} | {args.trades:,} | {stream.rate:,.0f} | "
                f"{stream.all_cpu_us:,.0f} | {serving} | {stream.recorder_share:.0%} | "
                f"{raw.rate:,.0f} | "
                f"{raw.cpu_us:,.0f} | {ratios[-1]:.2f} | {cpu_ratio} | "
                f"{peak_rss_mib(server.process.pid):.0f} |")
        if args.repeats > 1:
            median_cpu = f"{statistics.median(cpu_ratios):.2f}" if cpu_ratios else "-"
            rows.append(f"| {label} | median of {args.repeats} | | | | | "
                        f"{statistics.median(shares):.0%} | | | "
                        f"**{statistics.median(ratios):.2f}** | {median_cpu} | |")
        for target in args.rate:
            # A fresh market per rate (its own exchange, licence and 100 buyers), so
            # each rate starts from the same state.
            run = f"{label.lower()}-u{target:g}"
            fresh = set_up_market(server, run, buyers=100)
            latencies, failures = asyncio.run(unary_latency(
                server, fresh, run, target, args.seconds, args.channels))
            unary_mem = peak_rss_mib(server.process.pid)
            sent = int(target * args.seconds)
            p50 = f"{percentile(latencies, 50):.1f}" if latencies else "-"
            p99 = f"{percentile(latencies, 99):.1f}" if latencies else "-"
            unary_rows.append(f"| {label} | {args.processes[0]} | {target:g} | {sent:,} | "
                              f"{p50} | {p99} | {failures:,} | {unary_mem:.0f} |")
    finally:
        server.stop()


def _stream_client(address: str, tls: TlsFiles, envelopes: list[bytes], start: Any,
                   results: Any) -> None:
    """One exchange in its own process: streams its sealed trades once ``start`` releases
    every client, and reports (began, finished, recorded)."""
    sealed = [common_pb2.SignedEnvelope.FromString(e) for e in envelopes]
    with LedgerClient.connect(address, tls, None, timeout=600) as client:
        client.check_health()
        start.wait()
        began = time.time()
        response = client.record_sealed_trades(sealed, timeout=600)
        results.put((began, time.time(), response.recorded_count))


def scale_out_rate(server: Server, run: str, streams: int, n: int) -> tuple[float, float]:
    """Returns trades/s of ``streams`` exchanges streaming ``n`` trades each at once (each
    client in its own process, over its own mTLS connection), from the first start to the
    last finish, and the server's CPU µs per trade (every server process)."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(streams + 1), context.Queue()
    clients = []
    for k in range(streams):
        market = set_up_market(server, f"{run}-x{k}")
        envelopes = [market.signer.seal(payload(market, f"{run}-x{k}-{i}", i)).SerializeToString()
                     for i in range(n)]
        issued = server.ca.issue("exchange", f"{run}-x{k}-stream", market.exchange)
        clients.append(context.Process(target=_stream_client, args=(
            f"127.0.0.1:{server.port}", TlsFiles.issued(issued), envelopes, start, results)))
    for client in clients:
        client.start()
    start.wait()  # every client connected and checked the server's health
    cpu = process_tree_cpu(server.process.pid)
    done = [results.get(timeout=900) for _ in clients]
    cpu = process_tree_cpu(server.process.pid) - cpu
    for client in clients:
        client.join()
    recorded = sum(r for _, _, r in done)
    assert recorded == streams * n, (recorded, streams * n)
    wall = max(t for _, t, _ in done) - min(t for t, _, _ in done)
    return recorded / wall, cpu / recorded * 1e6


def scale_out_loads(args: argparse.Namespace, label: str, url: str, workdir: Path,
                    rows: list[str]) -> None:
    """`serve --processes P` for each P, with as many exchanges streaming at once as
    ``--streams`` says (default: one per server process)."""
    for processes in args.processes:
        server = start_server(url, workdir / f"{label}-scale-p{processes}", args.batch,
                              processes)
        try:
            streams = args.streams or processes
            rate, cpu_us = scale_out_rate(server, f"{label.lower()}-scale-p{processes}",
                                          streams, args.trades)
            rows.append(f"| {label} | {processes} | {streams} | {streams * args.trades:,} | "
                        f"{rate:,.0f} | {cpu_us:,.0f} | "
                        f"{peak_rss_mib(server.process.pid):,.0f} |")
        finally:
            server.stop()


PROOF_TAG = b"/bench-pool/"


def proof_ingest_rates(server: Server, run: str, shares: int, batches: int,
                       senders: int = 1) -> tuple[int, float, float]:
    """Returns (shares per batch, SubmitProofBatch shares/s over mTLS, bare
    ``verify_batch`` shares/s of the same batches in this process on the backend the
    server uses (VALEDGER_VERIFIER_BACKEND), the baseline). A miner is registered,
    approved, licensed (one coinbase tag) and keyed through gRPC; its batches of genuine
    shares (difficulty 2⁻³², every hash a share) are packed, signed and sent by
    ``senders`` callers at once (each sends its next batch when the last is answered;
    1: one at a time), over one mTLS channel."""
    from verifier.backends import select_backend
    from verifier.batch import parse_batch
    from verifier.simulator import honest_miner, mine_period
    from verifier.verification import verify_batch

    name = f"{run}-miner"
    miner_id = str(Participant.create_id(REGULATOR, f"reg-{name}"))
    with server.client("regulator", "cb") as reg:
        reg.licensing.RegisterParticipant(licensing_pb2.RegisterParticipantRequest(
            request_id=f"reg-{name}", kind=common_pb2.PARTICIPANT_KIND_ENTERPRISE,
            legal_name=name, tax_id=name, country="KZ"))
        reg.licensing.ApproveParticipant(licensing_pb2.ApproveParticipantRequest(
            request_id=f"app-{name}", participant_id=miner_id,
            at=wire.timestamp(START - timedelta(days=1))))
        licence = reg.licensing.GrantMiningLicence(licensing_pb2.GrantMiningLicenceRequest(
            request_id=f"lic-{name}", participant_id=miner_id,
            site=licensing_pb2.Site(region="north", grid_zone="z1", meter_id=f"m-{run}"),
            licensed_power_mw="100", declared_efficiency_j_per_th="20",
            coinbase_tags=[PROOF_TAG], valid_from=wire.timestamp(START),
            valid_until=wire.timestamp(START + timedelta(days=3650)))).receipt.aggregate_id
    signer = Signer.generate()
    mined_at = int((TRADES_AT - timedelta(hours=1)).timestamp())
    miner = honest_miner(Decimal(shares) / 600, PROOF_TAG, share_difficulty=Decimal(2) ** -32)
    documents = [mine_period(miner, start_time=mined_at + 600 * i, seconds=600,
                             network_difficulty=1, seed=i, max_shares=4 * shares).batch
                 for i in range(batches)]
    backend = select_backend()
    parsed = [parse_batch(d) for d in documents]
    verify_batch(parsed[0], coinbase_tags=[PROOF_TAG], backend=backend)  # warm up
    started = time.perf_counter()
    for batch in parsed:
        verify_batch(batch, coinbase_tags=[PROOF_TAG], backend=backend)
    bare = sum(len(b.packed) for b in parsed) / (time.perf_counter() - started)
    with server.client("miner", f"{run}-miner", miner_id, signer) as client:
        client.register_signing_key(miner_id, f"key-{run}", at=START - timedelta(days=1))
        payloads = [proof_batch_payload(d, f"{run}-p{i}", licence, at=TRADES_AT)
                    for i, d in enumerate(documents)]
        started = time.perf_counter()
        with ThreadPoolExecutor(senders) as calls:
            responses = list(calls.map(client.submit_proof_batch, payloads))
        elapsed = time.perf_counter() - started
        accepted = sum(c.count for response in responses for c in response.verdict_counts
                       if c.verdict == mining_pb2.SHARE_VERDICT_ACCEPTED)
    sent = sum(len(d["shares"]) for d in documents)
    assert accepted == sent, (accepted, sent)
    return sent // batches, sent / elapsed, bare


def proof_loads(args: argparse.Namespace, label: str, url: str, workdir: Path,
                rows: list[str]) -> None:
    """SubmitProofBatch over mTLS against bare verify_batch of the same batches."""
    server = start_server(url, workdir / f"{label}-proofs", args.batch, args.processes[0])
    try:
        size, rate, bare = proof_ingest_rates(server, f"{label.lower()}-proofs",
                                              args.proof_shares, args.proof_batches,
                                              args.proof_senders)
        rows.append(f"| {label} | {os.environ.get('VALEDGER_VERIFIER_BACKEND', 'auto')} | "
                    f"{args.proof_batches} × {size:,} | {args.proof_senders} | {rate:,.0f} | "
                    f"{bare:,.0f} | {rate / bare:.2f} |")
    finally:
        server.stop()


def print_server_errors(workdir: Path) -> None:
    for path in sorted(workdir.rglob("server.log")):
        for line in path.read_text().splitlines():
            if '"level": "ERROR"' in line:
                print(line[:3000], file=sys.stderr)


def positive(text: str) -> int:
    """Returns the whole number ``text`` names; argparse's error when it is below 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["all", "trades", "unary", "list-events", "scale-out",
                                           "proofs"],
                        default="all",
                        help="trades: only the trade loads; unary: only unary latency, for "
                             "each --processes; list-events: only build the large store and "
                             "measure ListEvents")
    parser.add_argument("--proof-shares", type=int, default=100_000,
                        help="proofs: genuine shares per batch")
    parser.add_argument("--proof-batches", type=int, default=5,
                        help="proofs: batches sent")
    parser.add_argument("--proof-senders", type=positive, default=1,
                        help="proofs: callers sending batches at once over one channel "
                             "(1: one at a time; one channel reaches one worker of "
                             "--processes N)")
    parser.add_argument("--streams", type=int, default=0,
                        help="scale-out: exchanges streaming at once (0: one per process)")
    parser.add_argument("--processes", type=int, nargs="+", default=[1],
                        help="`serve --processes` (unary: each in turn, alternating)")
    parser.add_argument("--channels", type=int, default=1,
                        help="client connections the unary load is spread over")
    parser.add_argument("--repeats", type=int, default=1,
                        help="trades: rounds of the raw insert and the stream, alternating "
                             "(with a median ratio); unary: rounds over --processes")
    parser.add_argument("--stores", nargs="+", choices=["sqlite", "postgres"],
                        default=["sqlite", "postgres"])
    parser.add_argument("--trades", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rate", type=float, nargs="+", default=[100, 500])
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--store-events", type=int, default=200_000,
                        help="trades bulk-loaded for ListEvents (bench/bulk_store.py)")
    parser.add_argument("--list-queries", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2,
                        help="processes creating and encoding the bulk trades")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    stores = [s for s in args.stores if not (s == "postgres" and args.skip_postgres)]
    load_before = os.getloadavg()[0]
    rows: list[str] = []
    unary_rows: list[str] = []
    scale_rows: list[str] = []
    proof_rows: list[str] = []
    listed: list[ListEventsResult] = []
    with tempfile.TemporaryDirectory(prefix="valedger-bench-") as tmp:
        workdir = Path(tmp)
        for store in stores:
            label = "SQLite" if store == "sqlite" else "PostgreSQL"
            pg = None
            if store == "sqlite":
                url = f"sqlite:///{workdir / 'ledger.db'}"
            else:
                url, pg = postgres_url(workdir)
            try:
                if args.only in ("all", "trades"):
                    trade_loads(args, label, url, workdir, rows, unary_rows)
                if args.only == "unary":
                    unary_loads(args, label, url, workdir, unary_rows)
                if args.only == "scale-out":
                    scale_out_loads(args, label, url, workdir, scale_rows)
                if args.only == "proofs":
                    proof_loads(args, label, url, workdir, proof_rows)
                if args.only in ("all", "list-events"):
                        listed.append(list_events_run(label, url, workdir, args.store_events,
                                                  args.list_queries, args.workers))
            except Exception:
                print_server_errors(workdir)
                raise
            finally:
                if pg is not None:
                    pg.cleanup()
        print_server_errors(workdir)
    load_after = os.getloadavg()[0]
    print("## gRPC services\n")
    print(f"Command: `.venv/bin/python -m bench.services_bench {' '.join(sys.argv[1:])}`")
    print(f"Machine: {platform.node()}, {os.cpu_count()} core(s), Python "
          f"{platform.python_version()}, shared with other engineers' jobs (1-min load "
          f"{load_before:.2f} before, {load_after:.2f} after); {datetime.now(UTC):%Y-%m-%d}.\n")
    if rows or unary_rows:
        print("Server: `valedger serve` in its own process, mTLS (ECDSA P-256), one Ed25519 "
              f"envelope verified per trade, RecordTrades sent {TRADES_PER_MESSAGE} trades a "
              f"stream message and committed {args.batch} per transaction. Raw = "
              "eventsourcing's own `Application.save` of the same trade "
              f"records (same payloads and signed envelopes) in batches of {args.batch} in "
              "the same run (no rules, signature checks or network). Unary latency is "
              "open-loop, measured from each request's scheduled send time.\n")
        if rows:
            print("CPU µs a trade: \"all\" is the server's process with its children "
                  "(signature workers, audit follower), \"serving\" its process alone "
                  "(whose interpreter lock bounds a stream), \"raw\" the saving process; "
                  "CPU ratio = raw CPU ÷ serving CPU, what each side spends (less swayed than "
                  "the rates by the other processes on a shared machine, not immune). "
                  "\"recorder on CPU\": the share of its commits' wall time the thread that "
                  "records the stream was on a core (the server's "
                  "`valedger_trade_recording_*` metrics); the rest it waited for the "
                  "interpreter lock or a core.\n")
            print("| store | round | trades | RecordTrades /s | all CPU | serving CPU | "
                  "recorder on CPU | raw insert /s | raw CPU | ratio | CPU ratio | "
                  "server peak RSS MiB |")
            print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for row in rows:
            print(row)
        print(f"\nUnary RecordTrade, open loop over {args.channels} connection(s), deadline "
              "5 s (failed = deadline exceeded; RSS summed over the server's processes):\n")
        print("| store | processes | rate /s | requests | p50 ms | p99 ms | failed | "
              "server peak RSS MiB |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for row in unary_rows:
            print(row)
        print()
    if proof_rows:
        print("Proof batches: `valedger serve`, one miner sending packed batches of genuine "
              "shares in signed envelopes (SubmitProofBatch over mTLS, `senders` calls at "
              "once); baseline = bare `verify_batch` of the same batches in the bench's "
              "process on the same backend (`VALEDGER_VERIFIER_BACKEND`).\n")
        print("| store | backend | batches | senders | SubmitProofBatch shares/s | "
              "bare verify_batch shares/s | ratio |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for row in proof_rows:
            print(row)
        print()
    if scale_rows:
        print("Scale-out: `valedger serve --processes P` on one store; S exchanges stream "
              f"{args.trades:,} sealed trades each at once (each client in its own process, "
              "its own mTLS connection); rate = all trades over the time from the first "
              "stream's start to the last one's end; CPU summed over the server's "
              "processes.\n")
        print("| store | processes | streams | trades | trades/s | server CPU µs/trade | "
              "server peak RSS MiB |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for row in scale_rows:
            print(row)
        print()
    if not listed:
        return
    print(f"ListEvents: one buyer's page of 100 (page token at a random point of its whole "
          f"history, {args.list_queries:,} pages, one at a time over mTLS) from a server "
          "started on the bulk-loaded store:\n")
    print("| store | events in store | buyer's events | bulk load s | audit follow s | "
          "server ready s | p50 ms | p99 ms | server peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in listed:
        print(f"| {r.label} | {r.store_events:,} | {r.participant_events:,} | "
              f"{r.build.load_seconds:.0f} | {r.build.audit_seconds:.0f} | "
              f"{r.ready_seconds:.1f} | {percentile(r.latencies, 50):.1f} | "
              f"{percentile(r.latencies, 99):.1f} | {r.peak_rss:.0f} |")
    print("\nPeak RSS is VmHWM of the server process, reset before each load.")
    for r in listed:
        if r.plan:
            print(f"\nQuery plans of one page ({r.label}):\n\n```\n{r.plan}\n```")


if __name__ == "__main__":
    main()

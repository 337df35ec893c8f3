"""gRPC services benchmark: RecordTrades throughput over mTLS (SQLite, PostgreSQL) against
the raw eventsourcing batched insert rate, unary RecordTrade latency at a fixed rate,
ListEvents latency in a large store, and peak server memory under each load.

    .venv/bin/python -m bench.services_bench [--trades N] [--rate R] [--store-events N]

The server is a real ``valedger serve`` process (mTLS, private CA); the client signs every
trade envelope before the clock starts (signing is the exchange's cost, verification the
server's). Results are printed as a Markdown section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc

from ledger.application import Ledger
from ledger.config import StoreConfig
from ledger.domain.licence import ExchangeLicence
from ledger.domain.participant import Participant
from ledger.domain.trade import Trade, TradeRequest, WalletKind
from ledger.history import HistoryIndex
from services import wire
from services.ca import CertificateAuthority
from services.client import LedgerClient
from services.envelope import Signer
from services.generated.valedger.v1 import (
    common_pb2,
    history_pb2,
    licensing_pb2,
    trading_pb2,
    trading_pb2_grpc,
)
from services.tls import TlsFiles, channel_credentials

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 1, 1, tzinfo=UTC)
BULK_BUYERS = 50


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mib(pid: int) -> float:
    """Returns the peak resident memory (VmHWM) of a process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak(pid: int) -> None:
    """Resets VmHWM so the next reading is the peak of the next load only."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    ca: CertificateAuthority

    def client(self, role: str, name: str, participant: str | None = None,
               signer: Signer | None = None) -> LedgerClient:
        issued = self.ca.issue(role, name, participant)
        return LedgerClient.connect(f"127.0.0.1:{self.port}", TlsFiles.issued(issued), signer,
                                    timeout=600)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)


def start_server(url: str, workdir: Path, batch: int) -> Server:
    ca = CertificateAuthority.init(workdir / "ca", force=True)
    ca.issue("server", "localhost")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", "from services.cli import main; main()", "serve", "--db", url,
         "--listen", f"127.0.0.1:{port}", "--ca-dir", str(workdir / "ca"), "--create-tables",
         "--trade-batch-size", str(batch)], cwd=ROOT,
        stderr=(workdir / "server.log").open("wb"))
    server = Server(process, port, ca)
    probe = server.client("auditor", "probe")
    deadline = time.monotonic() + 60
    while True:
        try:
            probe.check_health()
            break
        except grpc.RpcError:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start") from None
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
    ids = {n: str(Participant.create_id(f"reg-{n}")) for n in names}
    with server.client("regulator", "cb") as reg:
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
    return Market(ids[names[0]], str(ExchangeLicence.create_id(f"lic-{run}")),
                  [ids[n] for n in names[2:]], ids[names[1]], signer)


def payload(market: Market, request_id: str, i: int) -> trading_pb2.TradePayload:
    return trading_pb2.TradePayload(
        request_id=request_id, exchange_licence_id=market.licence,
        exchange_trade_id=request_id, asset="BTC", quantity="0.001", price="500",
        quote_currency="USD", buyer_participant_id=market.buyers[i % len(market.buyers)],
        seller_participant_id=market.seller, counterparty_country="KZ",
        wallet_kind=trading_pb2.WALLET_KIND_HOSTED,
        at=wire.timestamp(START + timedelta(days=30, seconds=i)))


def raw_insert_rate(url: str, market: Market, n: int, batch: int) -> float:
    """Returns events/s of eventsourcing saving new trade aggregates, ``batch`` per
    transaction, with no rules, no envelopes and no network: the persistence ceiling."""
    ledger = Ledger(StoreConfig(url=url, create_tables=False))
    run = random.random()
    try:
        requests = [TradeRequest(
            request_id=f"raw-{run}-{i}",
            exchange_licence_id=ExchangeLicence.create_id("raw"), exchange_trade_id=f"raw-{i}",
            asset="BTC",
            quantity=Decimal("0.001"), price=Decimal(500), quote_currency="USD",
            buyer_id=Participant.create_id("raw-b"), seller_id=Participant.create_id("raw-s"),
            counterparty_vasp="", counterparty_country="KZ", wallet_kind=WalletKind.HOSTED,
            at=START + timedelta(days=30, seconds=i)) for i in range(n)]
        started = time.perf_counter()
        for i in range(0, n, batch):
            ledger.save(*(Trade.record(r, Decimal("0.5")) for r in requests[i:i + batch]))
        return n / (time.perf_counter() - started)
    finally:
        ledger.close()


def stream_rate(server: Server, market: Market, run: str, n: int) -> tuple[float, int]:
    envelopes = [market.signer.seal(payload(market, f"{run}-s-{i}", i)) for i in range(n)]
    with server.client("exchange", f"{run}-ex2", market.exchange) as ex:
        reset_peak(server.process.pid)
        started = time.perf_counter()
        response = ex.record_sealed_trades(envelopes, timeout=600)
        elapsed = time.perf_counter() - started
    assert response.recorded_count == n, (response.recorded_count, response.blocked_count)
    return n / elapsed, response.recorded_count


async def unary_latency(server: Server, market: Market, run: str, rate: float,
                        seconds: float) -> tuple[list[float], int]:
    """Sends RecordTrade at a fixed rate (open loop); returns latencies in ms measured from
    each request's scheduled time, and the number of failures."""
    n = int(rate * seconds)
    envelopes = [market.signer.seal(payload(market, f"{run}-u-{i}", i)) for i in range(n)]
    issued = server.ca.issue("exchange", f"{run}-ex3", market.exchange)
    channel = grpc.aio.secure_channel(f"127.0.0.1:{server.port}",
                                      channel_credentials(TlsFiles.issued(issued)))
    stub = trading_pb2_grpc.TradingServiceStub(channel)
    await stub.RecordTrade(trading_pb2.RecordTradeRequest(
        envelope=market.signer.seal(payload(market, f"{run}-warm", 0))), timeout=30)
    latencies: list[float] = []
    failures = 0
    loop = asyncio.get_running_loop()
    begin = loop.time() + 0.1

    async def one(i: int) -> None:
        nonlocal failures
        scheduled = begin + i / rate
        await asyncio.sleep(max(0.0, scheduled - loop.time()))
        try:
            await stub.RecordTrade(trading_pb2.RecordTradeRequest(envelope=envelopes[i]),
                                   timeout=5)
            latencies.append((loop.time() - scheduled) * 1000)
        except grpc.aio.AioRpcError:
            failures += 1

    reset_peak(server.process.pid)
    await asyncio.gather(*(one(i) for i in range(n)))
    await channel.close(None)
    return latencies, failures


def build_large_store(url: str, market: Market, n: int, batch: int = 2000) -> float:
    """Appends ``n`` trades straight through eventsourcing (no rules) and indexes them;
    returns the seconds taken."""
    ledger = Ledger(StoreConfig(url=url, create_tables=False))
    started = time.perf_counter()
    try:
        licence = ExchangeLicence.create_id(market.licence)
        for first in range(0, n, batch):
            trades = []
            for i in range(first, min(n, first + batch)):
                request = TradeRequest(
                    request_id=f"bulk-{i}", exchange_licence_id=licence,
                    exchange_trade_id=f"bulk-{i}", asset="BTC", quantity=Decimal("0.001"),
                    price=Decimal(500), quote_currency="USD",
                    buyer_id=Participant.create_id(f"bulk-buyer-{i % BULK_BUYERS}"),
                    seller_id=Participant.create_id("bulk-seller"), counterparty_vasp="",
                    counterparty_country="KZ", wallet_kind=WalletKind.HOSTED,
                    at=START + timedelta(seconds=i))
                trades.append(Trade.record(request, Decimal("0.5")))
            ledger.save(*trades)
        HistoryIndex(ledger).catch_up()
    finally:
        ledger.close()
    return time.perf_counter() - started


def list_events_latency(server: Server, participant: str, queries: int) -> list[float]:
    with server.client("regulator", "cb-reader") as reg:
        deadline = time.monotonic() + 300
        while True:  # the server's followers first index the bulk-loaded records
            try:
                reg.history.ListEvents(history_pb2.ListEventsRequest(
                    participant_id=participant, page_size=1), timeout=120)
                break
            except grpc.RpcError as error:
                if error.code() is not grpc.StatusCode.UNAVAILABLE:
                    raise
                if time.monotonic() > deadline:
                    raise
        tokens: list[str] = []
        token = ""
        while len(tokens) < 50:  # the first 50 full pages
            page = reg.history.ListEvents(history_pb2.ListEventsRequest(
                participant_id=participant, page_size=100, page_token=token))
            if len(page.events) < 100:
                break
            tokens.append(token)
            token = page.next_page_token
        latencies = []
        reset_peak(server.process.pid)
        for q in range(queries):
            token = tokens[q % len(tokens)]
            started = time.perf_counter()
            result = reg.history.ListEvents(history_pb2.ListEventsRequest(
                participant_id=participant, page_size=100, page_token=token))
            latencies.append((time.perf_counter() - started) * 1000)
            assert len(result.events) == 100
    return latencies


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rate", type=float, nargs="+", default=[100, 500])
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--store-events", type=int, default=200_000)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    lines: list[str] = []
    rows: list[str] = []
    unary_rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="valedger-bench-") as tmp:
        workdir = Path(tmp)
        stores = [("SQLite", f"sqlite:///{workdir / 'ledger.db'}", None)]
        if not args.skip_postgres:
            url, pg = postgres_url(workdir)
            stores.append(("PostgreSQL", url, pg))
        for label, url, pg in stores:
            server = start_server(url, workdir / label, args.batch)
            try:
                market = set_up_market(server, label.lower())
                raw = raw_insert_rate(url, market, args.trades, args.batch)
                rate, _ = stream_rate(server, market, label.lower(), args.trades)
                stream_mem = peak_rss_mib(server.process.pid)
                rows.append(
                    f"| {label} | {args.trades:,} | {rate:,.0f} | {raw:,.0f} | "
                    f"{rate / raw:.2f} | {stream_mem:.0f} |")
                for target in args.rate:
                    # A fresh market per rate, trades spread over 100 buyers: the ledger
                    # replays each buyer's outflow account on every unary trade (no
                    # snapshots), so a few hot accounts would measure that, not the API.
                    run = f"{label.lower()}-u{target:g}"
                    fresh = set_up_market(server, run, buyers=100)
                    latencies, failures = asyncio.run(unary_latency(
                        server, fresh, run, target, args.seconds))
                    unary_mem = peak_rss_mib(server.process.pid)
                    sent = int(target * args.seconds)
                    p50 = f"{percentile(latencies, 50):.1f}" if latencies else "-"
                    p99 = f"{percentile(latencies, 99):.1f}" if latencies else "-"
                    unary_rows.append(f"| {label} | {target:g} | {sent:,} | {p50} | {p99} | "
                                      f"{failures:,} | {unary_mem:.0f} |")
                if label == "SQLite":
                    build_seconds = build_large_store(url, market, args.store_events)
                    bulk_buyer = str(Participant.create_id("bulk-buyer-0"))
                    # bulk trades name buyers that are not registered: the index still
                    # files them under the buyer id, which is what ListEvents queries.
                    list_lat = list_events_latency(server, bulk_buyer, 300)
                    list_mem = peak_rss_mib(server.process.pid)
                    total = args.store_events + 2 * args.trades
                    lines.append(
                        f"ListEvents (SQLite, store of {total:,} events, built in "
                        f"{build_seconds:.0f} s; participant with "
                        f"{args.store_events // BULK_BUYERS:,} events; 300 pages of 100 over its "
                        f"first 50 pages): p50 **{percentile(list_lat, 50):.1f} ms**, p99 "
                        f"**{percentile(list_lat, 99):.1f} ms**; server peak RSS "
                        f"{list_mem:.0f} MiB.")
            except Exception:
                for line in (workdir / label / "server.log").read_text().splitlines():
                    if '"level": "ERROR"' in line:
                        print(line[:3000], file=sys.stderr)
                raise
            finally:
                server.stop()
                if pg is not None:
                    pg.cleanup()
        log = sorted(workdir.rglob("server.log"))
        errors = [line for path in log for line in path.read_text().splitlines()
                  if '"level": "ERROR"' in line]
        if errors:
            print("\n".join(errors[:3]), file=sys.stderr)
    load_after = os.getloadavg()[0]
    print("## gRPC services\n")
    rates = " ".join(f"{r:g}" for r in args.rate)
    print(f"Command: `.venv/bin/python -m bench.services_bench --trades {args.trades} "
          f"--rate {rates} --seconds {args.seconds:g} --store-events {args.store_events}`")
    print(f"Machine: {platform.node()}, {os.cpu_count()} core(s), Python "
          f"{platform.python_version()}, shared with other engineers' jobs (1-min load "
          f"{load_before:.2f} before, {load_after:.2f} after); {datetime.now(UTC):%Y-%m-%d}.\n")
    print("Server: `valedger serve` in its own process, mTLS (ECDSA P-256), one Ed25519 "
          f"envelope verified per trade, RecordTrades committed {args.batch} per transaction. "
          "Raw = eventsourcing `Application.save` of the same trade aggregates in batches "
          f"of {args.batch} in the same run (no rules, signatures, network). Unary latency "
          "is open-loop, measured from each request's scheduled send time.\n")
    print("| store | trades | RecordTrades /s | raw insert /s | ratio | server peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(row)
    print("\nUnary RecordTrade, open loop, deadline 5 s (failed = deadline exceeded):\n")
    print("| store | rate /s | requests | p50 ms | p99 ms | failed | server peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in unary_rows:
        print(row)
    print()
    for line in lines:
        print(line)
    print("\nPeak RSS is VmHWM of the server process, reset before each load.")


if __name__ == "__main__":
    main()

"""Audit log speed, against raw read rates measured in the same run.

For each store (PostgreSQL from the ``pgserver`` wheel, or ``POSTGRES_*`` settings when
``POSTGRES_HOST`` is set; and a SQLite file) it

* stores ``--events`` synthetic records (300-byte states, as compressed and encrypted
  trades are) with eventsourcing's own batched insert;
* times the tree follower integrating them (records/s, leaves + subtree hashes + tracking
  position in one transaction per batch, a signed checkpoint every 10,000);
* times the raw read of the same records through ``select_notifications`` (baseline), then
  replay + Merkle verify from the store (``audit verify --db``);
* writes the export file, times a raw pass over its frames (baseline), then replay +
  verify from the file (``audit verify --from``);
* builds a tree of ``--leaves`` leaves directly in the audit tables and times inclusion
  proofs (by leaf index, and by event id) through ``AuditLog``: p50/p99 latency.

On SQLite it also records real trades through the Ledger (AES-GCM + zlib) and times the
full cipher-key audit (decode every event, rebuild every aggregate) against the mapper's
decode-only rate.

Each replay + verify (store, file, cipher key) is timed once per ``--workers`` count
(default ``1,<cores>``): ``audit verify --workers N``, with its speed-up over the first
count in the same run.

Run: ``.venv/bin/python -m bench.audit_bench`` (``--quick`` for a smoke run;
``--leaves 10000000`` for the 10M proof measurement; ``--no-proofs`` to skip the proofs).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment

from bench.postgres import postgres_urls
from ledger.audit.export import read_export, write_export
from ledger.audit.follower import CheckpointPolicy
from ledger.audit.log import APPLICATION_NAME, AuditLog
from ledger.audit.parallel import start_workers
from ledger.audit.replay import Replayer, default_checks
from ledger.audit.store import AuditStore, TreeState
from ledger.audit.stream import StreamRecord, database_stream
from ledger.audit.verify import StreamVerifier
from ledger.audit.workers import cpu_count, process_pool
from ledger.config import StoreConfig
from tests.ontime import on_time_ledger
from tlog.compact_range import CompactRange
from tlog.note import NoteSigner

TOPIC = "ledger.domain.trade:Trade.Recorded"
ORIGIN = "bench.valedger/audit"




def open_recorder(url: str) -> tuple[Any, Any]:
    """Returns (factory, recorder) of a store, tables created."""
    env = Environment(APPLICATION_NAME, StoreConfig(url=url).eventsourcing_env())
    factory: Any = InfrastructureFactory.construct(env)
    return factory, factory.application_recorder()


def fill(recorder: Any, n: int, batch: int = 1000) -> float:
    """Stores ``n`` synthetic records; returns the insert rate."""
    started = time.perf_counter()
    for start in range(0, n, batch):
        recorder.insert_events([
            StoredEvent(uuid.uuid4(), 1, TOPIC, os.urandom(300))
            for _ in range(min(batch, n - start))
        ])
    return n / (time.perf_counter() - started)


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}"


class CpuClock:
    """CPU seconds spent by this process and by each of ``workers`` audit worker
    processes (``--workers 1``: none) over a measured call, whatever else loads the
    machine."""

    def __init__(self, workers: int) -> None:
        self.pools = ([process_pool(1, f"audit-{k}") for k in range(workers)]
                      if workers > 1 else [])

    def read(self) -> tuple[float, list[float]]:
        return time.process_time(), [p.submit(time.process_time).result() for p in self.pools]

    def since(self, before: tuple[float, list[float]]) -> str:
        """Returns "this process s / busiest worker s" since ``before``."""
        here, workers = self.read()
        busiest = max((b - a for a, b in zip(before[1], workers, strict=True)), default=0.0)
        return f"{here - before[0]:.2f} / {busiest:.2f}"


def measure_store(name: str, url: str, events: int, workdir: Path, workers: list[int]
                  ) -> list[list[str]]:
    """Returns table rows for one store (a verify row per worker count, the first being
    the baseline of the last column)."""
    factory, recorder = open_recorder(url)
    rows: list[list[str]] = []
    try:
        insert_rate = fill(recorder, events)
        rows.append([name, "eventsourcing batched insert (setup)", f"{insert_rate:,.0f}",
                     "", "", ""])
        signer = NoteSigner.generate(ORIGIN)
        log = AuditLog(recorder, signer=signer, batch_size=5000,
                       policy=CheckpointPolicy(every_records=10_000, every_seconds=0))
        started = time.perf_counter()
        assert log.follower.catch_up() == events
        follow = time.perf_counter() - started
        log.follower.checkpoint_now()
        rows.append([name, "follower: integrate records", rate(events, follow), "", "", ""])

        started = time.perf_counter()
        position, seen = 0, 0
        while True:
            page = recorder.select_notifications(start=position, limit=5000,
                                                 inclusive_of_start=False)
            seen += len(page)
            if len(page) < 5000:
                break
            position = page[-1].id
        raw_db = time.perf_counter() - started
        assert seen == events
        rows.append([name, "raw read: select_notifications (baseline)", rate(events, raw_db),
                     "1.00", "", ""])

        verifier = StreamVerifier(signer.verifier)
        config = StoreConfig(url=url, create_tables=False)  # workers open the store
        single_db = 0.0
        for n in workers:
            if n > 1:
                started = time.perf_counter()
                start_workers(n)
                rows.append([name, f"start {n} worker processes (once per command)",
                             f"{time.perf_counter() - started:.2f} s", "", "", ""])
            clock = CpuClock(n)
            before = clock.read()
            started = time.perf_counter()
            report = verifier.verify(database_stream(log.store, ORIGIN, config=config),
                                     workers=n)
            verify_db = time.perf_counter() - started
            cpu = clock.since(before)
            assert report.ok and report.records == events, report.faults[:3]
            single_db = single_db or verify_db
            rows.append([name, f"replay + Merkle verify from the store, --workers {n}",
                         rate(events, verify_db), f"{raw_db / verify_db:.2f}",
                         f"{single_db / verify_db:.2f}", cpu])

        path = workdir / f"{name}.export"
        started = time.perf_counter()
        with path.open("wb") as f:
            write_export(database_stream(log.store, ORIGIN), f)
        export_s = time.perf_counter() - started
        rows.append([name, f"export file write ({path.stat().st_size / 2**20:.0f} MiB)",
                     rate(events, export_s), "", "", ""])
        started = time.perf_counter()
        with path.open("rb") as f:
            n = sum(1 for item in read_export(f).items if type(item) is StreamRecord)
        raw_file = time.perf_counter() - started
        assert n == events
        rows.append([name, "raw read: export frames (baseline)", rate(events, raw_file),
                     "1.00", "", ""])
        single_file = 0.0
        for n in workers:
            clock = CpuClock(n)
            before = clock.read()
            started = time.perf_counter()
            with path.open("rb") as f:
                report = verifier.verify(read_export(f), workers=n)
            verify_file = time.perf_counter() - started
            cpu = clock.since(before)
            assert report.ok and report.records == events, report.faults[:3]
            single_file = single_file or verify_file
            rows.append([name, f"replay + Merkle verify from the export file, --workers {n}",
                         rate(events, verify_file), f"{raw_file / verify_file:.2f}",
                         f"{single_file / verify_file:.2f}", cpu])
        path.unlink()
    finally:
        factory.close()
    return rows


def synthetic_tree(url: str, leaves: int, chunk: int = 200_000) -> tuple[Any, AuditLog, float]:
    """Builds a tree of ``leaves`` leaves directly in the audit tables; returns the log."""
    factory, recorder = open_recorder(url)
    store = AuditStore.for_recorder(recorder)
    store.create_tables()
    compact = CompactRange()
    started = time.perf_counter()
    sha = hashlib.sha256
    db_id = store.db_id
    for start in range(0, leaves, chunk):
        leaf_rows, node_rows = [], []
        for i in range(start, min(start + chunk, leaves)):
            h = sha(i.to_bytes(8, "big")).digest()
            # Event ids are distinct, as the unique (originator id, version) index requires.
            leaf_rows.append((i, i + 1, db_id(uuid.UUID(int=i + 1)), 1, h))
            node_rows.extend(compact.append(h)[1:])
        with store.write() as tx:
            assert tx is not None
            tx.insert_leaves(leaf_rows)
            tx.insert_nodes(node_rows)
            tx.write_state(TreeState(compact.size, compact))
    build = time.perf_counter() - started
    return factory, AuditLog(recorder, create_tables=False), build


def proof_latency(name: str, url: str, leaves: int, samples: int) -> list[list[str]]:
    """Returns rows with inclusion-proof latency at ``leaves`` leaves: without the tree's
    upper levels in memory (the baseline) and with them (``AuditLog.hot``), proof by
    proof in alternation, on the same leaves."""
    from ledger.audit.hot_nodes import HotNodes

    factory, log, build = synthetic_tree(url, leaves)
    rng = random.Random(7)
    rows = []
    try:
        root = log.state().compact.root()
        from tlog.inclusion import verify_inclusion

        variants = {"no hot levels": HotNodes(capacity=0), "hot upper levels": HotNodes()}
        for kind in ("by leaf index", "by event id"):
            times: dict[str, list[float]] = {variant: [] for variant in variants}
            for _ in range(samples):
                i = rng.randrange(leaves)
                order = list(variants.items())
                rng.shuffle(order)
                for variant, hot in order:
                    log.hot = hot
                    started = time.perf_counter()
                    if kind == "by event id":
                        proof = log.event_inclusion_proof(uuid.UUID(int=i + 1), 1)
                    else:
                        proof = log.inclusion_proof(i)
                    times[variant].append(time.perf_counter() - started)
                    verify_inclusion(i, leaves, proof.leaf_hash, proof.hashes, root)
            for variant, measured in times.items():
                measured.sort()
                p50 = statistics.median(measured) * 1000
                p99 = measured[int(len(measured) * 0.99) - 1] * 1000
                rows.append([name, f"{leaves:,}", f"{kind}, {variant}", f"{p50:.3f}",
                             f"{p99:.3f}", f"{build:.0f}"])
    finally:
        factory.close()
    return rows


def cipher_replay(url: str, trades: int, workers: list[int]) -> list[list[str]]:
    """Returns a row per worker count: full cipher-key audit rate (with the replay checks
    of ``audit verify --cipher-key``) against the mapper's decode-only rate in this
    process, and against the first worker count."""
    from eventsourcing.cipher import AESCipher

    from ledger.domain.trade import TradeRequest, WalletKind
    from tests.ledger.conftest import T0, build_market

    key = AESCipher.create_key(32)
    ledger = on_time_ledger(StoreConfig(url=url, cipher_key=key))
    try:
        market = build_market(ledger)
        from decimal import Decimal

        for start in range(0, trades, 1000):
            ledger.record_trades([
                TradeRequest(request_id=f"r{i}", exchange_licence_id=market.licence,
                             exchange_trade_id=f"x{i}", asset="BTC", quantity=Decimal(1),
                             price=Decimal("100"), quote_currency="USD",
                             buyer_id=market.buyer, seller_id=market.seller,
                             counterparty_vasp_id=None, counterparty_country="KZ",
                             wallet_kind=WalletKind.HOSTED, at=T0)
                for i in range(start, min(start + 1000, trades))])
        signer = NoteSigner.generate(ORIGIN)
        log = AuditLog(ledger.recorder, signer=signer)
        log.follower.checkpoint_now()
        notes = ledger.recorder.select_notifications(start=None, limit=10**7)
        started = time.perf_counter()
        for n in notes:
            ledger.mapper.to_domain_event(n)
        decode = time.perf_counter() - started
        rows, single = [], 0.0
        for n in workers:
            replayer = Replayer(ledger.mapper, default_checks())
            if n > 1:
                start_workers(n)
            clock = CpuClock(n)
            before = clock.read()
            started = time.perf_counter()
            report = StreamVerifier(signer.verifier, replayer=replayer).verify(
                database_stream(log.store, ORIGIN, config=StoreConfig(url, create_tables=False)),
                workers=n)
            full = time.perf_counter() - started
            cpu = clock.since(before)
            assert report.ok and report.events_decoded == len(notes), report.faults[:3]
            single = single or full
            rows.append(["sqlite", f"{len(notes):,} ledger events (AES-GCM + zlib)",
                         str(n), rate(len(notes), decode), rate(len(notes), full),
                         f"{decode / full:.2f}", f"{single / full:.2f}", cpu])
        return rows
    finally:
        ledger.close()


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--trades", type=int, default=5000)
    parser.add_argument("--stores", default="postgres,sqlite")
    parser.add_argument("--workers", default=f"1,{cpu_count()}",
                        help="worker counts of `audit verify --workers` to time, one row each "
                             "(the first is the baseline of the last column)")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--proofs-only", action="store_true",
                        help="only the inclusion-proof latency (e.g. with --leaves 10000000)")
    parser.add_argument("--no-proofs", action="store_true",
                        help="skip the inclusion-proof latency (audit rates only)")
    args = parser.parse_args()
    if args.quick:
        args.events, args.leaves, args.samples, args.trades = 3000, 20_000, 200, 500
    stores = args.stores.split(",")
    workers = list(dict.fromkeys(int(n) for n in args.workers.split(",")))
    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    rows: list[list[str]] = []
    proofs: list[list[str]] = []
    with postgres_urls("audit_bench_") as fresh_pg:
        for store in stores:
            if not args.proofs_only:
                url = fresh_pg() if store == "postgres" else f"sqlite:///{workdir / 'a.db'}"
                print(f"{store}: {args.events:,} records …", flush=True)
                rows += measure_store(store, url, args.events, workdir, workers)
            if args.no_proofs:
                continue
            url = fresh_pg() if store == "postgres" else f"sqlite:///{workdir / 't.db'}"
            print(f"{store}: proofs at {args.leaves:,} leaves …", flush=True)
            proofs += proof_latency(store, url, args.leaves, args.samples)
        if not args.proofs_only:
            print("sqlite: cipher-key replay …", flush=True)
            replay = cipher_replay(f"sqlite:///{workdir / 'c.db'}", args.trades, workers)
    load_after = os.getloadavg()[0]
    print()
    print(f"Machine: {platform.node()}, {os.cpu_count()} core(s) ({platform.machine()}), "
          f"Python {platform.python_version()}; 1-min load average {load_before:.2f} before, "
          f"{load_after:.2f} after.")
    print()
    if rows:
        print(table(["store", "what", "records/s", "vs baseline", "vs 1st worker count",
                     "CPU s: this process / busiest worker"], rows))
        print()
    if proofs:
        print(table(["store", "leaves", "inclusion proof", "p50 ms", "p99 ms",
                     "tree build s"], proofs))
    if not args.proofs_only:
        print()
        print(table(["store", "events", "workers", "decode only /s", "full audit /s",
                     "vs decode", "vs 1st worker count",
                     "CPU s: this process / busiest worker"], replay))


if __name__ == "__main__":
    main()

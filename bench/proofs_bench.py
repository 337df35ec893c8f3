"""What recording mining proofs and signed envelopes costs the ledger, in one run.

Per store (a SQLite file; PostgreSQL from the ``pgserver`` wheel, or ``POSTGRES_*``):

* proof batches: ``Ledger.submit_proof_batch`` of a batch of N genuine shares (parse,
  verify on the CPU backend, decide duplicates against the licence's index, encode and
  save ``ProofBatch.Verified``), against the baseline ``parse_batch`` + ``verify_batch``
  of the same batch measured in the same run; and the audit replay check re-verifying
  that stored batch;
* trades: ``Ledger.record_trades`` in transactions of 500 with a signed envelope stored
  in each ``Trade`` event, against the same trades without envelopes (the baseline).

Shares are mined by ``verifier.simulator`` at difficulty 2⁻³² (every hash is a share), so
a large batch of genuine shares costs one hash per share to make. Each figure is the
median of ``--repeats`` runs (default ``REPEATS``), the packed ingest's ratio the median
of as many pairs (bare ``verify_batch`` and ingest of the same batch, back to back), the
replay checks' the best of ``REPEATS``.

Run: ``.venv/bin/python -m bench.proofs_bench [--shares N] [--trades N] [--repeats N]
[--no-write]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eventsourcing.cipher import AESCipher

from bench.ledger_bench import Market
from bench.postgres import postgres_urls
from bench.results_file import results_path
from ledger.application import Ledger
from ledger.audit.leaf import LeafRecord
from ledger.audit.proof_checks import DEFAULT_REPLAY_SHARES, ProofReplayCheck
from ledger.audit.replay import Replayer
from ledger.config import StoreConfig
from ledger.domain.envelope import Envelope, signed_bytes
from ledger.domain.trade import TradeRequest
from ledger.proof_payloads import PACKED_BATCH_PAYLOAD_TYPE, pack_proof_batch
from ledger.proofs import ProofSubmission
from tests.ontime import on_time_ledger
from verifier.backends import Backend
from verifier.batch import parse_batch
from verifier.config import VerifierConfig
from verifier.cpu import CpuBackend, cpu_count
from verifier.simulator import honest_miner, mine_period
from verifier.verification import verify_batch
from verifier.wire_format import decode_packed

RESULTS = results_path()
SECTION = "## Ledger: proof batches and envelopes"
REPEATS = 3
START = datetime(2026, 1, 1, tzinfo=UTC)
P0 = datetime(2026, 3, 2, tzinfo=UTC)
TAG = b"/bench/"
TRADE_BATCH = 500
VERIFIER = VerifierConfig(backend="cpu", workers=1, inprocess_threshold=10**9)
"""The ledger's verifier in the bench: the CPU backend on one core in this process, like
the baseline (``--backend cuda`` switches both to the GPU)."""


def mined_batches(shares: int, count: int) -> list[dict[str, Any]]:
    """Returns ``count`` distinct batches of about ``shares`` genuine shares each."""
    miner = honest_miner(Decimal(shares) / 600, TAG, share_difficulty=Decimal(2) ** -32)
    return [mine_period(miner, start_time=int(P0.timestamp()) + 600 * i, seconds=600,
                        network_difficulty=1, seed=i, max_shares=4 * shares).batch
            for i in range(count)]


class BenchLedger(Ledger):
    """A ledger whose verifier hashes in this process on one core, like the baseline."""

    name = Ledger.name

    verifier = VERIFIER

    def construct_proof_submission(self) -> ProofSubmission:
        return ProofSubmission(self, self.clock, self.proof_index, self.envelopes,
                               self.verifier)


def proof_rows(store: str, url: str, shares: int, backend: Backend,
               every_core: Backend | None = None, repeats: int = REPEATS
               ) -> list[list[str]]:
    """Returns the proof-batch rows of one store: ingest of the JSON form (before) and of
    the packed form in a signed envelope (after) against bare ``verify_batch`` of a batch
    of the same size, the packed ingest's ratio as the median of ``repeats`` pairs of the
    same batch; the audit replay check alone per batch (before) and gathered (after)."""
    batches = mined_batches(shares, 4 * repeats + 1)
    ledger = on_time_ledger(StoreConfig(url=url, cipher_key=AESCipher.create_key(32)),
                            cls=BenchLedger)
    key = Ed25519PrivateKey.generate()
    try:
        p = ledger.register_participant("reg", "ENTERPRISE", "Miner", "T", "KZ", at=START)
        ledger.approve_participant("app", p.aggregate_id, at=START)
        ledger.register_key("key", p.aggregate_id, "k1", key.public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw), at=START)
        licence = ledger.grant_mining_licence(
            "grant", p.aggregate_id, "R", "Z", "M", Decimal(1), Decimal(25), [TAG.hex()],
            START, START + timedelta(days=365), at=START).aggregate_id
        ledger.submit_proof_batch("warm", licence, batches[-1], at=P0)
        texts = [json.dumps(b) for b in batches]
        packed = [pack_proof_batch(b) for b in batches]
        via_json: list[float] = []
        parse: list[float] = []
        decode: list[float] = []
        bare: list[float] = []
        via_packed: list[float] = []
        cpu_bare: list[float] = []
        cpu_packed: list[float] = []
        paired: list[float] = []
        paired_cpu: list[float] = []
        for i in range(repeats):
            parsed = parse_batch(texts[4 * i + 3])
            started = time.perf_counter()
            parse_batch(texts[4 * i + 1])
            parse.append(time.perf_counter() - started)
            started = time.perf_counter()
            decode_packed(packed[4 * i + 1])
            decode.append(time.perf_counter() - started)
            started = time.perf_counter()
            receipt = ledger.submit_proof_batch(f"j{i}", licence, texts[4 * i + 2], at=P0)
            via_json.append(time.perf_counter() - started)
            assert receipt.counts["ACCEPTED"] == receipt.shares
            data = packed[4 * i + 3]
            envelope = Envelope(data, PACKED_BATCH_PAYLOAD_TYPE,
                                key.sign(signed_bytes(PACKED_BATCH_PAYLOAD_TYPE, data)), "k1")
            verify_bare = partial(verify_batch, parsed, coinbase_tags=[TAG], backend=backend)
            ingest = partial(ledger.submit_proof_batch, f"p{i}", licence, envelope, at=P0)
            # The same batch both ways, one right after the other, the order swapped each
            # repeat: the machine's speed drifts less within a pair than across the run.
            pair = ((verify_bare, bare, cpu_bare), (ingest, via_packed, cpu_packed))
            for step, walls, cpus in (pair if i % 2 == 0 else pair[::-1]):
                started, cpu = time.perf_counter(), time.process_time()
                result = step()
                walls.append(time.perf_counter() - started)
                cpus.append(time.process_time() - cpu)
                if step is ingest:
                    assert result.counts["ACCEPTED"] == result.shares
            paired.append(bare[-1] / via_packed[-1])
            paired_cpu.append(cpu_bare[-1] / cpu_packed[-1])
        n = len(batches[0]["shares"])

        def rate(times: list[float]) -> float:
            return n / statistics.median(times)

        bare_rate = rate(bare)
        replayed = (2 * repeats + 1) * n  # every batch recorded so far, JSON and packed
        cores = every_core or CpuBackend(workers=cpu_count())
        one = "1 process" if backend.name == "cpu" else backend.name
        alone = replayed / min(replay_seconds(ledger, backend, 0) for _ in range(REPEATS))
        alone_all = replayed / min(replay_seconds(ledger, cores, 0) for _ in range(REPEATS))
        gathered_one = replayed / min(replay_seconds(ledger, backend, DEFAULT_REPLAY_SHARES, 1)
                                      for _ in range(REPEATS))
        gathered = replayed / min(replay_seconds(ledger, cores, DEFAULT_REPLAY_SHARES)
                                  for _ in range(REPEATS))
        return [
            [store, "wire: JSON parse + pack → packed decode", f"{n:,} shares",
             f"{rate(decode):,.0f} shares/s", f"{rate(parse):,.0f} shares/s",
             f"{rate(parse) / rate(decode):.3f}"],
            [store, "ingest, JSON (before)", f"{n:,} shares", f"{rate(via_json):,.0f} shares/s",
             f"{bare_rate:,.0f} shares/s", f"{rate(via_json) / bare_rate:.2f}"],
            [store, "ingest, packed in a signed envelope (after)", f"{n:,} shares",
             f"{rate(via_packed):,.0f} shares/s", f"{bare_rate:,.0f} shares/s",
             f"{statistics.median(paired):.2f} ({min(paired):.2f}–{max(paired):.2f}; "
             f"CPU {statistics.median(paired_cpu):.2f})"],
            [store, f"replay check, each batch alone, {one} (before)",
             f"{replayed:,} shares", f"{alone:,.0f} shares/s", f"{bare_rate:,.0f} shares/s",
             f"{alone / bare_rate:.2f}"],
            [store, f"replay check, each batch alone, {describe(cores)}",
             f"{replayed:,} shares", f"{alone_all:,.0f} shares/s", f"{bare_rate:,.0f} shares/s",
             f"{alone_all / bare_rate:.2f}"],
            [store, f"replay check, gathered, {one}", f"{replayed:,} shares",
             f"{gathered_one:,.0f} shares/s", f"{bare_rate:,.0f} shares/s",
             f"{gathered_one / bare_rate:.2f}"],
            [store, f"replay check, gathered, parallel decode, {describe(cores)} (after)",
             f"{replayed:,} shares", f"{gathered:,.0f} shares/s",
             f"{bare_rate:,.0f} shares/s", f"{gathered / bare_rate:.2f}"],
        ]
    finally:
        ledger.close()


def describe(backend: Backend) -> str:
    """Returns how the table names a backend: its processes, or the GPU."""
    return f"{backend.workers} processes" if isinstance(backend, CpuBackend) else backend.name


def replay_seconds(ledger: Ledger, backend: Backend, batch_shares: int,
                   decode_workers: int | None = None) -> float:
    """Returns the time the proof replay check takes over the whole store."""
    notes = ledger.recorder.select_notifications(start=None, limit=1_000_000)
    records = [LeafRecord(n.originator_id, n.originator_version, n.topic, n.state)
               for n in notes]
    replayer = Replayer(ledger.mapper, [ProofReplayCheck(
        backend, batch_shares=batch_shares, decode_workers=decode_workers)])
    started = time.perf_counter()
    faults = [f for leaf, r in enumerate(records) for f in replayer.observe(leaf, r)]
    faults += replayer.finish()
    elapsed = time.perf_counter() - started
    assert not faults, faults
    return elapsed


def sealed_trades(market: Market, count: int, key: Ed25519PrivateKey) -> list[TradeRequest]:
    """Returns trades, each with an envelope signing a payload of its fields."""
    out = []
    for request in market.trades(count, False):
        payload = repr(request.event_fields(Decimal(100))).encode()  # ~protobuf-sized
        out.append(replace(request, envelope=Envelope(
            payload, "valedger.v1.TradePayload",
            key.sign(signed_bytes("valedger.v1.TradePayload", payload)), "k1")))
    return out


def trade_rows(store: str, url: str, trades: int) -> list[list[str]]:
    """Returns the envelope row of one store."""
    ledger = on_time_ledger(StoreConfig(url=url, cipher_key=AESCipher.create_key(32)))
    key = Ed25519PrivateKey.generate()
    try:
        market = Market(ledger)
        ledger.register_key("trade-key", market.exchange, "k1", key.public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw), at=START)
        ledger.record_trades(market.trades(100, False))
        plain: list[float] = []
        signed: list[float] = []
        for _ in range(REPEATS):
            for rates, make in ((plain, lambda: market.trades(trades, False)),
                                (signed, lambda: sealed_trades(market, trades, key))):
                requests = make()
                started = time.perf_counter()
                for i in range(0, trades, TRADE_BATCH):
                    ledger.record_trades(requests[i:i + TRADE_BATCH])
                rates.append(trades / (time.perf_counter() - started))
        with_env, without = statistics.median(signed), statistics.median(plain)
        return [[store, f"trades, batches of {TRADE_BATCH}", f"{trades:,} trades",
                 f"{with_env:,.0f} trades/s", f"{without:,.0f} trades/s",
                 f"{with_env / without:.2f}"]]
    finally:
        ledger.close()


def render(rows: list[list[str]], command: str, load: tuple[float, float]) -> str:
    """Returns the section of RESULTS.md."""
    header = ["store", "what", "size", "with it", "baseline", "ratio"]
    lines = [
        SECTION, "",
        f"Command: `{command}`",
        f"Machine: {platform.node()}, {os.cpu_count()} core(s), Python "
        f"{platform.python_version()}, shared with other engineers' jobs (1-min load "
        f"{load[0]:.2f} before, {load[1]:.2f} after); {datetime.now(UTC):%Y-%m-%d}.", "",
        "Wire: `decode_packed` of the packed form (with it) against `parse_batch` of the "
        "JSON text (baseline); the ratio is the packed decode's time as a fraction of the "
        "JSON parse's. Ingest: `Ledger.submit_proof_batch` (parse or decode, CPU "
        "verification in process on one core, duplicate decision, event encoding with zlib "
        "+ AES-GCM, save; the packed form also checks the Ed25519 signature and stores the "
        "envelope) against bare `verify_batch` of an already parsed batch of the same size "
        "on the same one-core backend (DESIGN §8: ingest ≥ 0.8 × that); the packed "
        "ingest's ratio is the median, with the range, of pairs that verify and ingest "
        "the same batch one right after the other (the order swapped each pair) by wall "
        "time, \"CPU\" the same median of this process's CPU times (PostgreSQL's own work "
        "is not in it). Replay check: "
        "`ProofReplayCheck` re-verifying every stored batch (decode, verify, compare), each "
        "alone as it comes or gathered (decoded in worker processes, verified in one "
        "`verify_batches` call), against the same baseline. Trades: `record_trades` with a "
        "signed "
        "envelope stored in each event against the same trades without one"
        + ("" if any(r[1].startswith("trades") for r in rows) else
           " (not measured in this run: `--trades 0`)")
        + ". Figures on this shared VM move by ±30% between runs with the other "
        "engineers' load.", "",
        f"| {' | '.join(header)} |",
        "|---|---|---:|---:|---:|---:|",
        *[f"| {' | '.join(r)} |" for r in rows],
    ]
    return "\n".join(lines) + "\n"


def write_section(section: str, path: Path = RESULTS) -> None:
    """Replaces (or appends) this bench's section, keeping the others."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n\n" + section
    path.write_text(text)


def main() -> None:
    """Measures and prints (and by default records) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", type=int, default=20_000)
    parser.add_argument("--trades", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=REPEATS,
                        help="pairs of the same batch (bare verify_batch, packed ingest) "
                             "whose median ratio the ingest row gives")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--backend", choices=["cpu", "cuda"], default="cpu",
                        help="the verifier of the ledger and of the baseline (cuda: the GPU)")
    parser.add_argument("--stores", nargs="+", choices=["sqlite", "postgres"],
                        default=["sqlite", "postgres"])
    args = parser.parse_args()
    command = ".venv/bin/python -m bench.proofs_bench" + (
        f" --shares {args.shares}" if args.shares != 20_000 else "") + (
        f" --trades {args.trades}" if args.trades != 2_000 else "") + (
        f" --repeats {args.repeats}" if args.repeats != REPEATS else "") + (
        f" --backend {args.backend}" if args.backend != "cpu" else "")
    before = os.getloadavg()[0]
    backend: Backend = CpuBackend(workers=1, inprocess_threshold=VERIFIER.inprocess_threshold)
    every_core: Backend | None = None
    if args.backend == "cuda":
        from verifier.cuda import CudaBackend

        backend = every_core = CudaBackend()
        BenchLedger.verifier = VerifierConfig(backend="cuda")
    rows: list[list[str]] = []
    folder = Path(tempfile.mkdtemp(prefix="bench-proofs-"))
    if "sqlite" in args.stores:
        rows += proof_rows("SQLite", f"sqlite:///{folder}/proofs.db", args.shares, backend,
                           every_core, args.repeats)
        if args.trades:  # --trades 0: the proof rows only
            rows += trade_rows("SQLite", f"sqlite:///{folder}/trades.db", args.trades)
    if "postgres" in args.stores:
        with postgres_urls() as fresh:
            rows += proof_rows("PostgreSQL", fresh(), args.shares, backend, every_core,
                               args.repeats)
            if args.trades:
                rows += trade_rows("PostgreSQL", fresh(), args.trades)
    section = render(rows, command, (before, os.getloadavg()[0]))
    print(section)
    if not args.no_write:
        write_section(section)


if __name__ == "__main__":
    main()

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
median of ``REPEATS`` alternating runs.

Run: ``.venv/bin/python -m bench.proofs_bench [--shares N] [--trades N] [--no-write]``
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.cipher import AESCipher

from bench.ledger_bench import Market
from bench.postgres import postgres_urls
from bench.results_file import results_path
from ledger.application import Ledger
from ledger.audit.leaf import LeafRecord
from ledger.audit.proof_checks import ProofReplayCheck
from ledger.audit.replay import Replayer
from ledger.config import StoreConfig
from ledger.domain.envelope import Envelope, signed_bytes
from ledger.domain.trade import TradeRequest
from ledger.proofs import ProofSubmission
from tests.ontime import on_time_ledger
from verifier.batch import parse_batch
from verifier.config import VerifierConfig
from verifier.cpu import CpuBackend
from verifier.simulator import honest_miner, mine_period
from verifier.verification import verify_batch

RESULTS = results_path()
SECTION = "## Ledger: proof batches and envelopes"
REPEATS = 3
START = datetime(2026, 1, 1, tzinfo=UTC)
P0 = datetime(2026, 3, 2, tzinfo=UTC)
TAG = b"/bench/"
TRADE_BATCH = 500
VERIFIER = VerifierConfig(backend="cpu", workers=1, inprocess_threshold=10**9)


def mined_batches(shares: int, count: int) -> list[dict[str, Any]]:
    """Returns ``count`` distinct batches of about ``shares`` genuine shares each."""
    miner = honest_miner(Decimal(shares) / 600, TAG, share_difficulty=Decimal(2) ** -32)
    return [mine_period(miner, start_time=int(P0.timestamp()) + 600 * i, seconds=600,
                        network_difficulty=1, seed=i, max_shares=4 * shares).batch
            for i in range(count)]


class BenchLedger(Ledger):
    """A ledger whose verifier hashes in this process on one core, like the baseline."""

    name = Ledger.name

    def construct_proof_submission(self) -> ProofSubmission:
        return ProofSubmission(self, self.clock, self.proof_index, self.envelopes, VERIFIER)


def proof_rows(store: str, url: str, shares: int, backend: CpuBackend) -> list[list[str]]:
    """Returns the proof-batch rows of one store."""
    batches = mined_batches(shares, 2 * REPEATS + 1)
    ledger = on_time_ledger(StoreConfig(url=url, cipher_key=AESCipher.create_key(32)),
                            cls=BenchLedger)
    try:
        p = ledger.register_participant("reg", "ENTERPRISE", "Miner", "T", "KZ", at=START)
        ledger.approve_participant("app", p.aggregate_id, at=START)
        licence = ledger.grant_mining_licence(
            "grant", p.aggregate_id, "R", "Z", "M", Decimal(1), Decimal(25), [TAG.hex()],
            START, START + timedelta(days=365), at=START).aggregate_id
        ledger.submit_proof_batch("warm", licence, batches[-1], at=P0)
        bare, ours, replay = [], [], []
        for i in range(REPEATS):
            started = time.perf_counter()
            verify_batch(parse_batch(batches[2 * i]), coinbase_tags=[TAG], backend=backend)
            bare.append(time.perf_counter() - started)
            started = time.perf_counter()
            receipt = ledger.submit_proof_batch(f"b{i}", licence, batches[2 * i + 1], at=P0)
            ours.append(time.perf_counter() - started)
            assert receipt.counts["ACCEPTED"] == receipt.shares
            replay.append(replay_seconds(ledger, backend))
        n = len(batches[0]["shares"])
        bare_rate, our_rate = n / statistics.median(bare), n / statistics.median(ours)
        # The replay re-verifies every batch recorded so far; time per share over all.
        replayed = (REPEATS + 1) * n
        replay_rate = replayed / statistics.median(replay)
        return [[store, "proof batch", f"{n:,} shares", f"{our_rate:,.0f} shares/s",
                 f"{bare_rate:,.0f} shares/s", f"{our_rate / bare_rate:.2f}"],
                [store, "replay check", f"{replayed:,} shares", f"{replay_rate:,.0f} shares/s",
                 f"{bare_rate:,.0f} shares/s", f"{replay_rate / bare_rate:.2f}"]]
    finally:
        ledger.close()


def replay_seconds(ledger: Ledger, backend: CpuBackend) -> float:
    """Returns the time the proof replay check takes over the whole store."""
    notes = ledger.recorder.select_notifications(start=None, limit=1_000_000)
    records = [LeafRecord(n.originator_id, n.originator_version, n.topic, n.state)
               for n in notes]
    replayer = Replayer(ledger.mapper, [ProofReplayCheck(backend)])
    started = time.perf_counter()
    faults = [f for leaf, r in enumerate(records) for f in replayer.observe(leaf, r)]
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
        "Proof batch: `Ledger.submit_proof_batch` (parse, CPU verification in process, "
        "duplicate decision, event encoding with zlib + AES-GCM, save) against bare "
        "`parse_batch` + `verify_batch` of a batch of the same size. Replay check: "
        "`ProofReplayCheck` re-verifying every stored batch (decode, parse, verify, "
        "compare) against the same baseline. Trades: `record_trades` with a signed "
        "envelope stored in each event against the same trades without one. Figures on "
        "this shared VM move by ±30% between runs with the other engineers' load.", "",
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
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    command = ".venv/bin/python -m bench.proofs_bench" + (
        f" --shares {args.shares}" if args.shares != 20_000 else "") + (
        f" --trades {args.trades}" if args.trades != 2_000 else "")
    before = os.getloadavg()[0]
    backend = CpuBackend(workers=1, inprocess_threshold=VERIFIER.inprocess_threshold)
    rows: list[list[str]] = []
    folder = Path(tempfile.mkdtemp(prefix="bench-proofs-"))
    rows += proof_rows("SQLite", f"sqlite:///{folder}/proofs.db", args.shares, backend)
    rows += trade_rows("SQLite", f"sqlite:///{folder}/trades.db", args.trades)
    with postgres_urls() as fresh:
        rows += proof_rows("PostgreSQL", fresh(), args.shares, backend)
        rows += trade_rows("PostgreSQL", fresh(), args.trades)
    section = render(rows, command, (before, os.getloadavg()[0]))
    print(section)
    if not args.no_write:
        write_section(section)


if __name__ == "__main__":
    main()

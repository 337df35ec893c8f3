"""Crash safety: a follower process killed at random points while records stream in
leaves a tree that, after a restart, equals a full recomputation, with every earlier
checkpoint still consistent."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from pathlib import Path

from ledger.audit.follower import CheckpointPolicy
from ledger.audit.log import AuditLog
from ledger.audit.stream import database_stream
from ledger.audit.verify import StreamVerifier
from ledger.config import StoreConfig
from tests.ledger.audit.conftest import ORIGIN, AuditedLedger, RawDB
from tests.ledger.audit.test_follower import assert_tree_matches_store
from tests.ledger.conftest import build_market
from tests.ontime import on_time_ledger
from tlog.note import NoteSigner

ROOT = Path(__file__).resolve().parents[3]
ROUNDS = 4


def test_follower_killed_at_random_points(store_url: str, tmp_path: Path) -> None:
    ledger = on_time_ledger(StoreConfig(url=store_url))
    market = build_market(ledger)
    signer = NoteSigner.generate(ORIGIN)
    key_file = tmp_path / "audit.key"
    key_file.write_text(signer.to_skey())
    log = AuditLog(ledger.recorder, signer=signer,
                   policy=CheckpointPolicy(every_records=4, every_seconds=0))
    rng = random.Random(20260101)
    stop = threading.Event()
    written = [0]

    def write() -> None:
        while not stop.is_set():
            ledger.record_trade(market.trade(f"c{written[0]}"))
            written[0] += 1
            time.sleep(0.002)

    writer = threading.Thread(target=write)
    writer.start()
    sizes = []
    try:
        for _ in range(ROUNDS):
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.ledger.audit.follower_process", store_url,
                 str(key_file)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.05, 0.4))
            proc.kill()
            proc.wait()
            sizes.append(log.state().size)
    finally:
        stop.set()
        writer.join()
    # Most rounds made progress, so the kills landed while the follower was working.
    progressed = sum(b > a for a, b in zip([0, *sizes], sizes, strict=False))
    assert progressed >= ROUNDS // 2, sizes
    # PostgreSQL ends the killed follower's transaction (and frees its advisory lock) only
    # once it notices the connection gone; until then a step finds the lock held.
    deadline = time.monotonic() + 30
    while log.follower.step() is None:
        assert time.monotonic() < deadline, "the killed follower's lock was never released"
        time.sleep(0.05)
    log.follower.catch_up()
    raw = RawDB(store_url, ledger.recorder.events_table_name)
    try:
        audited = AuditedLedger(store_url, ledger, market, signer, log, raw)
        assert_tree_matches_store(audited)
        report = StreamVerifier(signer.verifier).verify(database_stream(log.store, ORIGIN))
        assert report.ok, report.faults
        assert report.checkpoints_matched == len(log.checkpoints()) >= 4
        assert report.records == log.state().size == 9 + written[0]  # the market: 9 events
    finally:
        raw.close()
        ledger.close()

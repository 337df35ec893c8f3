"""Two `valedger serve` processes on one PostgreSQL serve one ledger: writes through either
land in one global order, under one audit tree, and none is lost."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.client import LedgerClient
from services.generated.valedger.v1 import audit_pb2, trading_pb2
from tests.services.harness import AUDIT_SIGNER, World, build_world, free_port, trade
from tlog.inclusion import verify_inclusion

TRADES_PER_SERVER = 120


@pytest.fixture
def two_servers(tmp_path: Path, postgres_url: str) -> Iterator[tuple[World, str]]:
    world = build_world(tmp_path, postgres_url)
    key_file = tmp_path / "audit.key"
    key_file.write_text(AUDIT_SIGNER.to_skey() + "\n")
    port = free_port()
    env = dict(os.environ, VALEDGER_AUDIT_SIGNING_KEY_FILE=str(key_file),
               VALEDGER_AUDIT_ORIGIN=AUDIT_SIGNER.name,
               VALEDGER_AUDIT_CHECKPOINT_EVERY_RECORDS="10",
               VALEDGER_AUDIT_CHECKPOINT_EVERY_SECONDS="1")
    second = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--db", postgres_url, "--listen",
         f"127.0.0.1:{port}", "--ca-dir", str(tmp_path / "ca"), "--server-name", "localhost"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    target = f"127.0.0.1:{port}"
    try:
        with LedgerClient.connect(target, world.cert("regulator"), timeout=5) as probe:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if probe.check_health() == 1:
                        break
                except Exception:
                    if second.poll() is not None or time.monotonic() > deadline:
                        raise
                time.sleep(0.2)
        yield world, target
    finally:
        second.terminate()
        second.wait(30)
        world.stop()


def test_writes_through_both_servers_share_one_order_and_one_tree(
        two_servers: tuple[World, str]) -> None:
    world, second_target = two_servers
    signer = world.signers["exchange_x"]
    clients = [world.client("exchange_x"),
               LedgerClient.connect(second_target, world.cert("exchange_x"), signer,
                                    timeout=60)]
    results: dict[int, trading_pb2.RecordTradesResponse] = {}

    def write(index: int) -> None:
        payloads = [trade(world, f"srv{index}-{n}") for n in range(TRADES_PER_SERVER)]
        # Small streams so that both servers' commits interleave.
        for start in range(0, TRADES_PER_SERVER, 20):
            response = clients[index].record_trades(payloads[start:start + 20])
            results.setdefault(index, trading_pb2.RecordTradesResponse()).results.extend(
                response.results)

    threads = [threading.Thread(target=write, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    written = {r.receipt.aggregate_id for i in (0, 1) for r in results[i].results}
    assert len(written) == 2 * TRADES_PER_SERVER

    regulators = [world.client("regulator"),
                  LedgerClient.connect(second_target, world.cert("regulator"), timeout=60)]
    # One global order: both servers list the same events at the same positions.
    listings = [[(e.position, e.aggregate_id) for e in c.list_events(page_size=200)]
                for c in regulators]
    # The supervisory calendar may append between the two listings: the first is a
    # prefix of the second.
    assert listings[1][:len(listings[0])] == listings[0]
    positions = [p for p, _ in listings[0]]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert written <= {aggregate for _, aggregate in listings[0]}

    # One tree: both servers come to the same signed checkpoint covering every record,
    # and a record written through one server is proved included by the other.
    total = len(listings[0])
    checkpoints = []
    for client in regulators:
        deadline = time.monotonic() + 60
        while True:
            cp = client.audit.GetCheckpoint(audit_pb2.GetCheckpointRequest(),
                                            **client.call_options()).checkpoint
            if cp.tree_size >= total or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        checkpoints.append(cp)
    assert checkpoints[0].tree_size >= total
    # Both read the one checkpoint table: once the writes stop they show the same note.
    deadline = time.monotonic() + 30
    while checkpoints[0].signed_note != checkpoints[1].signed_note \
            and time.monotonic() < deadline:
        time.sleep(1.0)
        checkpoints = [c.audit.GetCheckpoint(audit_pb2.GetCheckpointRequest(),
                                             **c.call_options()).checkpoint
                       for c in regulators]
    assert checkpoints[0].signed_note == checkpoints[1].signed_note
    assert checkpoints[0].root_hash == checkpoints[1].root_hash
    small = min(checkpoints, key=lambda cp: cp.tree_size)
    proof = regulators[1].audit.GetInclusionProof(
        audit_pb2.GetInclusionProofRequest(leaf_index=0, tree_size=small.tree_size),
        **regulators[1].call_options())
    verify_inclusion(proof.leaf_index, small.tree_size, proof.leaf_hash, list(proof.hashes),
                     small.root_hash)  # raises when the proof does not hold
    for client in clients + regulators:
        client.close()


def test_kill_9_of_serve_processes_4_mid_write_keeps_every_acknowledged_trade(
        tmp_path: Path, postgres_url: str) -> None:
    """`serve --processes 4` killed with SIGKILL while trades stream in through several
    connections: its workers end (no orphans), every trade it acknowledged is in the one
    log, and the audit tree comes to cover every record."""
    import os
    import signal

    import psutil

    world = build_world(tmp_path, postgres_url)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--processes", "4", "--db",
         postgres_url, "--listen", f"127.0.0.1:{port}", "--ca-dir", str(tmp_path / "ca"),
         "--server-name", "localhost"],
        env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        seen: list[str] = []
        while '"processes": 4' not in (seen or [""])[-1]:  # all four workers serve
            line = process.stderr.readline()
            assert line, "".join(seen)
            seen.append(line)
        descendants = psutil.Process(process.pid).children(recursive=True)
        assert len(descendants) >= 4
        acknowledged: set[str] = set()
        stop = threading.Event()

        def write(index: int) -> None:
            client = LedgerClient.connect(f"127.0.0.1:{port}", world.cert("exchange_x"),
                                          world.signers["exchange_x"], timeout=30)
            n = 0
            try:
                while not stop.is_set():
                    batch = [trade(world, f"k{index}-{n + k}") for k in range(10)]
                    n += 10
                    response = client.record_trades(batch)
                    acknowledged.update(r.receipt.aggregate_id for r in response.results)
            except Exception:
                pass  # the server went away mid-stream
            finally:
                client.close()

        threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
        gone_by = time.monotonic() + 30
        alive = descendants
        while alive and time.monotonic() < gone_by:
            alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(60)
        assert not alive, [p.cmdline() for p in alive]
        assert len(acknowledged) >= 40

        with world.client("regulator") as regulator:
            listed = [(e.position, e.aggregate_id) for e in regulator.list_events(page_size=500)]
            assert acknowledged <= {aggregate for _, aggregate in listed}
        # The world signs a checkpoint every 10 records: ten more through its own server
        # make one that must cover every record the killed server wrote.
        with world.client("exchange_x") as exchange:
            exchange.record_trades([trade(world, f"after-{k}") for k in range(10)])
        with world.client("regulator") as regulator:
            # A loaded machine (CI on two shared cores) may take minutes; passing runs
            # leave the loop as soon as the tree covers the log.
            deadline = time.monotonic() + 240
            while True:  # the world's own server's follower integrates what is left
                size = regulator.audit.GetCheckpoint(
                    audit_pb2.GetCheckpointRequest(), **regulator.call_options()
                ).checkpoint.tree_size
                if size >= len(listed) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert size >= len(listed)
    finally:
        if process.poll() is None:
            process.kill()
        world.stop()

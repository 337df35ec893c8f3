"""Over real gRPC and mTLS: GetCheckpoint serves the cosigned note of two witnesses, and
`valedger audit monitor` follows it, then catches a split view staged with a second store
signed by the same key (the witnesses refuse it too)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.audit.witnessing import WitnessEndpoint, WitnessPolicy
from ledger.config import StoreConfig
from services.cli import app
from services.generated.valedger.v1 import audit_pb2
from services.tls import TlsFiles
from tests.ledger.audit.conftest import ORIGIN
from tests.ledger.audit.test_witnessing import running_witness
from tests.ledger.conftest import build_market
from tests.ontime import on_time_ledger
from tests.services.harness import AUDIT_SIGNER, ServerThread, World, build_world
from tlog.cosignature import check_cosignatures

runner = CliRunner()


@pytest.fixture(scope="module")
def witnessed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, list]]:
    root: Path = tmp_path_factory.mktemp("witnessed")
    assert AUDIT_SIGNER.name == ORIGIN
    with ExitStack() as stack:
        servers = [stack.enter_context(running_witness(root, name, AUDIT_SIGNER.verifier))
                   for name in ("mof.test", "chamber.test")]
        policy = WitnessPolicy(tuple(WitnessEndpoint(s.url, k.verifier) for s, k in servers),
                               quorum=2, poll_seconds=0.05)
        world = build_world(root, f"sqlite:///{root / 'ledger.db'}", audit_witnesses=policy)
        stack.callback(world.stop)
        yield world, servers


def cosigned_checkpoint(world: World, keys) -> audit_pb2.Checkpoint:
    deadline = time.monotonic() + 30
    with world.client("auditor") as auditor:
        while True:
            try:
                cp = auditor.audit.GetCheckpoint(audit_pb2.GetCheckpointRequest(),
                                                 timeout=10).checkpoint
                if len(check_cosignatures(cp.signed_note, keys).witnesses) == 2:
                    return cp
            except Exception:  # no checkpoint yet
                pass
            assert time.monotonic() < deadline, "checkpoint was not cosigned by both"
            time.sleep(0.1)


def monitor_args(world: World, tls: TlsFiles, state: Path, target: str, keys) -> list[str]:
    args = ["audit", "monitor", "--server", target, "--state", str(state), "--ca-cert",
            str(tls.ca_cert), "--cert", str(tls.cert), "--key", str(tls.key),
            "--public-key", AUDIT_SIGNER.verifier.vkey, "--once"]
    for key in keys:
        args += ["--witness-key", key.vkey]
    return args


def test_get_checkpoint_serves_the_cosigned_note(witnessed):
    world, servers = witnessed
    keys = [k.verifier for _, k in servers]
    cp = cosigned_checkpoint(world, keys)
    assert cp.tree_size > 0
    assert check_cosignatures(cp.signed_note, keys).invalid == ()


def test_monitor_follows_then_catches_a_split_view(witnessed, tmp_path):
    world, servers = witnessed
    keys = [k.verifier for _, k in servers]
    cosigned_checkpoint(world, keys)
    state = tmp_path / "monitor.json"
    tls = world.cert("auditor")
    result = runner.invoke(app, monitor_args(world, tls, state, world.target, keys))
    assert result.exit_code == 0, result.output
    first = state.read_text()
    result = runner.invoke(app, monitor_args(world, tls, state, world.target, keys))
    assert result.exit_code == 0, result.output
    # A second store with another history, checkpoints signed by the same key.
    url = f"sqlite:///{tmp_path / 'fork.db'}"
    ledger = on_time_ledger(StoreConfig(url=url))
    market = build_market(ledger)
    for i in range(40):
        ledger.record_trade(market.trade(f"fork{i}", str(900 + i)))
    ledger.close()
    from tests.services.harness import free_port

    fork = ServerThread(StoreConfig(url=url), TlsFiles.issued(world.ca.issue("server",
                                                                             "localhost")),
                        free_port(), audit_witnesses=WitnessPolicy(
                            tuple(WitnessEndpoint(s.url, k.verifier) for s, k in servers),
                            quorum=2, poll_seconds=0.05))
    try:
        deadline = time.monotonic() + 30
        while fork.backend.audit.latest_checkpoint() is None:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.5)  # the fork's collector tries the witnesses
        # The witnesses refuse the other history: it never reaches the quorum.
        latest = fork.backend.audit.latest_checkpoint()
        assert not check_cosignatures(latest.cosigned_note, keys).witnesses
        assert all(s.witness.store.refused(ORIGIN) for s, _ in servers)
        target = f"127.0.0.1:{fork.port}"
        # Without the quorum the monitor refuses it outright; trusting the log key alone,
        # it proves the split view and prints both signed notes.
        result = runner.invoke(app, monitor_args(world, tls, state, target, keys))
        assert result.exit_code == 1, result.output
        result = runner.invoke(app, monitor_args(world, tls, state, target, []))
        assert result.exit_code == 3, result.output
        assert "checkpoint verified before" in result.output
        assert latest.note.split("\n\n")[0] in result.output
        assert state.read_text() != "" and ORIGIN in first
    finally:
        fork.stop()

"""The log collects cosignatures from real witnesses over HTTP (SQLite and PostgreSQL):
quorum, retries from the witness's size, a witness down, a split view refused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ledger.application import Ledger
from ledger.audit.follower import CheckpointPolicy
from ledger.audit.log import AuditLog
from ledger.audit.proof_bundle import verify_bundle
from ledger.audit.stream import StreamCheckpoint, database_stream
from ledger.audit.witnessing import (
    CosignatureCollector,
    WitnessEndpoint,
    WitnessPolicy,
    WitnessPolicyError,
    load_witness_policy,
)
from ledger.config import StoreConfig
from services.witness.core import Witness
from services.witness.http import WitnessHTTPServer
from services.witness.store import WitnessStore
from tests.ledger.audit.conftest import ORIGIN, AuditedLedger
from tests.ledger.conftest import build_market
from tests.ontime import on_time_ledger
from tlog.cosignature import require_quorum
from tlog.keys import SIG_TYPE_COSIGNATURE_V1, NoteSigner, NoteVerifier


@contextmanager
def running_witness(directory: Path, name: str, log_key: NoteVerifier
                    ) -> Iterator[tuple[WitnessHTTPServer, NoteSigner]]:
    key = NoteSigner.generate(name, SIG_TYPE_COSIGNATURE_V1)
    store = WitnessStore(directory / f"{name}.db")
    server = WitnessHTTPServer(("127.0.0.1", 0), Witness(key, store, {ORIGIN: [log_key]}))
    server.start()
    try:
        yield server, key
    finally:
        server.shutdown()
        server.server_close()
        store.close()


@pytest.fixture
def two_witnesses(tmp_path, audited: AuditedLedger):
    with running_witness(tmp_path, "mof.test", audited.signer.verifier) as a, \
            running_witness(tmp_path, "chamber.test", audited.signer.verifier) as b:
        yield a, b


def policy_of(*witnesses, quorum: int = 2, **kw) -> WitnessPolicy:
    return WitnessPolicy(tuple(WitnessEndpoint(s.url, k.verifier) for s, k in witnesses),
                         quorum, **kw)


def test_checkpoints_are_cosigned_to_quorum_and_carried_everywhere(audited, two_witnesses):
    policy = policy_of(*two_witnesses)
    collector = CosignatureCollector(audited.log.store, policy)
    before = audited.log.checkpoints()
    assert collector.collect() == 2 * len(before)  # every checkpoint, oldest first
    assert collector.collect() == 0  # nothing new
    for cp in audited.log.checkpoints():
        require_quorum(cp.cosigned_note, policy.keys, 2)
    latest = audited.log.latest_checkpoint()
    assert latest is not None and len(latest.cosignatures) == 2
    # The log grows: each witness is sent a consistency proof from the size it holds.
    for i in range(7):
        audited.ledger.record_trade(audited.market.trade(f"more{i}"))
    audited.log.follower.catch_up()
    newer = audited.log.latest_checkpoint()
    assert newer.seq > latest.seq and not newer.cosignatures
    assert collector.lag() == {k.verifier.label: newer.size - latest.size
                               for _, k in two_witnesses}
    # The lag is read from the store: a collector that never ran (the metrics' copy in a
    # server whose collector runs in the follower's process) sees the same.
    idle = CosignatureCollector(audited.log.store, policy)
    assert idle.lag() == collector.lag()
    added = len(audited.log.checkpoints()) - len(before)
    assert collector.collect() == 2 * added
    assert collector.lag() == {k.verifier.label: 0 for _, k in two_witnesses}
    for server, _ in two_witnesses:
        assert server.witness.store.state(ORIGIN).size == newer.size
    # Bundles and the stream (exports) carry the cosigned note.
    with audited.log.store.read() as tx:
        leaf = tx.leaf_at(newer.size - 1)
    bundle = audited.log.prove_event(leaf.originator_id, leaf.originator_version)
    verified = verify_bundle(bundle.to_text(), audited.signer.verifier,
                             witnesses=policy.keys, quorum=2)
    assert len(verified.cosignatures) == 2
    notes = [i.note for i in database_stream(audited.log.store).items
             if isinstance(i, StreamCheckpoint)]
    require_quorum(notes[-1], policy.keys, 2)


def test_a_witness_down_never_stops_the_ledger(audited, tmp_path):
    with running_witness(tmp_path, "mof.test", audited.signer.verifier) as up:
        dead = NoteSigner.generate("dead.test", SIG_TYPE_COSIGNATURE_V1)
        policy = WitnessPolicy((WitnessEndpoint(up[0].url, up[1].verifier),
                                WitnessEndpoint("http://127.0.0.1:1", dead.verifier)),
                               quorum=2, timeout_seconds=1, retries=1,
                               retry_after_seconds=0)
        log = AuditLog(audited.ledger.recorder, signer=audited.signer, witnesses=policy,
                       policy=CheckpointPolicy(every_records=5, every_seconds=0))
        assert log.collector is not None
        assert log.collector.collect() == len(log.checkpoints())
        status = log.collector.status[dead.verifier.label]
        assert status.failures == 1 and "did not answer" in status.last_error
        for i in range(6):
            audited.ledger.record_trade(audited.market.trade(f"while-down{i}"))
        count = len(log.checkpoints())
        assert log.follower.catch_up() == 6  # the ledger goes on
        assert log.collector.collect() == len(log.checkpoints()) - count
        latest = log.latest_checkpoint()
        with pytest.raises(ValueError, match="1 of 2"):
            require_quorum(latest.cosigned_note, policy.keys, 2)
        assert log.collector.lag()[dead.verifier.label] == latest.size


def test_collector_learns_the_witness_size_from_409(audited, two_witnesses):
    policy = policy_of(*two_witnesses, retries=0)  # a 409 with a size is not a failure
    CosignatureCollector(audited.log.store, policy).collect()
    audited.raw.run("DELETE FROM audit_witnesses")  # the log forgot what witnesses hold
    for i in range(5):
        audited.ledger.record_trade(audited.market.trade(f"after{i}"))
    audited.log.follower.catch_up()
    audited.raw.run("DELETE FROM audit_cosignatures")
    fresh = CosignatureCollector(audited.log.store, policy)
    assert all(s.size == 0 for s in fresh.status.values())
    # Checkpoints 1-3 are skipped (the witnesses hold the larger tree of checkpoint 4);
    # 4 (same size, same root) and 5 are cosigned once 409 answers told their size.
    assert len(audited.log.checkpoints()) == 5
    assert fresh.collect() == 2 * 2
    assert fresh.lag() == {label: 0 for label in fresh.status}


def forked_store(url: str, signer: NoteSigner, trades: int = 20) -> tuple[Ledger, AuditLog]:
    """Returns another store whose checkpoints the same key signs: a second history."""
    ledger = on_time_ledger(StoreConfig(url=url))
    market = build_market(ledger)
    for i in range(trades):
        ledger.record_trade(market.trade(f"fork{i}", str(500 + i)))
    log = AuditLog(ledger.recorder, signer=signer,
                   policy=CheckpointPolicy(every_records=5, every_seconds=0))
    log.follower.catch_up()
    return ledger, log


def test_split_view_is_refused_by_the_witness(tmp_path, audited, two_witnesses):
    policy = policy_of(*two_witnesses)
    assert CosignatureCollector(audited.log.store, policy).collect() > 0
    ledger, forked = forked_store(f"sqlite:///{tmp_path / 'fork.db'}", audited.signer)
    try:
        fork_collector = CosignatureCollector(forked.store, policy)
        assert fork_collector.collect() == 0
        assert not any(cp.cosignatures for cp in forked.checkpoints())
        for server, key in two_witnesses:
            refused = [note for _, note in server.witness.store.refused(ORIGIN)]
            assert refused and set(refused) <= {cp.note for cp in forked.checkpoints()}
            assert fork_collector.status[key.verifier.label].failures == 1
    finally:
        ledger.close()


def test_policy_file(tmp_path):
    key = NoteSigner.generate("w.test", SIG_TYPE_COSIGNATURE_V1).verifier
    (tmp_path / "w.toml").write_text(
        f'quorum = 1\ntimeout_seconds = 3\n[[witness]]\nurl = "https://w.test:7380"\n'
        f'key = "{key.vkey}"\nca_cert = "ca.pem"\n')
    policy = load_witness_policy(tmp_path / "w.toml")
    assert policy.quorum == 1 and policy.timeout_seconds == 3
    assert policy.witnesses[0].key == key
    assert policy.witnesses[0].ca_cert == tmp_path / "ca.pem"
    (tmp_path / "bad.toml").write_text(f'quorum = 2\n[[witness]]\nurl = "x"\nkey = "{key.vkey}"\n')
    with pytest.raises(WitnessPolicyError):
        load_witness_policy(tmp_path / "bad.toml")


def test_cosignatures_survive_export_and_restore(tmp_path, audited, two_witnesses):
    import io

    from ledger.audit.export import read_export, write_export
    from ledger.audit.restore import restore_export
    from ledger.audit.verify import StreamVerifier

    policy = policy_of(*two_witnesses)
    CosignatureCollector(audited.log.store, policy).collect()
    buffer = io.BytesIO()
    write_export(database_stream(audited.log.store), buffer)
    # The export file alone verifies with the quorum.
    report = StreamVerifier(audited.signer.verifier, witnesses=policy.keys, quorum=2).verify(
        read_export(io.BytesIO(buffer.getvalue())))
    assert report.ok and report.checkpoints_witnessed == len(audited.log.checkpoints())
    url = f"sqlite:///{tmp_path / 'restored.db'}"
    Ledger(StoreConfig(url=url)).close()
    restored = AuditLog.open(StoreConfig(url=url, create_tables=False))
    try:
        restore_export(read_export(io.BytesIO(buffer.getvalue())), restored, url)
        report = StreamVerifier(audited.signer.verifier, witnesses=policy.keys,
                                quorum=2).verify(database_stream(restored.store))
        assert report.ok and report.checkpoints_witnessed == len(audited.log.checkpoints())
    finally:
        restored.close()

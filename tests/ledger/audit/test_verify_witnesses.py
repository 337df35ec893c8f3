"""Auditors check witnesses: a checkpoint short of the quorum is UNWITNESSED with its
position; --require-signed makes unsigned records a fault; a repeated (aggregate id,
version) pair is found from the leaf data alone (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from ledger.audit.faults import FaultKind
from ledger.audit.stream import AuditStream, StreamRecord, database_stream
from ledger.audit.verify import StreamVerifier
from ledger.audit.witnessing import CosignatureCollector
from tests.ledger.audit.test_witnessing import policy_of, running_witness
from tlog.keys import SIG_TYPE_COSIGNATURE_V1, NoteSigner


def test_quorum_of_cosignatures(tmp_path, audited):
    log_key = audited.signer.verifier
    with running_witness(tmp_path, "mof.test", log_key) as a, \
            running_witness(tmp_path, "chamber.test", log_key) as b:
        policy = policy_of(a, b)
        count = len(audited.log.checkpoints())
        # Nothing collected yet: every checkpoint is short of the quorum, at its position.
        report = StreamVerifier(log_key, witnesses=policy.keys, quorum=1).verify(
            database_stream(audited.log.store))
        assert report.fault_counts == {FaultKind.UNWITNESSED: count}
        assert [f.checkpoint_seq for f in report.faults] == list(range(1, count + 1))
        assert all(f.leaf_index == cp.size
                   for f, cp in zip(report.faults, audited.log.checkpoints(), strict=True))
        CosignatureCollector(audited.log.store, policy).collect()
        report = StreamVerifier(log_key, witnesses=policy.keys, quorum=2).verify(
            database_stream(audited.log.store))
        assert report.ok and report.checkpoints_witnessed == count
        assert set(report.cosignatures_by_witness.values()) == {count}
        # A witness key the auditor does not trust does not count toward the quorum.
        stranger = NoteSigner.generate("mof.test", SIG_TYPE_COSIGNATURE_V1).verifier
        report = StreamVerifier(log_key, witnesses=[policy.keys[0], stranger],
                                quorum=2).verify(database_stream(audited.log.store))
        assert report.fault_counts == {FaultKind.UNWITNESSED: count}


@pytest.mark.parametrize("workers", [1, 2])
def test_forged_cosignature_is_unwitnessed(tmp_path, audited, workers):
    log_key = audited.signer.verifier
    with running_witness(tmp_path, "mof.test", log_key) as a:
        policy = policy_of(a, quorum=1)
        CosignatureCollector(audited.log.store, policy).collect()
    row = audited.raw.run("SELECT line FROM audit_cosignatures WHERE seq = 2")[0][0]
    name, b64 = row.rstrip("\n").split(" ")[1:]
    forged = row.replace(b64, b64[:20] + ("A" if b64[20] != "A" else "B") + b64[21:])
    audited.raw.run("UPDATE audit_cosignatures SET line = ? WHERE seq = 2", (forged,))
    report = StreamVerifier(log_key, witnesses=policy.keys, quorum=1).verify(
        database_stream(audited.log.store), workers=workers, chunk_size=4)
    assert report.fault_counts == {FaultKind.UNWITNESSED: 2}
    assert {f.checkpoint_seq for f in report.faults} == {2}
    assert any("does not verify" in f.message for f in report.faults)
    assert name == "mof.test"


def test_require_signed(audited):
    for i in range(3):
        audited.ledger.record_trade(audited.market.trade(f"late{i}"))
    audited.log.follower.catch_up()
    last = audited.log.latest_checkpoint()
    lenient = StreamVerifier(audited.signer.verifier).verify(
        database_stream(audited.log.store))
    assert lenient.ok and lenient.warnings
    strict = StreamVerifier(audited.signer.verifier, require_signed=True).verify(
        database_stream(audited.log.store))
    assert strict.fault_counts == {FaultKind.UNSIGNED: 1}
    assert strict.faults[0].leaf_index == last.size


@pytest.mark.parametrize("workers", [1, 2])
def test_duplicate_event_without_the_cipher_key(audited, workers):
    stream = database_stream(audited.log.store)
    items = list(stream.items)
    records = [i for i, item in enumerate(items) if isinstance(item, StreamRecord)]
    # Re-append a copy of leaf 3 as a new record at the end (past every checkpoint).
    copy = items[records[3]]
    assert isinstance(copy, StreamRecord)
    items.append(StreamRecord(copy.notification_id + 10**6, copy.leaf_data, -1, b""))
    report = StreamVerifier(audited.signer.verifier).verify(
        AuditStream(stream.header, iter(items)), workers=workers, chunk_size=4)
    assert report.fault_counts == {FaultKind.DUPLICATE_EVENT: 1}
    assert report.faults[0].leaf_index == len(records)
    assert report.faults[0].event is not None

"""The tree follower over the Ledger's notification log, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from ledger.audit.follower import AuditIntegrityError, CheckpointPolicy, TreeFollower
from ledger.audit.leaf import encode_leaf
from ledger.audit.log import AuditLog
from ledger.audit.store import NODES_TABLE
from tests.ledger.audit.conftest import ORIGIN, AuditedLedger
from tests.ontime import on_time_ledger
from tests.tlog.rfc6962 import all_nodes
from tlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from tlog.consistency import verify_consistency
from tlog.hashes import leaf_hash, root_hash
from tlog.inclusion import verify_inclusion
from tlog.note import NoteError, NoteSigner


def recomputed_leaves(a: AuditedLedger) -> list[bytes]:
    """Leaf hashes recomputed from the stored events, in notification order."""
    notes = a.ledger.recorder.select_notifications(start=None, limit=10**6)
    return [leaf_hash(encode_leaf(n.originator_id, n.originator_version, n.topic, n.state))
            for n in notes]


def assert_tree_matches_store(a: AuditedLedger) -> None:
    """The stored tree equals a full recomputation: state, leaves and every node."""
    leaves = recomputed_leaves(a)
    state = a.log.state()
    assert state.size == len(leaves)
    assert state.compact.root() == root_hash(leaves)
    expected = all_nodes(leaves)
    stored = {(0, int(i)): bytes(h) for i, h in
              a.raw.run("SELECT leaf_index, leaf_hash FROM audit_leaves")}
    stored.update({(int(lvl), int(i)): bytes(h) for lvl, i, h in
                   a.raw.run(f"SELECT level, idx, hash FROM {NODES_TABLE}")})
    assert stored == expected


def test_follower_integrates_every_record_once(audited: AuditedLedger) -> None:
    assert_tree_matches_store(audited)
    assert audited.log.follower.step() == 0
    for i in range(5):
        audited.ledger.record_trade(audited.market.trade(f"more{i}"))
    assert audited.log.follower.catch_up() == 5
    assert_tree_matches_store(audited)


def test_checkpoints_every_n_records_and_consistent(audited: AuditedLedger) -> None:
    cps = audited.log.checkpoints()
    assert [c.size for c in cps] == [5, 10, 15, 20]
    assert [c.seq for c in cps] == [1, 2, 3, 4]
    previous = None
    for c in cps:
        cp = open_checkpoint(c.note, audited.signer.verifier).checkpoint
        assert (cp.origin, cp.size, cp.root_hash) == (ORIGIN, c.size, c.root_hash)
        assert cp.root_hash == root_hash(recomputed_leaves(audited)[: c.size])
        if previous is not None:
            verify_consistency(previous.size, c.size, previous.root_hash, c.root_hash,
                               c.consistency)
        previous = c


def test_checkpoint_on_demand_and_by_time(audited: AuditedLedger) -> None:
    cp = audited.log.follower.checkpoint_now()
    assert (cp.seq, cp.size) == (5, 23)
    assert audited.log.follower.checkpoint_now().seq == 5  # nothing new: nothing signed
    now = [1e10]
    follower = TreeFollower(audited.ledger.recorder, audited.signer,
                            policy=CheckpointPolicy(every_records=0, every_seconds=60),
                            clock=lambda: now[0])
    audited.ledger.record_trade(audited.market.trade("late"))
    follower.step()
    assert audited.log.latest_checkpoint().seq == 6  # type: ignore[union-attr]
    audited.ledger.record_trade(audited.market.trade("later"))
    follower.step()
    assert audited.log.latest_checkpoint().seq == 6  # type: ignore[union-attr]
    now[0] += 61
    follower.step()
    assert audited.log.latest_checkpoint().size == 25  # type: ignore[union-attr]


def test_resumes_after_restart_without_double_counting(audited: AuditedLedger) -> None:
    for i in range(7):
        audited.ledger.record_trade(audited.market.trade(f"r{i}"))
    fresh = AuditLog(audited.ledger.recorder, signer=audited.signer,
                     policy=CheckpointPolicy(every_records=5, every_seconds=0))
    assert fresh.follower.catch_up() == 7
    assert fresh.follower.catch_up() == 0
    assert_tree_matches_store(audited)
    assert [c.size for c in fresh.checkpoints()] == [5, 10, 15, 20, 25, 30]


def test_never_signs_after_an_altered_checkpoint(audited: AuditedLedger) -> None:
    # The note still carries the current key's signature line, but its text changed.
    note = audited.log.latest_checkpoint().note  # type: ignore[union-attr]
    altered = note.replace(f"\n{20}\n", "\n19\n", 1)
    assert altered != note
    audited.raw.run("UPDATE audit_checkpoints SET note = ? WHERE seq = 4", (altered,))
    with pytest.raises(AuditIntegrityError, match="does not verify"):
        audited.log.follower.checkpoint_now()


def test_never_signs_after_a_checkpoint_of_another_tree(audited: AuditedLedger) -> None:
    # Signed by some other key (as after a rotation), but over a root this tree never had.
    other = NoteSigner.generate(ORIGIN)
    note = sign_checkpoint(Checkpoint(ORIGIN, 20, b"\x09" * 32), other).note
    audited.raw.run("UPDATE audit_checkpoints SET note = ?, root_hash = ? WHERE seq = 4",
                    (note, b"\x09" * 32))
    audited.ledger.record_trade(audited.market.trade("next"))
    with pytest.raises(AuditIntegrityError, match="not consistent"):
        audited.log.follower.checkpoint_now()
    # A row that disagrees with its own note is refused as well.
    genuine = sign_checkpoint(Checkpoint(ORIGIN, 20, b"\x08" * 32), other).note
    audited.raw.run("UPDATE audit_checkpoints SET note = ? WHERE seq = 4", (genuine,))
    with pytest.raises(AuditIntegrityError, match="note and its row disagree"):
        audited.log.follower.checkpoint_now()
    assert audited.log.latest_checkpoint().seq == 4  # type: ignore[union-attr]


def test_rotated_key_extends_the_tree(audited: AuditedLedger) -> None:
    new_key = NoteSigner.generate(ORIGIN)
    assert new_key.key_id != audited.signer.key_id
    for i in range(6):
        audited.ledger.record_trade(audited.market.trade(f"rot{i}"))
    rotated = AuditLog(audited.ledger.recorder, signer=new_key,
                       policy=CheckpointPolicy(every_records=5, every_seconds=0))
    assert rotated.follower.catch_up() == 6
    cps = rotated.checkpoints()
    assert [(c.seq, c.size) for c in cps] == [(1, 5), (2, 10), (3, 15), (4, 20), (5, 25)]
    with pytest.raises(NoteError):
        open_checkpoint(cps[4].note, audited.signer.verifier)
    new = open_checkpoint(cps[4].note, new_key.verifier).checkpoint
    old = open_checkpoint(cps[3].note, audited.signer.verifier).checkpoint
    verify_consistency(old.size, new.size, old.root_hash, new.root_hash, cps[4].consistency)
    assert new.root_hash == root_hash(recomputed_leaves(audited)[:25])
    assert rotated.follower.checkpoint_now().size == len(recomputed_leaves(audited))


def test_a_new_key_must_keep_the_origin(audited: AuditedLedger) -> None:
    renamed = NoteSigner.generate("elsewhere.test/ledger")
    audited.ledger.record_trade(audited.market.trade("renamed"))
    log = AuditLog(audited.ledger.recorder, signer=renamed)
    with pytest.raises(AuditIntegrityError, match="origin"):
        log.follower.checkpoint_now()
    kept = AuditLog(audited.ledger.recorder, signer=renamed, origin=ORIGIN)
    assert kept.follower.checkpoint_now().seq == 5


def test_never_signs_an_inconsistent_tree(audited: AuditedLedger) -> None:
    # Rewrite a stored subtree hash: the next checkpoint's consistency proof fails.
    audited.raw.run(f"UPDATE {NODES_TABLE} SET hash = ? WHERE level = 2 AND idx = 4",
                    (b"\x01" * 32,))
    with pytest.raises(AuditIntegrityError, match="not consistent"):
        audited.log.follower.checkpoint_now()
    assert audited.log.latest_checkpoint().seq == 4  # type: ignore[union-attr]


def test_dense_leaves_over_notification_gaps(postgres_url: str) -> None:
    from tests.ledger.audit.conftest import make_audited

    a = make_audited(postgres_url, trades=3)
    try:
        # A rolled-back insert consumes a notification id: the log now has a gap.
        with a.raw.conn.transaction(force_rollback=True):
            a.raw.conn.execute(
                f"INSERT INTO {a.raw.table} (originator_id, originator_version, topic, state) "
                "VALUES (gen_random_uuid(), 1, 'x', '')")
        a.ledger.record_trade(a.market.trade("after-gap"))
        a.log.follower.catch_up()
        nids = [r[0] for r in a.raw.events()]
        assert nids[-1] == nids[-2] + 2
        index = a.raw.run("SELECT leaf_index FROM audit_leaves ORDER BY leaf_index")
        assert [r[0] for r in index] == list(range(len(nids)))
        assert_tree_matches_store(a)
    finally:
        a.raw.close()
        a.ledger.close()


def test_only_one_postgres_instance_advances(postgres_url: str) -> None:
    from tests.ledger.audit.conftest import make_audited

    a = make_audited(postgres_url, trades=2)
    try:
        a.ledger.record_trade(a.market.trade("x"))
        other = AuditLog(a.ledger.recorder, signer=a.signer)
        inside = threading.Event()
        release = threading.Event()
        results: list[int | None] = []

        def hold() -> None:
            with a.log.store.write() as tx:
                assert tx is not None
                inside.set()
                release.wait(10)

        t = threading.Thread(target=hold)
        t.start()
        inside.wait(10)
        results.append(other.follower.step())
        release.set()
        t.join()
        results.append(other.follower.step())
        assert results == [None, 1]
    finally:
        a.raw.close()
        a.ledger.close()


def test_follower_on_in_memory_sqlite() -> None:
    from ledger.config import StoreConfig
    from tests.ledger.conftest import build_market

    ledger = on_time_ledger(StoreConfig(url="sqlite:///:memory:"))
    try:
        build_market(ledger)
        signer = NoteSigner.generate(ORIGIN)
        log = AuditLog(ledger.recorder, signer=signer)
        assert log.follower.catch_up() == 9  # the market
        assert log.follower.checkpoint_now().size == 9
        proof = log.inclusion_proof(3)
        verify_inclusion(3, 9, proof.leaf_hash, proof.hashes, log.state().compact.root())
    finally:
        ledger.close()

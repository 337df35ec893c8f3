"""Tampering with the database after checkpoints were signed is detected and located,
on SQLite and PostgreSQL; a clean store verifies; with the cipher key every event is
decoded and every aggregate rebuilt."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

import pytest

from ledger.audit.faults import FaultKind
from ledger.audit.replay import Replayer
from ledger.audit.stream import database_stream
from ledger.audit.verify import StreamVerifier, VerifyReport
from ledger.config import StoreConfig
from tests.ledger.audit.conftest import ORIGIN, AuditedLedger, make_audited, rotate
from tests.ontime import on_time_ledger
from tlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from tlog.note import NoteSigner

LEAF = 7  # the record the tamper cases touch (checkpoint 1 signs leaves 0..4 only)


def verify(a: AuditedLedger, replayer: Replayer | None = None, workers: int = 1
           ) -> VerifyReport:
    return StreamVerifier(a.signer.verifier, replayer=replayer).verify(
        database_stream(a.log.store, a.log.origin), workers=workers, chunk_size=4)


WORKERS = pytest.mark.parametrize("workers", [1, 2])
"""The tamper cases hold for the single-process pass and the parallel one (chunks of 4
records, so that chunk boundaries fall inside the tampered range)."""


def kinds(report: VerifyReport) -> dict[FaultKind, int]:
    return dict(report.fault_counts)


def flip_byte(a: AuditedLedger) -> None:
    nid, _, _, _, state = a.raw.events()[LEAF]
    changed = state[:10] + bytes([state[10] ^ 0x01]) + state[11:]
    a.raw.run(f"UPDATE {a.raw.table} SET state = ? WHERE {a.raw.nid} = ?", (changed, nid))


def delete_row(a: AuditedLedger) -> None:
    nid = a.raw.events()[LEAF][0]
    a.raw.run(f"DELETE FROM {a.raw.table} WHERE {a.raw.nid} = ?", (nid,))


def swap_rows(a: AuditedLedger) -> None:
    first, second = a.raw.events()[LEAF : LEAF + 2]
    a.raw.run(f"DELETE FROM {a.raw.table} WHERE {a.raw.nid} IN (?, ?)", (first[0], second[0]))
    a.raw.insert_event(first[0], *second[1:])
    a.raw.insert_event(second[0], *first[1:])


def swap_states(a: AuditedLedger) -> None:
    first, second = a.raw.events()[LEAF : LEAF + 2]
    for row, state in ((first, second[4]), (second, first[4])):
        a.raw.run(f"UPDATE {a.raw.table} SET state = ? WHERE {a.raw.nid} = ?", (state, row[0]))


def insert_forged(a: AuditedLedger) -> None:
    _, _, _, topic, state = a.raw.events()[LEAF]
    forged_id = "00000000000000000000000000000001" if not a.raw.postgres else \
        "00000000-0000-0000-0000-000000000001"
    a.raw.insert_event(0, forged_id, 1, topic, state)


CASES: dict[str, tuple[Callable[[AuditedLedger], None], FaultKind, int]] = {
    "changed byte": (flip_byte, FaultKind.CHANGED, LEAF),
    "deleted row": (delete_row, FaultKind.DELETED, LEAF),
    "swapped rows": (swap_rows, FaultKind.REORDERED, LEAF),
    "swapped states": (swap_states, FaultKind.CHANGED, LEAF),
    "forged row": (insert_forged, FaultKind.INSERTED, 0),
}


def test_untouched_store_verifies(audited: AuditedLedger) -> None:
    report = verify(audited)
    assert report.ok, report.faults
    assert report.records == 23
    assert report.checkpoints_matched == 4
    assert report.tree_root == audited.log.state().compact.root()
    assert any("not yet covered" in w for w in report.warnings)


@WORKERS
@pytest.mark.parametrize("case", list(CASES))
def test_tampered_records_are_detected_and_located(audited: AuditedLedger, case: str,
                                                   workers: int) -> None:
    tamper, kind, leaf = CASES[case]
    tamper(audited)
    report = verify(audited, workers=workers)
    assert not report.ok
    located = [f for f in report.faults if f.kind == kind]
    assert located, report.faults
    assert located[0].leaf_index in (leaf, leaf + 1)
    assert located[0].notification_id is not None or kind == FaultKind.DELETED
    if kind == FaultKind.DELETED:
        assert located[0].leaf_index == leaf and "notification" in located[0].message
    # The signatures, not the hints, prove it: every checkpoint past the change fails,
    # the one before it still matches.
    mismatched = [f.checkpoint_seq for f in report.faults
                  if f.kind in (FaultKind.ROOT_MISMATCH, FaultKind.SIZE_MISMATCH)]
    assert mismatched == [2, 3, 4] if leaf else mismatched == [1, 2, 3, 4]
    assert report.checkpoints_matched == (1 if leaf else 0)


@WORKERS
def test_swapped_states_locate_both_rows(audited: AuditedLedger, workers: int) -> None:
    swap_states(audited)
    changed = [f.leaf_index for f in verify(audited, workers=workers).faults
               if f.kind == FaultKind.CHANGED]
    assert changed == [LEAF, LEAF + 1]


@WORKERS
def test_forged_checkpoint_signature(audited: AuditedLedger, workers: int) -> None:
    forger = NoteSigner.generate(ORIGIN)
    note = sign_checkpoint(Checkpoint(ORIGIN, 10, b"\x09" * 32), forger).note
    audited.raw.run("UPDATE audit_checkpoints SET note = ? WHERE seq = 2", (note,))
    report = verify(audited, workers=workers)
    # A key of the right name but not the trusted one: reported as untrusted, with its id.
    bad = [f for f in report.faults if f.kind == FaultKind.UNTRUSTED_KEY]
    assert [f.checkpoint_seq for f in bad] == [2]
    assert forger.verifier.label in bad[0].message
    assert FaultKind.BAD_SIGNATURE not in report.fault_counts


@WORKERS
def test_altered_checkpoint_text(audited: AuditedLedger, workers: int) -> None:
    note = audited.log.checkpoints()[1].note
    cp = open_checkpoint(note, audited.signer.verifier).checkpoint
    root = base64.b64encode(cp.root_hash).decode()
    altered = note.replace(root, base64.b64encode(b"\x00" * 32).decode())
    audited.raw.run("UPDATE audit_checkpoints SET note = ? WHERE seq = 2", (altered,))
    assert [f.checkpoint_seq for f in verify(audited, workers=workers).faults
            if f.kind == FaultKind.BAD_SIGNATURE] == [2]


@WORKERS
def test_checkpoint_replaced_by_another_genuine_one(audited: AuditedLedger, workers: int) -> None:
    first = audited.log.checkpoints()[0]
    audited.raw.run("UPDATE audit_checkpoints SET note = ? WHERE seq = 3", (first.note,))
    report = verify(audited, workers=workers)
    assert FaultKind.BAD_SIGNATURE not in report.fault_counts
    inconsistent = [f for f in report.faults if f.kind == FaultKind.INCONSISTENT_CHECKPOINT]
    assert inconsistent and inconsistent[0].checkpoint_seq == 3
    assert [f.checkpoint_seq for f in report.faults
            if f.kind == FaultKind.SIZE_MISMATCH] == [3]


@WORKERS
def test_deleted_checkpoint(audited: AuditedLedger, workers: int) -> None:
    audited.raw.run("DELETE FROM audit_checkpoints WHERE seq = 2")
    report = verify(audited, workers=workers)
    assert [f.checkpoint_seq for f in report.faults
            if f.kind == FaultKind.MISSING_CHECKPOINT] == [3]


def test_wrong_public_key_fails_everything(audited: AuditedLedger) -> None:
    other = NoteSigner.generate(ORIGIN)
    report = StreamVerifier(other.verifier).verify(database_stream(audited.log.store))
    assert report.fault_counts == {FaultKind.UNTRUSTED_KEY: 4}
    assert report.checkpoints_matched == 0 and report.checkpoints_by_key == {}


def test_cipher_key_replay_rebuilds_aggregates(sqlite_url: str) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    a = make_audited(sqlite_url, trades=2, cipher_key=key)
    try:
        reader = on_time_ledger(StoreConfig(url=sqlite_url, cipher_key=key, create_tables=False))
        report = verify(a, Replayer(reader.mapper))
        assert report.ok, report.faults
        assert report.events_decoded == report.records == 11
        assert report.aggregates_rebuilt == 7  # policy, 3 participants, licence, 2 trades
        flip_byte(a)
        report = verify(a, Replayer(reader.mapper))
        undecodable = [f for f in report.faults if f.kind == FaultKind.UNDECODABLE_EVENT]
        assert [f.leaf_index for f in undecodable] == [LEAF]
        reader.close()
    finally:
        a.raw.close()
        a.ledger.close()


def test_truncation_with_checkpoints_removed_needs_a_trusted_checkpoint(
    audited: AuditedLedger,
) -> None:
    kept = open_checkpoint(audited.log.checkpoints()[3].note, audited.signer.verifier)
    # A thorough tamperer cuts the log back to 12 records and removes every trace of the
    # rest: later checkpoints, leaf rows and the follower's state.
    nid = audited.raw.events()[12][0]
    audited.raw.run(f"DELETE FROM {audited.raw.table} WHERE {audited.raw.nid} >= ?", (nid,))
    audited.raw.run("DELETE FROM audit_checkpoints WHERE seq >= 3")
    audited.raw.run("DELETE FROM audit_leaves WHERE leaf_index >= 12")
    audited.raw.run("DELETE FROM audit_state")
    assert verify(audited).ok  # the store's own evidence is consistent again …
    report = StreamVerifier(audited.signer.verifier, trusted=[kept.checkpoint]).verify(
        database_stream(audited.log.store))
    assert [(f.kind, f.leaf_index) for f in report.faults] == [(FaultKind.SIZE_MISMATCH, 12)]
    # … and a trusted checkpoint of a tree the log still holds passes.
    early = open_checkpoint(audited.log.checkpoints()[1].note, audited.signer.verifier)
    assert StreamVerifier(audited.signer.verifier, trusted=[early.checkpoint]).verify(
        database_stream(audited.log.store)).ok


def test_rotated_key_each_checkpoint_checked_against_its_own_key(
    audited: AuditedLedger,
) -> None:
    old = audited.signer.verifier
    new = rotate(audited).verifier
    assert [c.size for c in audited.log.checkpoints()] == [5, 10, 15, 20, 25, 29]

    def check(*keys: object) -> VerifyReport:
        return StreamVerifier(keys).verify(  # type: ignore[arg-type]
            database_stream(audited.log.store))

    both = check(old, new)
    assert both.ok, both.faults
    assert both.checkpoints_matched == 6
    assert both.checkpoints_by_key == {old.label: 4, new.label: 2}
    assert check(new, old).checkpoints_by_key == both.checkpoints_by_key
    only_new = check(new)
    assert [(f.kind, f.checkpoint_seq) for f in only_new.faults] == [
        (FaultKind.UNTRUSTED_KEY, seq) for seq in (1, 2, 3, 4)]
    assert old.label in only_new.faults[0].message
    assert only_new.checkpoints_matched == 2
    only_old = check(old)
    assert [(f.kind, f.checkpoint_seq) for f in only_old.faults] == [
        (FaultKind.UNTRUSTED_KEY, 5), (FaultKind.UNTRUSTED_KEY, 6)]


def test_one_log_has_one_origin_whatever_keys_are_trusted(audited: AuditedLedger) -> None:
    stranger = NoteSigner.generate("other.test/log")
    cp = audited.log.checkpoints()[3]
    note = sign_checkpoint(Checkpoint("other.test/log", cp.size, cp.root_hash), stranger).note
    audited.raw.run("UPDATE audit_checkpoints SET note = ? WHERE seq = 4", (note,))
    report = StreamVerifier([audited.signer.verifier, stranger.verifier]).verify(
        database_stream(audited.log.store))
    assert [(f.kind, f.checkpoint_seq) for f in report.faults] == [
        (FaultKind.INCONSISTENT_CHECKPOINT, 4)]
    assert "origin" in report.faults[0].message
    # With the origin given, the stranger's checkpoint is refused as a bad one.
    report = StreamVerifier([audited.signer.verifier, stranger.verifier], ORIGIN).verify(
        database_stream(audited.log.store))
    assert [(f.kind, f.checkpoint_seq) for f in report.faults] == [
        (FaultKind.BAD_SIGNATURE, 4)]

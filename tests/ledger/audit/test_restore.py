"""Restore from an export: the first pass's checks, a restore that stops part way, an
export signed by two keys, and the emptiness check (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ledger.audit.export import read_export, write_export
from ledger.audit.faults import FaultKind
from ledger.audit.log import AuditLog
from ledger.audit.restore import (
    RestoreError,
    StoreNotEmptyError,
    check_empty,
    check_export,
    restore_export,
)
from ledger.audit.store import StoredCheckpoint
from ledger.audit.stream import (
    AuditStream,
    StreamCheckpoint,
    StreamItem,
    StreamRecord,
    database_stream,
)
from ledger.audit.verify import StreamVerifier
from ledger.config import StoreConfig
from tests.ledger.audit.conftest import (
    AuditedLedger,
    RestoreSource,
    build_restore_source,
    rotate,
)
from tests.ontime import on_time_ledger


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> RestoreSource:
    return build_restore_source(tmp_path_factory.mktemp("restore-source"))


def changed(source: RestoreSource, change: Callable[[list[StreamItem]], None],
            **header: object) -> bytes:
    """Returns the source's export with its items (and header fields) changed."""
    with source.export.open("rb") as f:
        stream = read_export(f)
        items = list(stream.items)
    change(items)
    buf = io.BytesIO()
    write_export(AuditStream(replace(stream.header, **header), iter(items)), buf)  # type: ignore[arg-type]
    return buf.getvalue()


def stream_of(data: bytes) -> AuditStream:
    return read_export(io.BytesIO(data))


def checkpoint_positions(items: list[StreamItem]) -> list[int]:
    return [i for i, item in enumerate(items) if isinstance(item, StreamCheckpoint)]


def record_positions(items: list[StreamItem]) -> list[int]:
    return [i for i, item in enumerate(items) if isinstance(item, StreamRecord)]


@pytest.fixture
def empty_log(store_url: str) -> Iterator[AuditLog]:
    """The audit log of a fresh store whose tables exist and are empty."""

    on_time_ledger(StoreConfig(url=store_url)).close()
    log = AuditLog.open(StoreConfig(url=store_url, create_tables=False))
    try:
        yield log
    finally:
        log.close()


def test_clean_export_passes_the_checks(source: RestoreSource) -> None:
    calls: list[int] = []
    check = check_export(stream_of(source.export.read_bytes()), progress=calls.append)
    assert check.ok and check.problems == [] and check.report is None
    assert (check.records, check.checkpoints, check.root) == (25, 4, source.root)
    assert sum(calls) == 29  # records and checkpoints
    keyed = check_export(stream_of(source.export.read_bytes()), [source.signer.verifier])
    assert keyed.ok and keyed.report is not None and keyed.report.checkpoints_matched == 4


def test_structural_problems_are_found_without_a_key(source: RestoreSource) -> None:
    def repeat_seq(items: list[StreamItem]) -> None:
        i = checkpoint_positions(items)[2]
        item = items[i]
        assert isinstance(item, StreamCheckpoint)
        items[i] = item._replace(seq=2)

    check = check_export(stream_of(changed(source, repeat_seq)))
    assert check.problems == ["checkpoint 2 (after 15 records) does not follow checkpoint 2"]

    def bad_time(items: list[StreamItem]) -> None:
        i = checkpoint_positions(items)[0]
        item = items[i]
        assert isinstance(item, StreamCheckpoint)
        items[i] = item._replace(created_at="yesterday")

    check = check_export(stream_of(changed(source, bad_time)))
    assert check.problems == [
        "checkpoint 1 (after 5 records) has no readable creation time ('yesterday')"]

    def malformed(items: list[StreamItem]) -> None:
        i = record_positions(items)[21]  # after the last checkpoint: only the leaf is bad
        item = items[i]
        assert isinstance(item, StreamRecord)
        items[i] = item._replace(leaf_data=item.leaf_data + b"\x00")

    check = check_export(stream_of(changed(source, malformed)))
    assert len(check.problems) == 1
    assert check.problems[0].startswith("record at leaf 21 (notification 22) is malformed")

    def moved(items: list[StreamItem]) -> None:
        i = checkpoint_positions(items)[1]
        items.insert(i + 1, items.pop(i))  # checkpoint 2 now after 11 records

    check = check_export(stream_of(changed(source, moved)))
    assert check.problems == ["checkpoint 2 (after 11 records) signs 10 records"]

    def dropped_proof(items: list[StreamItem]) -> None:
        i = checkpoint_positions(items)[3]
        item = items[i]
        assert isinstance(item, StreamCheckpoint)
        items[i] = item._replace(consistency=item.consistency[:-1])

    check = check_export(stream_of(changed(source, dropped_proof)))
    assert len(check.problems) == 1 and "not consistent" in check.problems[0]

    check = check_export(stream_of(changed(source, lambda items: None, record_count=22)))
    assert check.problems == ["the header announces 22 records, the file holds 25"]
    assert not check.ok


def test_a_restore_that_stops_leaves_a_prefix_whose_checkpoints_hold(
    source: RestoreSource, empty_log: AuditLog,
) -> None:
    # Unchecked, a changed record after checkpoint 2 is found at checkpoint 3.
    def flip(items: list[StreamItem]) -> None:
        i = record_positions(items)[12]
        item = items[i]
        assert isinstance(item, StreamRecord)
        items[i] = item._replace(leaf_data=item.leaf_data[:-1]
                                 + bytes([item.leaf_data[-1] ^ 1]))

    with pytest.raises(RestoreError) as caught:
        restore_export(stream_of(changed(source, flip)), empty_log, batch_records=4)
    message = str(caught.value)
    assert "stopped after 15 records and 2 checkpoints" in message
    assert "does not have the root that checkpoint 3 signs" in message
    assert [c.seq for c in empty_log.checkpoints()] == [1, 2]
    assert empty_log.checkpoints() == source.checkpoints[:2]
    report = StreamVerifier(source.signer.verifier).verify(database_stream(empty_log.store))
    assert report.ok and report.records == 15 and report.checkpoints_matched == 2
    with pytest.raises(StoreNotEmptyError):
        restore_export(stream_of(source.export.read_bytes()), empty_log)


def test_restore_counts_ids_and_batches(source: RestoreSource, empty_log: AuditLog) -> None:
    seen: list[int] = []
    summary = restore_export(stream_of(source.export.read_bytes()), empty_log,
                             progress=seen.append, batch_records=3, batch_bytes=1 << 20)
    assert (summary.records, summary.checkpoints, summary.tree_size) == (25, 4, 25)
    assert (summary.first_notification_id, summary.last_notification_id) == (1, 25)
    assert summary.root == source.root
    # Batches of 3, cut at every checkpoint (sizes 5, 10, 15, 20) and at the end.
    assert seen == [3, 2, 3, 2, 3, 2, 3, 2, 3, 2]
    state = empty_log.state()
    assert state.position == 25 and state.compact.root() == source.root


def test_store_with_only_audit_rows_is_not_empty(empty_log: AuditLog) -> None:
    with empty_log.store.write() as tx:
        assert tx is not None
        tx.insert_checkpoint(StoredCheckpoint(1, 0, b"\x00" * 32, "x\n", (), "2026-01-01"))
    with pytest.raises(StoreNotEmptyError, match=r"audit_checkpoints \(1 row\)") as caught:
        check_empty(empty_log.store, "here")
    assert caught.value.tables == {"audit_checkpoints": 1}


def test_export_signed_by_two_keys_restores_and_verifies(
    audited: AuditedLedger, tmp_path: Path,
) -> None:
    old = audited.signer.verifier
    new_signer = rotate(audited)
    new = new_signer.verifier
    buf = io.BytesIO()
    write_export(database_stream(audited.log.store, audited.log.origin), buf)
    data = buf.getvalue()
    assert check_export(stream_of(data), [old, new]).ok
    only_new = check_export(stream_of(data), [new])
    assert not only_new.ok and only_new.report is not None
    assert only_new.report.fault_counts == {FaultKind.UNTRUSTED_KEY: 4}
    url = f"sqlite:///{tmp_path / 'restored.db'}"
    log = AuditLog.open(StoreConfig(url=url), signer=new_signer)
    try:
        summary = restore_export(stream_of(data), log)
        assert (summary.records, summary.checkpoints) == (29, 6)
        report = StreamVerifier([old, new]).verify(database_stream(log.store))
        assert report.ok and report.checkpoints_by_key == {old.label: 4, new.label: 2}
        # The new key's follower takes the restored tree as its own: nothing new to sign.
        assert log.follower.checkpoint_now() == log.checkpoints()[-1]
    finally:
        log.close()

"""`audit verify --workers N` (ledger/audit/parallel.py) gives the single-process pass's
report exactly: the same faults in the same order with the same words, the same counts,
root and warnings — on clean and tampered stores (SQLite and PostgreSQL), on an export
file, with the cipher key and the replay checks, and wherever the chunk boundaries fall."""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.audit.export import read_export, write_export
from ledger.audit.faults import FaultKind
from ledger.audit.leaf import encode_leaf
from ledger.audit.parallel import ParallelPass
from ledger.audit.replay import Replayer, default_checks
from ledger.audit.stream import (
    AuditStream,
    StreamCheckpoint,
    StreamHeader,
    StreamItem,
    StreamRecord,
    database_stream,
)
from ledger.audit.verify import StreamVerifier, VerifyReport
from ledger.config import StoreConfig
from tests.ledger.audit.conftest import (
    ORIGIN,
    AuditedLedger,
    RestoreSource,
    build_restore_source,
    make_audited,
)
from tests.ledger.audit.test_verify import CASES
from tests.ontime import on_time_ledger
from tlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from tlog.consistency import consistency_proof
from tlog.hashes import leaf_hash, root_hash
from tlog.note import NoteSigner

CHUNKS = (1, 4, 8192)
"""Chunk sizes compared: one record a chunk, chunks that end between checkpoints and
inside the tampered range, and one chunk for the whole store."""


@pytest.fixture(scope="module")
def restore_source(tmp_path_factory: pytest.TempPathFactory) -> RestoreSource:
    """An encrypted store with licences, a suspension, trades and its export."""
    return build_restore_source(tmp_path_factory.mktemp("restore-source"))


def reports(checker: StreamVerifier, stream: Callable[[], AuditStream]
            ) -> tuple[VerifyReport, list[VerifyReport]]:
    """Returns the single-process report and the parallel ones (2 workers) at each of
    CHUNKS."""
    single = checker.verify(stream())
    return single, [checker.verify(stream(), workers=2, chunk_size=chunk)
                    for chunk in CHUNKS]


def store_reports(a: AuditedLedger, **options: object
                  ) -> tuple[VerifyReport, list[VerifyReport]]:
    """Returns the single-process report and the parallel ones: the records sent along
    to the workers (a stream without the store's settings) and read by the workers
    themselves (with them), at each of CHUNKS."""
    checker = StreamVerifier(a.signer.verifier, **options)  # type: ignore[arg-type]
    config = StoreConfig(url=a.url, create_tables=False)
    single, sent = reports(checker, lambda: database_stream(a.log.store, a.log.origin))
    planned = [checker.verify(database_stream(a.log.store, a.log.origin, config=config),
                              workers=2, chunk_size=chunk) for chunk in CHUNKS]
    return single, sent + planned


def test_a_clean_store_gives_the_same_report(audited: AuditedLedger) -> None:
    single, parallel = store_reports(audited)
    assert single.ok and single.records == 23
    assert all(report == single for report in parallel)


@pytest.mark.parametrize("case", list(CASES))
def test_tampered_records_give_the_same_report(audited: AuditedLedger, case: str) -> None:
    tamper, kind, _ = CASES[case]
    tamper(audited)
    single, parallel = store_reports(audited)
    assert kind in single.fault_counts
    for report in parallel:
        assert report == single
        assert [str(f) for f in report.faults] == [str(f) for f in single.faults]


def test_tampered_checkpoints_and_trusted_ones_give_the_same_report(
    audited: AuditedLedger,
) -> None:
    kept = open_checkpoint(audited.log.checkpoints()[3].note, audited.signer.verifier)
    forger = NoteSigner.generate(ORIGIN)
    forged = sign_checkpoint(Checkpoint(ORIGIN, 10, b"\x09" * 32), forger).note
    audited.raw.run("UPDATE audit_checkpoints SET note = ? WHERE seq = 2", (forged,))
    first = audited.log.checkpoints()[0]
    audited.raw.run("UPDATE audit_checkpoints SET note = ? WHERE seq = 3", (first.note,))
    nid = audited.raw.events()[12][0]
    audited.raw.run(f"DELETE FROM {audited.raw.table} WHERE {audited.raw.nid} >= ?", (nid,))
    single, parallel = store_reports(audited, trusted=[kept.checkpoint],
                                     require_signed=True)
    assert {FaultKind.UNTRUSTED_KEY, FaultKind.SIZE_MISMATCH} <= set(single.fault_counts)
    assert all(report == single for report in parallel)


def test_an_export_gives_the_same_report(audited: AuditedLedger, tmp_path: Path) -> None:
    CASES["swapped rows"][0](audited)
    path = tmp_path / "log.vlx"
    with path.open("wb") as f:
        write_export(database_stream(audited.log.store, audited.log.origin), f)
    # A damaged tail: the stream breaks off, reported where it broke.
    data = path.read_bytes()
    path.write_bytes(data[:-200])

    def stream() -> AuditStream:
        return read_export(path.open("rb"))

    single, parallel = reports(StreamVerifier(audited.signer.verifier), stream)
    assert FaultKind.FORMAT in single.fault_counts
    assert FaultKind.REORDERED in single.fault_counts
    assert all(report == single for report in parallel)


def test_the_cipher_key_audit_gives_the_same_report(restore_source: RestoreSource) -> None:
    reader = on_time_ledger(StoreConfig(url=restore_source.url,
                                        cipher_key=restore_source.cipher_key,
                                        create_tables=False))
    try:
        def checker() -> StreamVerifier:
            return StreamVerifier(restore_source.signer.verifier,
                                  replayer=Replayer(reader.mapper, default_checks()))

        def stream() -> AuditStream:
            return read_export(restore_source.export.open("rb"))

        single = checker().verify(stream())
        assert single.ok, single.faults
        assert single.events_decoded == single.records > 0
        for chunk in CHUNKS:
            assert checker().verify(stream(), workers=2, chunk_size=chunk) == single
    finally:
        reader.close()


def test_undecodable_and_unreplayable_events_give_the_same_report(sqlite_url: str) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    a = make_audited(sqlite_url, trades=3, cipher_key=key)
    reader = on_time_ledger(StoreConfig(url=sqlite_url, cipher_key=key, create_tables=False))
    try:
        CASES["changed byte"][0](a)  # an event that no longer decrypts
        CASES["swapped rows"][0](a)  # and two that come out of order
        single, parallel = store_reports(a, replayer=Replayer(reader.mapper))
        assert FaultKind.UNDECODABLE_EVENT in single.fault_counts
        assert all(report == single for report in parallel)
        assert single.aggregates_rebuilt == parallel[0].aggregates_rebuilt > 0
    finally:
        reader.close()
        a.raw.close()
        a.ledger.close()


def test_chunks_must_be_a_power_of_two(audited: AuditedLedger) -> None:
    with pytest.raises(ValueError, match="power of two"):
        ParallelPass(StreamVerifier(audited.signer.verifier), 2, chunk_size=6)


# ------------------------------------------------------------------ chunk boundaries

SIGNER = NoteSigner.generate(ORIGIN)


def synthetic_items(count: int, every: int) -> tuple[list[StreamRecord], list[int]]:
    """Returns ``count`` records of 1..3 events per aggregate, with correct hints, and the
    sizes checkpoints are signed at (every ``every`` records and at the end)."""
    records = []
    for i in range(count):
        data = encode_leaf(f"agg-{i // 3}", i % 3 + 1, "bench:Event", bytes([i % 256]) * 9)
        records.append(StreamRecord(i + 1, data, i, leaf_hash(data)))
    return records, sorted({*range(every, count + 1, every), count})


def checkpointed(records: list[StreamRecord], sizes: list[int]) -> list[StreamItem]:
    """Returns the records with a signed checkpoint (and its consistency proof from the
    previous one) after each of ``sizes``, computed over the records as given."""
    leaves = [leaf_hash(r.leaf_data) for r in records]

    def nodes(ids: object) -> dict[tuple[int, int], bytes]:
        return {(level, index): root_hash(leaves[index << level:(index + 1) << level])
                for level, index in ids}  # type: ignore[attr-defined]

    items: list[StreamItem] = []
    previous = 0
    for seq, size in enumerate(sizes, 1):
        while len([i for i in items if type(i) is StreamRecord]) < size:
            items.append(records[len([i for i in items if type(i) is StreamRecord])])
        note = sign_checkpoint(Checkpoint(ORIGIN, size, root_hash(leaves[:size])),
                               SIGNER).note
        proof = tuple(consistency_proof(previous, size, nodes)) if 0 < previous < size else ()
        items.append(StreamCheckpoint(seq, note, proof, ""))
        previous = size
    return items


TAMPERS = st.sampled_from(["flip", "drop", "swap", "repeat", "unhint", "none"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(count=st.integers(1, 40), every=st.integers(1, 12),
       chunk_exponent=st.integers(0, 5),
       tampers=st.lists(st.tuples(TAMPERS, st.integers(0, 39)), max_size=3),
       trusted_at=st.lists(st.integers(0, 45), max_size=2))
def test_chunk_boundaries_do_not_change_the_report(
    count: int, every: int, chunk_exponent: int, tampers: list[tuple[str, int]],
    trusted_at: list[int],
) -> None:
    records, sizes = synthetic_items(count, every)
    items = checkpointed(records, sizes)
    for tamper, at in tampers:  # after signing: what a tamperer does to the stored log
        positions = [k for k, item in enumerate(items) if type(item) is StreamRecord]
        k = positions[at % len(positions)]
        record = items[k]
        assert type(record) is StreamRecord
        if tamper == "flip":
            items[k] = record._replace(leaf_data=record.leaf_data[:-1] + b"\xff")
        elif tamper == "drop" and len(positions) > 1:
            del items[k]
        elif tamper == "swap" and k + 1 < len(items):
            items[k], items[k + 1] = items[k + 1], items[k]
        elif tamper == "repeat":
            items.insert(k, record._replace(notification_id=record.notification_id))
        elif tamper == "unhint":
            items[k] = record._replace(hint_index=-1, hint_hash=b"")
    full = root_hash([leaf_hash(r.leaf_data) for r in records])
    trusted = [Checkpoint(ORIGIN, size, root_hash([leaf_hash(r.leaf_data)
                                                   for r in records[:size]])
                          if size <= count else full) for size in trusted_at]

    def stream() -> AuditStream:
        header = StreamHeader("synthetic", ORIGIN, tracked_position=count,
                              tracked_size=count)
        return AuditStream(header, iter(list(items)))

    checker = StreamVerifier(SIGNER.verifier, trusted=trusted)
    single = checker.verify(stream())
    parallel = checker.verify(stream(), workers=2, chunk_size=1 << chunk_exponent)
    assert parallel == single
    # The same items in an export file, whose chunks the workers read by themselves.
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "log.vlx"
        with path.open("wb") as out:
            write_export(stream(), out)
        with path.open("rb") as f:
            from_file = checker.verify(read_export(f))
        with path.open("rb") as f:
            planned = read_export(f)
            assert planned.plan is not None
            assert checker.verify(planned, workers=2, chunk_size=1 << chunk_exponent) \
                == from_file


AUDITOR = """
import sys
from ledger.audit.parallel import start_workers
start_workers(2)
print("ready", flush=True)
sys.stdin.read()
"""


def test_the_workers_end_with_a_killed_auditor() -> None:
    """An auditor killed with SIGKILL in the middle of a parallel pass leaves no worker."""
    import signal

    import psutil

    from tests.ledger.test_lifetime import run_python, still_running

    parent = run_python(AUDITOR)
    assert parent.stdout is not None and parent.stdout.readline() == "ready\n"
    descendants = psutil.Process(parent.pid).children(recursive=True)
    assert len([p for p in descendants if p.ppid() != parent.pid]) == 2  # the workers
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(30)
    assert not still_running(descendants), [p.cmdline() for p in descendants]


def _damage(kind: str, data: bytes) -> bytes:
    """Returns an export damaged in one way (the tamper cases of test_export and more)."""
    from tests.ledger.audit.test_export import FRAME, frames, join, record_positions

    parts = frames(data)
    records = record_positions(parts)
    if kind == "changed byte":
        k, payload = parts[records[7]]
        parts[records[7]] = (k, payload[:-1] + bytes([payload[-1] ^ 1]))
    elif kind == "removed record":
        del parts[records[7]]
    elif kind == "swapped records":
        parts[records[7]], parts[records[8]] = parts[records[8]], parts[records[7]]
    elif kind == "altered checkpoint":
        i = next(i for i, (k, _) in enumerate(parts) if k == ord("C"))
        parts[i] = (ord("C"), parts[i][1].replace(b"\\n5\\n", b"\\n4\\n"))
    elif kind == "junk frame":
        parts.insert(9, (0x5A, b"junk"))
    elif kind == "unreadable checkpoint":
        i = next(i for i, (k, _) in enumerate(parts) if k == ord("C"))
        parts[i] = (ord("C"), b"{not json")
    elif kind == "short record frame":
        parts[records[5]] = (ord("R"), b"\x00" * 10)
    elif kind == "miscounted trailer":
        parts[-1] = (ord("E"), parts[-1][1].replace(b'"records":23', b'"records":24'))
    elif kind == "truncated":
        return data[: len(data) // 2]
    elif kind == "huge frame":
        joined = join(parts)
        at = joined.index(FRAME.pack(ord("R"), len(parts[records[3]][1])))
        return joined[:at] + FRAME.pack(ord("R"), 2**31) + joined[at + 5:]
    elif kind == "bytes after the trailer":
        return data + b"\x00"
    return join(parts)


@pytest.mark.parametrize("kind", [
    "changed byte", "removed record", "swapped records", "altered checkpoint", "junk frame",
    "unreadable checkpoint", "short record frame", "miscounted trailer", "truncated",
    "huge frame", "bytes after the trailer"])
def test_a_damaged_export_gives_the_same_report(audited: AuditedLedger, tmp_path: Path,
                                                kind: str) -> None:
    path = tmp_path / "damaged.vlx"
    with path.open("wb") as f:
        write_export(database_stream(audited.log.store, audited.log.origin), f)
    path.write_bytes(_damage(kind, path.read_bytes()))

    def stream() -> AuditStream:
        return read_export(path.open("rb"))

    single, parallel = reports(StreamVerifier(audited.signer.verifier), stream)
    assert not single.ok
    assert all(report == single for report in parallel)


# ------------------------------------------------------------------ replay checks


def test_a_doctored_proof_store_gives_the_same_report(proof_store: tuple[Any, Any]) -> None:
    """With the replay checks (proof batches re-verified, reconciliations recomputed,
    envelopes re-checked) a doctored reconciliation and a doctored batch are reported
    alike by both passes."""
    from ledger.audit.log import AuditLog
    from tests.ledger.audit.test_proof_checks import CLOSED, VERIFIED, doctor

    mine, raw = proof_store
    doctor(mine, raw, CLOSED, 0, lambda e: {"figures": dict(e.figures, proved_work="1")})
    doctor(mine, raw, VERIFIED, 1, lambda e: {"accepted_work": "12345"})
    signer = NoteSigner.generate(ORIGIN)
    log = AuditLog(mine.ledger.recorder, signer=signer)
    log.follower.checkpoint_now()

    def checker() -> StreamVerifier:
        return StreamVerifier(signer.verifier,
                              replayer=Replayer(mine.ledger.mapper, default_checks()))

    def stream() -> AuditStream:
        return database_stream(log.store, ORIGIN)

    single = checker().verify(stream())
    assert single.fault_counts.get(FaultKind.VERDICT_MISMATCH, 0) >= 2, single.faults
    for chunk in (1, 4, 8192):
        parallel = checker().verify(stream(), workers=2, chunk_size=chunk)
        assert [str(f) for f in parallel.faults] == [str(f) for f in single.faults], chunk
        assert parallel == single


def test_the_proof_check_reads_a_trade_s_sale_as_it_reads_the_trade(
    restore_source: RestoreSource,
) -> None:
    """What the workers send of a recorded trade (``trade_sale``) gives the proof check
    the sale the whole event gives it."""
    from ledger.audit.proof_checks import ProofReplayCheck, trade_sale
    from ledger.domain.trade import Trade

    reader = on_time_ledger(StoreConfig(url=restore_source.url,
                                        cipher_key=restore_source.cipher_key,
                                        create_tables=False))
    try:
        events = [reader.mapper.to_domain_event(n) for n in
                  reader.recorder.select_notifications(start=None, limit=1000)]
        replayer = Replayer(reader.mapper, default_checks())
        recorded: Any = Trade.Recorded
        assert replayer.projections() == {recorded: trade_sale}
        whole, sale = ProofReplayCheck(), ProofReplayCheck()
        trades = [e for e in events if type(e) is recorded]
        assert trades
        for check in (whole, sale):
            check.miners.update(e.seller_id for e in trades)
        for leaf, event in enumerate(trades):
            assert list(whole.observe(leaf, event)) == list(sale.observe(leaf,
                                                                         trade_sale(event)))
        assert whole.sales == sale.sales and len(whole.sales) == len(trades)
        # A check that reads trades whole (envelopes of trades) keeps them whole.
        from ledger.audit.proof_checks import EnvelopeCheck

        assert Replayer(reader.mapper, [ProofReplayCheck(), EnvelopeCheck(trades=True)]
                        ).projections() == {}
    finally:
        reader.close()


@pytest.fixture
def proof_store(store_url: str) -> Iterator[tuple[Any, Any]]:
    """The proof check tests' store: a miner's batches, report, reading, amendment,
    suspension and a closed reconciliation."""
    from tests.ledger.audit import test_proof_checks

    fixture: Any = test_proof_checks.proven
    yield from fixture.__wrapped__(store_url)


@pytest.fixture
def cheats_store(store_url: str) -> Iterator[tuple[Any, Any]]:
    """The proof check tests' store of a miner whose shares another licence claimed and
    who mined through a suspension."""
    from tests.ledger.audit import test_proof_checks

    fixture: Any = test_proof_checks.cheats
    yield from fixture.__wrapped__(store_url)


def test_foreign_tags_and_suspensions_give_the_same_report(
    cheats_store: tuple[Any, Any],
) -> None:
    from ledger.audit.log import AuditLog

    mine, _ = cheats_store
    signer = NoteSigner.generate(ORIGIN)
    log = AuditLog(mine.ledger.recorder, signer=signer)
    log.follower.checkpoint_now()

    def checker() -> StreamVerifier:
        return StreamVerifier(signer.verifier,
                              replayer=Replayer(mine.ledger.mapper, default_checks()))

    single = checker().verify(database_stream(log.store, ORIGIN))
    assert single.events_decoded == single.records > 0
    for chunk in (1, 8192):
        assert checker().verify(database_stream(log.store, ORIGIN), workers=2,
                                chunk_size=chunk) == single

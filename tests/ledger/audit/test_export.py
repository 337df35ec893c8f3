"""The export file: round trip, verification from the file alone, and damaged files."""

from __future__ import annotations

import io
import json
import struct

import pytest

from ledger.audit.export import MAGIC, ExportFormatError, read_export, write_export
from ledger.audit.faults import FaultKind
from ledger.audit.stream import StreamCheckpoint, StreamRecord, database_stream
from ledger.audit.verify import StreamVerifier, VerifyReport
from tests.ledger.audit.conftest import AuditedLedger, rotate

FRAME = struct.Struct(">BI")


def export_bytes(a: AuditedLedger) -> bytes:
    buf = io.BytesIO()
    write_export(database_stream(a.log.store, a.log.origin), buf)
    return buf.getvalue()


def frames(data: bytes) -> list[tuple[int, bytes]]:
    assert data.startswith(MAGIC)
    pos, out = len(MAGIC), []
    while pos < len(data):
        kind, length = FRAME.unpack_from(data, pos)
        out.append((kind, data[pos + 5 : pos + 5 + length]))
        pos += 5 + length
    return out


def join(parts: list[tuple[int, bytes]]) -> bytes:
    return MAGIC + b"".join(FRAME.pack(k, len(p)) + p for k, p in parts)


def verify_bytes(a: AuditedLedger, data: bytes) -> VerifyReport:
    return StreamVerifier(a.signer.verifier).verify(read_export(io.BytesIO(data)))


def record_positions(parts: list[tuple[int, bytes]]) -> list[int]:
    return [i for i, (k, _) in enumerate(parts) if k == ord("R")]


def test_export_roundtrip_equals_database_stream(audited: AuditedLedger) -> None:
    data = export_bytes(audited)
    parts = frames(data)
    assert parts[0][0] == ord("H") and parts[-1][0] == ord("E")
    header = json.loads(parts[0][1])
    assert header["format"] == "valedger-audit-export" and header["tracked_size"] == 23
    from_file = list(read_export(io.BytesIO(data)).items)
    from_db = list(database_stream(audited.log.store, audited.log.origin).items)
    assert from_file == from_db
    assert sum(isinstance(i, StreamRecord) for i in from_file) == 23
    assert sum(isinstance(i, StreamCheckpoint) for i in from_file) == 4
    report = verify_bytes(audited, data)
    assert report.ok, report.faults
    assert report.tree_root == audited.log.state().compact.root()


def test_changed_byte_in_file(audited: AuditedLedger) -> None:
    parts = frames(export_bytes(audited))
    i = record_positions(parts)[7]
    kind, payload = parts[i]
    parts[i] = (kind, payload[:-1] + bytes([payload[-1] ^ 1]))
    report = verify_bytes(audited, join(parts))
    assert [f.leaf_index for f in report.faults if f.kind == FaultKind.CHANGED] == [7]
    assert FaultKind.ROOT_MISMATCH in report.fault_counts
    assert FaultKind.FORMAT in report.fault_counts  # the trailer checksum no longer matches


def test_removed_and_swapped_records_in_file(audited: AuditedLedger) -> None:
    parts = frames(export_bytes(audited))
    removed = parts[:]
    del removed[record_positions(parts)[7]]
    report = verify_bytes(audited, join(removed))
    assert [f.leaf_index for f in report.faults if f.kind == FaultKind.DELETED] == [7]
    swapped = parts[:]
    a, b = record_positions(parts)[7:9]
    swapped[a], swapped[b] = swapped[b], swapped[a]
    report = verify_bytes(audited, join(swapped))
    moved = [f.leaf_index for f in report.faults if f.kind == FaultKind.REORDERED]
    assert moved in ([7], [8])


def test_altered_checkpoint_in_file(audited: AuditedLedger) -> None:
    parts = frames(export_bytes(audited))
    i = next(i for i, (k, _) in enumerate(parts) if k == ord("C"))
    obj = json.loads(parts[i][1])
    obj["note"] = obj["note"].replace("\n5\n", "\n4\n")
    parts[i] = (ord("C"), json.dumps(obj).encode())
    report = verify_bytes(audited, join(parts))
    assert [f.checkpoint_seq for f in report.faults
            if f.kind == FaultKind.BAD_SIGNATURE] == [1]


def test_damaged_files(audited: AuditedLedger) -> None:
    data = export_bytes(audited)
    report = verify_bytes(audited, data[: len(data) // 2])
    assert FaultKind.FORMAT in report.fault_counts
    with pytest.raises(ExportFormatError):
        read_export(io.BytesIO(b"not an export\n"))
    with pytest.raises(ExportFormatError):
        read_export(io.BytesIO(MAGIC + FRAME.pack(ord("H"), 2) + b"{}"))
    parts = frames(data)
    parts.insert(3, (0x5A, b"junk"))
    assert FaultKind.FORMAT in verify_bytes(audited, join(parts)).fault_counts


def test_export_after_key_rotation(audited: AuditedLedger) -> None:
    new = rotate(audited)
    data = export_bytes(audited)
    keys = [audited.signer.verifier, new.verifier]
    report = StreamVerifier(keys).verify(read_export(io.BytesIO(data)))
    assert report.ok, report.faults
    assert report.checkpoints_matched == 6 and report.records == 29
    report = StreamVerifier(new.verifier).verify(read_export(io.BytesIO(data)))
    assert [(f.kind, f.checkpoint_seq) for f in report.faults] == [
        (FaultKind.UNTRUSTED_KEY, seq) for seq in (1, 2, 3, 4)]

"""The export file: one self-describing, streamable file with every stored record and
every checkpoint (format: docs/AUDIT-EXPORT.md).

Layout: the magic line ``valedger-audit-export/1\\n``, then frames of
``u8 type ‖ u32 length ‖ payload`` (big-endian): one header (``H``, JSON), records (``R``)
and checkpoints (``C``, JSON) in log order, and one trailer (``E``, JSON) holding the
counts and the SHA-256 of every byte before the trailer frame.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mmap
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from ledger.audit.stream import (
    NO_HINT,
    AuditStream,
    Columns,
    Mark,
    PlanItem,
    PlannedChunk,
    StreamCheckpoint,
    StreamHeader,
    StreamItem,
    StreamRecord,
)
from tlog.hashes import HASH_SIZE

MAGIC = b"valedger-audit-export/1\n"
FORMAT_NAME = "valedger-audit-export"
FORMAT_VERSION = 1
FRAME_HEADER = 0x48  # 'H'
FRAME_RECORD = 0x52  # 'R'
FRAME_CHECKPOINT = 0x43  # 'C'
FRAME_END = 0x45  # 'E'
MAX_FRAME = 64 * 1024 * 1024

_FRAME = struct.Struct(">BI")
_RECORD = struct.Struct(">qq32s")
_NO_HASH = b"\x00" * HASH_SIZE


class ExportFormatError(ValueError):
    """An export file that is damaged or not in the documented format."""


@dataclass(frozen=True)
class ExportSummary:
    """What was written."""

    records: int
    checkpoints: int
    sha256: str


def write_export(
    stream: AuditStream, out: IO[bytes], progress: Callable[[int], None] | None = None
) -> ExportSummary:
    """Writes ``stream`` to ``out``; returns the counts and the trailer digest."""
    digest = hashlib.sha256()
    frame = _FRAME.pack
    record_head = _RECORD.pack

    def put(kind: int, payload: bytes) -> None:
        if len(payload) > MAX_FRAME:
            raise ExportFormatError(f"frame of {len(payload)} bytes exceeds {MAX_FRAME}")
        head = frame(kind, len(payload))
        digest.update(head)
        digest.update(payload)
        out.write(head)
        out.write(payload)

    out.write(MAGIC)
    digest.update(MAGIC)
    h = stream.header
    put(FRAME_HEADER, _json({
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "hash": "RFC9162-SHA256",
        "leaf_encoding": "valedger-leaf/1",
        "origin": h.origin,
        "source": h.source,
        "created_at": h.created_at,
        "tracked_position": h.tracked_position,
        "tracked_size": h.tracked_size,
        "record_count": h.record_count,
    }))
    records = checkpoints = 0
    pending = 0
    for item in stream.items:
        if type(item) is StreamRecord:
            nid, data, hint, hint_hash = item
            payload = record_head(nid, hint, hint_hash if hint >= 0 else _NO_HASH) + data
            put(FRAME_RECORD, payload)
            records += 1
            pending += 1
            if progress is not None and pending >= 4096:
                progress(pending)
                pending = 0
        else:
            assert isinstance(item, StreamCheckpoint)
            put(FRAME_CHECKPOINT, _json({
                "seq": item.seq,
                "note": item.note,
                "consistency": [base64.b64encode(x).decode() for x in item.consistency],
                "created_at": item.created_at,
            }))
            checkpoints += 1
    if progress is not None and pending:
        progress(pending)
    sha = digest.hexdigest()
    trailer = _json({"records": records, "checkpoints": checkpoints, "sha256": sha})
    out.write(frame(FRAME_END, len(trailer)) + trailer)
    return ExportSummary(records, checkpoints, sha)


def _json(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _load_json(payload: bytes, what: str, offset: int) -> dict[str, Any]:
    try:
        obj = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ExportFormatError(f"{what} at byte {offset} is not UTF-8 JSON: {e}") from None
    if not isinstance(obj, dict):
        raise ExportFormatError(f"{what} at byte {offset} is not a JSON object")
    return obj


def _int(obj: dict[str, Any], key: str, what: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ExportFormatError(f"{what} has no integer {key!r}")
    return value


def read_export(f: IO[bytes]) -> AuditStream:
    """Returns the stream stored in an export file; format damage raises
    ExportFormatError while iterating (with the byte offset)."""
    magic = f.read(len(MAGIC))
    if magic != MAGIC:
        raise ExportFormatError("not a valedger audit export (bad magic line)")
    digest = hashlib.sha256(MAGIC)
    head = f.read(_FRAME.size)
    if len(head) != _FRAME.size:
        raise ExportFormatError("export ends before its header frame")
    kind, length = _FRAME.unpack(head)
    if kind != FRAME_HEADER or length > MAX_FRAME:
        raise ExportFormatError("export does not start with a header frame")
    payload = f.read(length)
    digest.update(head)
    digest.update(payload)
    meta = _load_json(payload, "header frame", len(MAGIC))
    if meta.get("format") != FORMAT_NAME or meta.get("version") != FORMAT_VERSION:
        raise ExportFormatError(
            f"unsupported export format {meta.get('format')!r} version {meta.get('version')!r}"
        )
    count = meta.get("record_count")
    header = StreamHeader(
        source=f"export ({meta.get('source', '?')})",
        origin=str(meta.get("origin", "")),
        tracked_position=_int(meta, "tracked_position", "header"),
        tracked_size=_int(meta, "tracked_size", "header"),
        created_at=str(meta.get("created_at", "")),
        record_count=count if isinstance(count, int) else None,
    )
    start = len(MAGIC) + _FRAME.size + length
    path = getattr(f, "name", None)
    plan = None
    if isinstance(path, str) and os.path.isfile(path) and f.seekable():
        def plan(chunk_size: int) -> Iterator[PlanItem]:
            return _plan(f, path, start, chunk_size)
    return AuditStream(header, _frames(f, digest, start), plan=plan)


def _head(head: bytes, offset: int) -> tuple[int, int]:
    """Returns (kind, length) of the frame header read at ``offset``."""
    if len(head) != _FRAME.size:
        raise ExportFormatError(f"export is truncated at byte {offset} (no trailer frame)")
    kind, length = _FRAME.unpack(head)
    if length > MAX_FRAME:
        raise ExportFormatError(f"frame at byte {offset} claims {length} bytes")
    return kind, length


def _record(payload: bytes) -> StreamRecord:
    """Returns the record of a record frame's payload (its length checked)."""
    nid, hint, hint_hash = _RECORD.unpack_from(payload)
    return StreamRecord(nid, payload[_RECORD.size:], hint if hint >= 0 else NO_HINT,
                        hint_hash if hint >= 0 else b"")


def _checkpoint(payload: bytes, offset: int) -> StreamCheckpoint:
    """Returns the checkpoint of a checkpoint frame's payload."""
    obj = _load_json(payload, "checkpoint frame", offset)
    note = obj.get("note")
    proof = obj.get("consistency", [])
    if not isinstance(note, str) or not isinstance(proof, list):
        raise ExportFormatError(f"checkpoint frame at byte {offset} is malformed")
    try:
        hashes = tuple(base64.b64decode(x, validate=True) for x in proof)
    except (ValueError, TypeError):
        raise ExportFormatError(
            f"checkpoint frame at byte {offset} has a bad consistency proof"
        ) from None
    return StreamCheckpoint(_int(obj, "seq", "checkpoint frame"), note, hashes,
                            str(obj.get("created_at", "")))


def _trailer(payload: bytes, offset: int, sha256: str, records: int, checkpoints: int,
             rest: bytes) -> None:
    """Checks the trailer frame against the digest and counts of what preceded it and
    ``rest``, what the file holds after it (nothing)."""
    obj = _load_json(payload, "trailer frame", offset)
    if obj.get("sha256") != sha256:
        raise ExportFormatError("export checksum does not match: the file was altered")
    if obj.get("records") != records or obj.get("checkpoints") != checkpoints:
        raise ExportFormatError(
            f"trailer counts {obj.get('records')} records and "
            f"{obj.get('checkpoints')} checkpoints, the file holds {records} and "
            f"{checkpoints}"
        )
    if rest:
        raise ExportFormatError("bytes follow the trailer frame")


@dataclass(frozen=True)
class ExportChunk:
    """The record frames of ``count`` records in bytes [begin, end) of an export file
    (the checkpoint frames among them are skipped), read in a worker process."""

    path: str
    begin: int
    end: int
    count: int

    def columns(self) -> Columns:
        """Returns the records, read from the file (checked by the plan that made it), as
        ``_record`` reads each."""
        with open(self.path, "rb") as f:
            f.seek(self.begin)
            data = f.read(self.end - self.begin)
        nids: list[int] = []
        datas: list[bytes] = []
        hints: list[int] = []
        hint_hashes: list[bytes] = []
        offset, head_size, record_size = 0, _FRAME.size, _RECORD.size
        unpack_frame, unpack_record = _FRAME.unpack_from, _RECORD.unpack_from
        while offset < len(data):
            kind, length = unpack_frame(data, offset)
            offset += head_size
            if kind == FRAME_RECORD:
                nid, hint, hint_hash = unpack_record(data, offset)
                nids.append(nid)
                datas.append(data[offset + record_size:offset + length])
                hints.append(hint if hint >= 0 else NO_HINT)
                hint_hashes.append(hint_hash if hint >= 0 else b"")
            offset += length
        if len(nids) != self.count:
            raise ExportFormatError(f"the export changed while it was read: {self.path}")
        return nids, datas, hints, hint_hashes


def _plan(f: IO[bytes], path: str, offset: int, chunk_size: int) -> Iterator[PlanItem]:
    """Yields the plan of an export file: its records in chunks (read by workers), its
    checkpoints; raises what ``_frames`` raises, after the records before the damage.
    Only frame headers are read here (from a memory map), and the file's digest."""
    with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        yield from _plan_mapped(mm, path, offset, chunk_size)


def _plan_mapped(mm: mmap.mmap, path: str, offset: int, chunk_size: int
                 ) -> Iterator[PlanItem]:
    size = len(mm)
    unpack_frame = _FRAME.unpack_from
    head_size, record_size = _FRAME.size, _RECORD.size
    records = checkpoints = 0
    begin, count = offset, 0
    marks: list[Mark] = []

    def chunk() -> Iterator[PlanItem]:
        nonlocal count
        if count:
            yield PlannedChunk(count, ExportChunk(path, begin, offset, count))
        yield from marks
        marks.clear()
        count = 0

    try:
        while True:
            if offset + head_size > size:
                _head(mm[offset:offset + head_size], offset)  # raises: no trailer
            kind, length = unpack_frame(mm, offset)
            if length > MAX_FRAME:
                _head(mm[offset:offset + head_size], offset)  # raises: too long
            if offset + head_size + length > size:
                raise ExportFormatError(
                    f"export is truncated inside the frame at byte {offset}")
            if kind == FRAME_RECORD:
                if length < record_size:
                    raise ExportFormatError(f"record frame at byte {offset} is too short")
                records += 1
                count += 1
                offset += head_size + length
                if count == chunk_size:
                    yield from chunk()
                    begin = offset
                continue
            body = offset + head_size
            if kind == FRAME_CHECKPOINT:
                item = _checkpoint(mm[body:body + length], offset)
                if count:
                    marks.append(Mark(records, item))
                else:
                    yield Mark(records, item)
                checkpoints += 1
            elif kind == FRAME_END:
                digest = hashlib.sha256(memoryview(mm)[:offset]).hexdigest()
                end = body + length
                _trailer(mm[body:end], offset, digest, records, checkpoints, mm[end:end + 1])
                yield from chunk()
                return
            else:
                raise ExportFormatError(f"unknown frame type {kind:#x} at byte {offset}")
            offset += head_size + length
    except (ValueError, OSError):
        yield from chunk()
        raise


def _frames(f: IO[bytes], digest: Any, offset: int) -> Iterator[StreamItem]:
    read = f.read
    update = digest.update
    head_size = _FRAME.size
    record_size = _RECORD.size
    records = checkpoints = 0
    while True:
        head = read(head_size)
        kind, length = _head(head, offset)
        payload = read(length)
        if len(payload) != length:
            raise ExportFormatError(f"export is truncated inside the frame at byte {offset}")
        if kind == FRAME_RECORD:
            if length < record_size:
                raise ExportFormatError(f"record frame at byte {offset} is too short")
            update(head)
            update(payload)
            yield _record(payload)
            records += 1
        elif kind == FRAME_CHECKPOINT:
            update(head)
            update(payload)
            yield _checkpoint(payload, offset)
            checkpoints += 1
        elif kind == FRAME_END:
            _trailer(payload, offset, digest.hexdigest(), records, checkpoints, read(1))
            return
        else:
            raise ExportFormatError(f"unknown frame type {kind:#x} at byte {offset}")
        offset += head_size + length

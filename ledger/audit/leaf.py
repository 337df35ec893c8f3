"""Canonical, versioned encoding of one stored record as Merkle leaf data.

Leaf data, version 1 (all integers big-endian; see docs/AUDIT-EXPORT.md §3)::

    u8   format version = 0x01
    u8   id kind: 0x01 = UUID (then 16 bytes), 0x02 = text (then u16 length, UTF-8)
    u64  originator version
    u32  topic length, then the topic in UTF-8
    u32  state length, then the stored state bytes exactly as stored
         (compressed and, when a cipher key is configured, encrypted)

The leaf hash is SHA-256(0x00 ‖ leaf data) (RFC 9162 §2.1.1).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from uuid import UUID

from tlog.hashes import leaf_hash

LEAF_FORMAT_V1 = 0x01
ID_KIND_UUID = 0x01
ID_KIND_TEXT = 0x02
MAX_VERSION = (1 << 63) - 1

_HEAD_UUID = struct.Struct(">BB16sQI")
_HEAD_TEXT = struct.Struct(">BBH")
_U64_U32 = struct.Struct(">QI")
_U32 = struct.Struct(">I")


class LeafFormatError(ValueError):
    """Leaf data that is not a canonical version-1 encoding."""


@dataclass(frozen=True, slots=True)
class LeafRecord:
    """One stored record: the content a leaf commits to."""

    originator_id: UUID | str
    originator_version: int
    topic: str
    state: bytes

    @property
    def event_id(self) -> str:
        """Returns ``originator_id:version``, as the CLI spells an event."""
        return f"{self.originator_id}:{self.originator_version}"


def encode_leaf(
    originator_id: UUID | str, originator_version: int, topic: str, state: bytes
) -> bytes:
    """Returns the version-1 leaf data of one stored record."""
    if not 0 <= originator_version <= MAX_VERSION:
        raise LeafFormatError(f"originator version out of range: {originator_version}")
    topic_bytes = topic.encode("utf-8")
    if isinstance(originator_id, UUID):
        return b"".join(
            (
                _HEAD_UUID.pack(
                    LEAF_FORMAT_V1, ID_KIND_UUID, originator_id.bytes, originator_version,
                    len(topic_bytes),
                ),
                topic_bytes,
                _U32.pack(len(state)),
                state,
            )
        )
    id_bytes = originator_id.encode("utf-8")
    if len(id_bytes) > 0xFFFF:
        raise LeafFormatError("text originator id longer than 65535 bytes")
    return b"".join(
        (
            _HEAD_TEXT.pack(LEAF_FORMAT_V1, ID_KIND_TEXT, len(id_bytes)),
            id_bytes,
            _U64_U32.pack(originator_version, len(topic_bytes)),
            topic_bytes,
            _U32.pack(len(state)),
            state,
        )
    )


def encode_record(record: LeafRecord) -> bytes:
    """Returns the version-1 leaf data of a record."""
    return encode_leaf(
        record.originator_id, record.originator_version, record.topic, record.state
    )


def decode_leaf(data: bytes) -> LeafRecord:
    """Returns the record encoded in version-1 leaf data; rejects anything non-canonical."""
    try:
        if len(data) < 2:
            raise LeafFormatError("leaf data is shorter than its header")
        if data[0] != LEAF_FORMAT_V1:
            raise LeafFormatError(f"unknown leaf format version {data[0]}")
        originator_id: UUID | str
        if data[1] == ID_KIND_UUID:
            _, _, raw_id, version, topic_len = _HEAD_UUID.unpack_from(data, 0)
            originator_id = UUID(bytes=raw_id)
            pos = _HEAD_UUID.size
        elif data[1] == ID_KIND_TEXT:
            _, _, id_len = _HEAD_TEXT.unpack_from(data, 0)
            pos = _HEAD_TEXT.size
            originator_id = _utf8(data[pos : pos + id_len], "originator id", id_len)
            pos += id_len
            version, topic_len = _U64_U32.unpack_from(data, pos)
            pos += _U64_U32.size
        else:
            raise LeafFormatError(f"unknown originator id kind {data[1]}")
        if version > MAX_VERSION:
            raise LeafFormatError(f"originator version out of range: {version}")
        topic = _utf8(data[pos : pos + topic_len], "topic", topic_len)
        pos += topic_len
        (state_len,) = _U32.unpack_from(data, pos)
        pos += _U32.size
        state = data[pos : pos + state_len]
        if len(state) != state_len:
            raise LeafFormatError("leaf data ends inside the state")
        if pos + state_len != len(data):
            raise LeafFormatError(f"{len(data) - pos - state_len} trailing bytes after the state")
    except struct.error as e:
        raise LeafFormatError(f"leaf data is truncated: {e}") from None
    return LeafRecord(originator_id, version, topic, bytes(state))


def _utf8(raw: bytes, what: str, expected_len: int) -> str:
    if len(raw) != expected_len:
        raise LeafFormatError(f"leaf data ends inside the {what}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise LeafFormatError(f"{what} is not valid UTF-8") from None


def record_leaf_hash(record: LeafRecord) -> bytes:
    """Returns the RFC 9162 leaf hash of a record."""
    return leaf_hash(encode_record(record))

"""Canonical leaf encoding: round trips, exact layout, rejection of non-canonical data."""

from __future__ import annotations

import hashlib
import struct
from uuid import UUID

import pytest

from ledger.audit.leaf import (
    LeafFormatError,
    LeafRecord,
    decode_leaf,
    encode_leaf,
    encode_record,
    record_leaf_hash,
)

ID = UUID("12345678-1234-5678-1234-567812345678")


def test_uuid_layout_is_as_documented():
    data = encode_leaf(ID, 7, "ledger.domain:Event", b"\x01\x02")
    topic = b"ledger.domain:Event"
    want = (b"\x01\x01" + ID.bytes + struct.pack(">Q", 7) + struct.pack(">I", len(topic))
            + topic + struct.pack(">I", 2) + b"\x01\x02")
    assert data == want
    assert record_leaf_hash(decode_leaf(data)) == hashlib.sha256(b"\x00" + want).digest()


def test_roundtrip_uuid_and_text_ids():
    for rec in [LeafRecord(ID, 1, "t", b""), LeafRecord("acct-é", 2**40, "tøpic", b"x" * 300)]:
        assert decode_leaf(encode_record(rec)) == rec


def test_every_field_changes_the_leaf():
    base = encode_leaf(ID, 1, "t", b"s")
    others = [encode_leaf(UUID(int=ID.int + 1), 1, "t", b"s"), encode_leaf(ID, 2, "t", b"s"),
              encode_leaf(ID, 1, "u", b"s"), encode_leaf(ID, 1, "t", b"S"),
              encode_leaf(str(ID), 1, "t", b"s")]
    assert len({base, *others}) == 6


@pytest.mark.parametrize(
    "data",
    [b"", b"\x02", b"\x01\x03" + b"\x00" * 40, encode_leaf(ID, 1, "t", b"s") + b"\x00",
     encode_leaf(ID, 1, "t", b"state")[:-1], b"\x01\x02\x00\x02\xff\xfe" + b"\x00" * 16,
     b"\x01\x01" + ID.bytes + struct.pack(">QI", 2**63, 0) + struct.pack(">I", 0)],
)
def test_malformed_leaf_data_is_a_typed_error(data):
    with pytest.raises(LeafFormatError):
        decode_leaf(data)


def test_negative_version_rejected():
    with pytest.raises(LeafFormatError):
        encode_leaf(ID, -1, "t", b"")

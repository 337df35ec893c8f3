"""Wire conversions: Struct building against protobuf's own Struct.update, and the fast
path from stored JSON against decoding it with eventsourcing's transcoder."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    UUIDAsHex,
)
from google.protobuf import struct_pb2, timestamp_pb2
from google.rpc import error_details_pb2
from hypothesis import given
from hypothesis import strategies as st

from services import wire
from services.generated.valedger.v1 import trading_pb2
from services.status import ServiceError

JSON_LIKE = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


def reference(fields: dict[str, Any]) -> struct_pb2.Struct:
    """Returns the Struct protobuf's own update builds from the same plain data."""
    result = struct_pb2.Struct()
    result.update(json.loads(json.dumps(wire.plain(fields))))
    return result


DOMAIN_LIKE = st.recursive(
    JSON_LIKE | st.uuids() | st.decimals(allow_nan=False, allow_infinity=False)
    | st.datetimes(timezones=st.just(UTC)) | st.datetimes() | st.binary(max_size=8)
    | st.integers(min_value=2**53, max_value=2**80) | st.dates(),
    lambda children: st.lists(children, max_size=4).map(tuple)
    | st.dictionaries(st.integers(0, 9), children, max_size=3)
    | st.frozensets(st.text(max_size=3), max_size=3),
    max_leaves=12)


@given(st.dictionaries(st.text(max_size=8), JSON_LIKE, max_size=6))
def test_struct_matches_protobufs_update(fields: dict[str, Any]) -> None:
    assert wire.struct(fields) == reference(fields)


@given(st.dictionaries(st.text(max_size=8), DOMAIN_LIKE, max_size=6))
def test_struct_of_domain_values_matches_protobufs_update_of_plain_data(
        fields: dict[str, Any]) -> None:
    assert wire.struct(fields) == reference(fields)


def test_struct_of_domain_values_and_empty_containers() -> None:
    fields = {"id": UUID(int=5), "amount": Decimal("1.10"), "at": datetime(2026, 1, 1,
              tzinfo=UTC), "raw": b"\x01\xff", "empty": {}, "none": [], "big": 2**70,
              "tags": ("a", "b")}
    built = wire.struct(fields)
    assert built == reference(fields)
    assert built.fields["empty"].WhichOneof("kind") == "struct_value"
    assert built.fields["none"].WhichOneof("kind") == "list_value"
    assert built.fields["big"].string_value == str(2**70)
    assert built.fields["amount"].string_value == "1.10"


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.one_of(st.none(), st.timezones())))
def test_timestamp_matches_protobufs_from_datetime(value: datetime) -> None:
    expected = timestamp_pb2.Timestamp()
    expected.FromDatetime(value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC))
    assert wire.timestamp(value) == expected
    assert wire.timestamp(None) is None
    inside = timestamp_pb2.Timestamp(seconds=1, nanos=2)
    wire.fill_timestamp(inside, value)
    assert inside == expected


@given(st.integers(-62_135_596_800, 253_402_300_799), st.integers(0, 999_999_999))
def test_time_matches_protobufs_to_datetime(seconds: int, nanos: int) -> None:
    stamp = timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)
    read = wire.time(trading_pb2.TradePayload(at=stamp), "at")
    assert read == stamp.ToDatetime(tzinfo=UTC)
    assert read is not None and read.tzinfo is UTC


@pytest.mark.parametrize(("seconds", "nanos"), [(-62_135_596_801, 0),
                                                (253_402_300_800, 0), (0, -1),
                                                (0, 1_000_000_000)])
def test_time_out_of_range_names_the_field(seconds: int, nanos: int) -> None:
    stamp = timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)
    with pytest.raises(ServiceError, match="timestamp out of range") as raised:
        wire.time(trading_pb2.TradePayload(at=stamp), "at", "trade.at")
    assert raised.value.message.startswith("trade.at: ")
    (detail,) = raised.value.details
    assert isinstance(detail, error_details_pb2.BadRequest)
    assert detail.field_violations[0].field == "trade.at"


def ledger_transcoder() -> JSONTranscoder:
    """Returns the transcoder a Ledger stores events with (eventsourcing's defaults)."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


TRANSCODER = ledger_transcoder()
KEYS = st.text(max_size=8).filter(lambda key: key not in ("_type_", "_data_"))
STORABLE_SCALARS = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20) | st.uuids()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.datetimes(timezones=st.one_of(st.none(), st.just(UTC), st.timezones())))
STORABLE = st.recursive(
    STORABLE_SCALARS,
    lambda children: st.lists(children, max_size=4).map(tuple) | st.lists(children, max_size=4)
    | st.dictionaries(KEYS, children, max_size=3),
    max_leaves=12)


@given(st.dictionaries(KEYS, STORABLE, max_size=8))
def test_stored_struct_equals_the_struct_of_the_decoded_state(fields: dict[str, Any]) -> None:
    stored = TRANSCODER.encode(fields)
    built = struct_pb2.Struct()
    wire.fill_stored_struct(built, json.loads(stored), frozenset())
    assert built == wire.struct(TRANSCODER.decode(stored))


def test_stored_struct_leaves_out_bookkeeping_and_keeps_empty_containers() -> None:
    fields = {"id": UUID(int=7), "amount": Decimal("0E-8"), "at": datetime(2026, 1, 1),
              "timestamp": datetime(2026, 1, 2, tzinfo=UTC), "empty": {}, "none": []}
    built = struct_pb2.Struct()
    wire.fill_stored_struct(built, json.loads(TRANSCODER.encode(fields)),
                            frozenset({"timestamp"}))
    assert set(built.fields) == {"id", "amount", "at", "empty", "none"}
    assert built.fields["id"].string_value == str(UUID(int=7))
    assert built.fields["amount"].string_value == "0E-8"
    assert built.fields["at"].string_value == "2026-01-01T00:00:00"
    assert built.fields["empty"].WhichOneof("kind") == "struct_value"
    assert built.fields["none"].WhichOneof("kind") == "list_value"


@given(STORABLE_SCALARS)
def test_stored_values_and_ids_decode_as_the_transcoder_does(value: Any) -> None:
    stored = TRANSCODER.encode({"v": value})
    raw, decoded = json.loads(stored)["v"], TRANSCODER.decode(stored)["v"]
    assert wire.stored_value(raw) == decoded
    assert type(wire.stored_value(raw)) is type(decoded)
    assert wire.stored_id(raw) == (str(decoded) if decoded else decoded)


def test_a_transcoding_the_fast_path_does_not_know_is_refused() -> None:
    unknown = {"_type_": "tuple_as_list", "_data_": [1, 2]}
    with pytest.raises(wire.UnknownStoredValue):
        wire.stored_value(unknown)
    with pytest.raises(wire.UnknownStoredValue):
        wire.fill_stored_struct(struct_pb2.Struct(), {"x": [{"y": unknown}]}, frozenset())


def test_uuids_parse_in_any_form_uuid_reads_and_only_canonical_ones_are_remembered() -> None:
    canonical = "6f1d2c3e-5a4b-4c8d-9e7f-0a1b2c3d4e5f"
    assert wire.uuid(canonical, "buyer_participant_id") is wire.uuid(canonical, "x")
    before = wire._parsed_uuid.cache_info().currsize
    padded = "-" * 100_000 + canonical.replace("-", "")
    assert wire.uuid(padded, "buyer_participant_id") == UUID(canonical)
    assert wire.uuid("{" + canonical + "}", "x") == UUID(canonical)
    assert wire._parsed_uuid.cache_info().currsize == before
    with pytest.raises(ServiceError, match="buyer_participant_id: not a UUID"):
        wire.uuid("not-a-uuid", "buyer_participant_id")

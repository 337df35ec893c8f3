"""Wire formats: decimal strings, timestamps, UUIDs and Struct values, checked on the way in.

Every parser raises INVALID_ARGUMENT naming the field, so malformed client input never
reaches the ledger as an exception it did not expect.
"""

from __future__ import annotations

import base64
import enum
import functools
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, UUIDAsHex
from google.protobuf import struct_pb2, timestamp_pb2
from google.protobuf.message import Message

from services.status import invalid_argument

MAX_DECIMAL_CHARS = 64
CANONICAL_UUID_CHARS = 36
"""Characters of a UUID as 8-4-4-4-12 hex digits."""
_MIN_SECONDS = -62135596800  # 0001-01-01T00:00:00Z, the Timestamp range (RFC 3339)
_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z
_SAFE_INT = 2**53


@functools.lru_cache(maxsize=1 << 14)
def _parsed_uuid(value: str) -> UUID:
    """Returns the UUID a string spells (remembered: a stream of trades names the same
    licence and parties again and again, and parsing one costs more than a lookup)."""
    return UUID(value)


def uuid(value: str, field: str) -> UUID:
    """Returns ``value`` as a UUID, or raises INVALID_ARGUMENT."""
    if not value:
        raise invalid_argument(field, "is required")
    try:
        # Only the canonical form is remembered: UUID() also reads braces, "urn:uuid:"
        # and any number of hyphens, and a cache of long strings would pin memory.
        return _parsed_uuid(value) if len(value) == CANONICAL_UUID_CHARS else UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise invalid_argument(field, f"not a UUID: {value[:80]!r}") from None


def optional_uuid(value: str, field: str) -> UUID | None:
    """Returns ``value`` as a UUID, None when empty; raises INVALID_ARGUMENT when malformed."""
    return uuid(value, field) if value else None


def text(value: str, field: str) -> str:
    """Returns a non-empty string, or raises INVALID_ARGUMENT."""
    if not value.strip():
        raise invalid_argument(field, "is required")
    return value


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def time(message: Message, name: str, field: str | None = None) -> datetime | None:
    """Returns the Timestamp field ``name`` of ``message`` as UTC, or None when unset."""
    if not message.HasField(name):
        return None
    stamp: timestamp_pb2.Timestamp = getattr(message, name)
    label = field or name
    if not (_MIN_SECONDS <= stamp.seconds <= _MAX_SECONDS) or not (
            0 <= stamp.nanos < 1_000_000_000):
        raise invalid_argument(label, "timestamp out of range (years 1 to 9999)")
    # The epoch plus an interval: the same instant as datetime.fromtimestamp(seconds, UTC)
    # with the microseconds set, in a third of its time (every trade has a timestamp).
    return _EPOCH + timedelta(0, stamp.seconds, stamp.nanos // 1000)


def required_time(message: Message, name: str, field: str | None = None) -> datetime:
    """Returns a required Timestamp field as UTC, or raises INVALID_ARGUMENT."""
    value = time(message, name, field)
    if value is None:
        raise invalid_argument(field or name, "is required")
    return value



def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """Returns a datetime as a Timestamp (None stays None; a naive one counts as UTC)."""
    if value is None:
        return None
    seconds, nanos = _seconds_and_nanos(value)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


def fill_timestamp(target: timestamp_pb2.Timestamp, value: datetime) -> None:
    """Sets a Timestamp (perhaps inside a message) to a datetime (a naive one counts as
    UTC)."""
    target.seconds, target.nanos = _seconds_and_nanos(value)


def _seconds_and_nanos(value: datetime) -> tuple[int, int]:
    # The arithmetic of Timestamp.FromDatetime without its per-call conversions: every
    # event of a page has one.
    since = (value if value.tzinfo else value.replace(tzinfo=UTC)) - _EPOCH
    return since.days * 86_400 + since.seconds, since.microseconds * 1000


def plain(value: Any) -> Any:
    """Returns ``value`` as JSON-like data: decimals, times, ids and big ints as strings,
    bytes as hex."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if -_SAFE_INT < value < _SAFE_INT else str(value)
    if isinstance(value, float):
        return value
    if isinstance(value, (Decimal, UUID)):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if hasattr(value, "__dict__"):
        return {k: plain(v) for k, v in vars(value).items() if not k.startswith("_")}
    return str(value)


def struct(fields: Mapping[str, Any]) -> struct_pb2.Struct:
    """Returns a Struct of ``fields`` converted by :func:`plain`."""
    result = struct_pb2.Struct()
    fill_struct(result, fields)
    return result


# Domain values (an aggregate's state, an event decoded into its domain object) become a
# Struct here; events read from stored state take fill_stored_struct below. It fills in one
# pass, field by field (Struct.update is about twice as slow), and dispatches on
# the exact type of the values events carry most (text, ids, decimals, dicts, lists);
# anything else goes through plain() first. tests/services/test_wire.py checks the result
# against Struct.update of plain() data.

def fill_struct(target: struct_pb2.Struct, fields: Mapping[Any, Any]) -> None:
    """Fills ``target`` (a Struct, perhaps inside a message) with ``fields`` converted by
    :func:`plain`."""
    values = target.fields
    for key, value in fields.items():
        _fill_value(values[key if type(key) is str else str(key)], value)


def _fill_value(target: struct_pb2.Value, value: Any) -> None:
    """Sets a Value from any value :func:`plain` accepts."""
    kind = type(value)
    if kind is str:
        target.string_value = value
    elif kind is UUID or kind is Decimal:
        target.string_value = str(value)
    elif kind is dict:
        target.struct_value.SetInParent()
        fill_struct(target.struct_value, value)
    elif kind is list or kind is tuple:
        target.list_value.SetInParent()
        for item in value:
            _fill_value(target.list_value.values.add(), item)
    else:
        _fill_plain(target, plain(value))


def _fill_plain(target: struct_pb2.Value, value: Any) -> None:
    """Sets a Value from :func:`plain` data (None, bool, number, str, dict or list)."""
    if value is None:
        target.null_value = struct_pb2.NULL_VALUE
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, (int, float)):
        target.number_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, Mapping):
        target.struct_value.SetInParent()
        fill_struct(target.struct_value, value)
    else:
        target.list_value.SetInParent()
        for item in value:
            _fill_value(target.list_value.values.add(), item)


# Stored event state (ledger.history.HistoryRecord.stored_state) is JSON in which ids,
# decimals and times are eventsourcing transcodings. These give the same wire values as
# decoding the domain event and converting it, without building the domain objects.

_UUID_HEX, _DECIMAL_STR, _DATETIME_ISO = UUIDAsHex.name, DecimalAsStr.name, DatetimeAsISO.name
_UTC_SUFFIX = "+00:00"


class UnknownStoredValue(ValueError):
    """A stored value is a transcoding the fast path does not know; decode the event."""


def _is_transcoded(value: Any) -> bool:
    """Returns True for what eventsourcing's JSONTranscoder decodes as a transcoding."""
    return type(value) is dict and len(value) == 2 and "_type_" in value and "_data_" in value


def stored_value(value: Any) -> Any:
    """Returns a stored JSON value with a transcoded id, decimal or time decoded."""
    if _is_transcoded(value):
        kind, data = value["_type_"], value["_data_"]
        if kind == _UUID_HEX:
            return UUID(data)
        if kind == _DECIMAL_STR:
            return Decimal(data)
        if kind == _DATETIME_ISO:
            return datetime.fromisoformat(data)
        raise UnknownStoredValue(kind)
    return value


def stored_id(value: Any) -> Any:
    """Returns ``str()`` of a stored id's decoded value; a false value (None, "") stays
    as it is, so ``stored_id(a) or stored_id(b)`` chooses as the decoded values would."""
    if _is_transcoded(value) and value["_type_"] == _UUID_HEX:
        return _stored_text(_UUID_HEX, value["_data_"])
    decoded = stored_value(value)
    return str(decoded) if decoded else decoded


def _stored_text(kind: Any, data: Any) -> str:
    """Returns what :func:`plain` gives for the decoded form of a transcoded value (for an
    id, also what ``str()`` gives)."""
    if kind == _UUID_HEX and type(data) is str and len(data) == 32:
        # UUID.hex wrote it: str(UUID(data)) is the same lower-case digits, grouped.
        return f"{data[:8]}-{data[8:12]}-{data[12:16]}-{data[16:20]}-{data[20:]}"
    if kind == _DECIMAL_STR and type(data) is str:
        # str(Decimal(text)) == text for every text str(Decimal) writes.
        return data
    if kind == _DATETIME_ISO and type(data) is str and data.endswith(_UTC_SUFFIX):
        return data
    decoded = stored_value({"_type_": kind, "_data_": data})
    return str(plain(decoded))


def fill_stored_struct(target: struct_pb2.Struct, state: Mapping[str, Any],
                       leave_out: frozenset[str]) -> None:
    """Fills ``target`` as :func:`struct` would from the decoded form of stored state,
    without the keys in ``leave_out``; raises UnknownStoredValue for a transcoding it does
    not know."""
    values = target.fields
    for key, value in state.items():
        if key in leave_out:
            continue
        kind = type(value)
        if kind is str:
            values[key].string_value = value
        elif kind is dict and len(value) == 2 and "_type_" in value and "_data_" in value:
            # _is_transcoded, inlined: most fields of an event are ids, decimals or times.
            values[key].string_value = _stored_text(value["_type_"], value["_data_"])
        else:
            _fill_stored(values[key], value)


def _fill_stored(target: struct_pb2.Value, value: Any) -> None:
    kind = type(value)
    if kind is str:
        target.string_value = value
    elif kind is dict:
        if _is_transcoded(value):
            target.string_value = _stored_text(value["_type_"], value["_data_"])
        else:
            target.struct_value.SetInParent()
            values = target.struct_value.fields
            for key, item in value.items():
                _fill_stored(values[key], item)
    elif kind is list:
        target.list_value.SetInParent()
        for item in value:
            _fill_stored(target.list_value.values.add(), item)
    else:
        _fill_plain(target, plain(value))


def encode_token(payload: Mapping[str, Any]) -> str:
    """Returns an opaque page token for ``payload``."""
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, field: str = "page_token") -> dict[str, Any]:
    """Returns the payload of a page token, or raises INVALID_ARGUMENT."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise invalid_argument(field, "not a token this server issued") from None
    if not isinstance(payload, dict):
        raise invalid_argument(field, "not a token this server issued")
    return payload


def page_size(value: int, field: str = "page_size", default: int = 100,
              maximum: int = 1000) -> int:
    """Returns the page size to use (0 → default), or raises INVALID_ARGUMENT."""
    if value < 0:
        raise invalid_argument(field, "must not be negative")
    if value == 0:
        return default
    return min(value, maximum)

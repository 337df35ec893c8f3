"""Wire formats: decimal strings, timestamps, UUIDs and Struct values, checked on the way in.

Every parser raises INVALID_ARGUMENT naming the field, so malformed client input never
reaches the ledger as an exception it did not expect.
"""

from __future__ import annotations

import base64
import enum
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from google.protobuf import struct_pb2, timestamp_pb2
from google.protobuf.message import Message

from services.status import invalid_argument

MAX_DECIMAL_CHARS = 64
_MIN_SECONDS = -62135596800  # 0001-01-01T00:00:00Z, the Timestamp range (RFC 3339)
_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z
_SAFE_INT = 2**53


def uuid(value: str, field: str) -> UUID:
    """Returns ``value`` as a UUID, or raises INVALID_ARGUMENT."""
    if not value:
        raise invalid_argument(field, "is required")
    try:
        return UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise invalid_argument(field, f"not a UUID: {value[:80]!r}") from None


def optional_uuid(value: str, field: str) -> UUID | None:
    """Returns ``value`` as a UUID, None when empty; raises INVALID_ARGUMENT when malformed."""
    return uuid(value, field) if value else None


def decimal(value: str, field: str, required: bool = True) -> Decimal:
    """Returns a finite decimal from its string form, or raises INVALID_ARGUMENT."""
    if not value:
        if required:
            raise invalid_argument(field, "is required (a decimal string)")
        return Decimal(0)
    if len(value) > MAX_DECIMAL_CHARS:
        raise invalid_argument(field, f"at most {MAX_DECIMAL_CHARS} characters")
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise invalid_argument(field, f"not a decimal number: {value!r}") from None
    if not number.is_finite():
        raise invalid_argument(field, "must be a finite number")
    return number


def text(value: str, field: str) -> str:
    """Returns a non-empty string, or raises INVALID_ARGUMENT."""
    if not value.strip():
        raise invalid_argument(field, "is required")
    return value


def time(message: Message, name: str, field: str | None = None) -> datetime | None:
    """Returns the Timestamp field ``name`` of ``message`` as UTC, or None when unset."""
    if not message.HasField(name):
        return None
    stamp: timestamp_pb2.Timestamp = getattr(message, name)
    label = field or name
    if not (_MIN_SECONDS <= stamp.seconds <= _MAX_SECONDS) or not (
            0 <= stamp.nanos < 1_000_000_000):
        raise invalid_argument(label, "timestamp out of range (years 1 to 9999)")
    return datetime.fromtimestamp(stamp.seconds, UTC).replace(
        microsecond=stamp.nanos // 1000)


def required_time(message: Message, name: str, field: str | None = None) -> datetime:
    """Returns a required Timestamp field as UTC, or raises INVALID_ARGUMENT."""
    value = time(message, name, field)
    if value is None:
        raise invalid_argument(field or name, "is required")
    return value


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """Returns a datetime as a Timestamp (None stays None; a naive one counts as UTC)."""
    if value is None:
        return None
    # The arithmetic of Timestamp.FromDatetime without its per-call conversions: every
    # event of a page has one.
    since = (value if value.tzinfo else value.replace(tzinfo=UTC)) - _EPOCH
    return timestamp_pb2.Timestamp(seconds=since.days * 86_400 + since.seconds,
                                   nanos=since.microseconds * 1000)


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
    _fill_struct(result, fields)
    return result


# A page of events builds one Struct an event, so this is a hot path. It fills the Struct
# in one pass, field by field (Struct.update is about twice as slow), and dispatches on
# the exact type of the values events carry most (text, ids, decimals, dicts, lists);
# anything else goes through plain() first. tests/services/test_wire.py checks the result
# against Struct.update of plain() data.

def _fill_struct(target: struct_pb2.Struct, fields: Mapping[Any, Any]) -> None:
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
        _fill_struct(target.struct_value, value)
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
        _fill_struct(target.struct_value, value)
    else:
        target.list_value.SetInParent()
        for item in value:
            _fill_value(target.list_value.values.add(), item)


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

"""Checks of request fields: each returns the clean value or raises InvalidRequest."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ledger.domain.base import now, utc
from ledger.domain.policy import PolicyView
from ledger.errors import InvalidRequest, RuleViolation, amount


def event_time(at: datetime | None) -> datetime:
    """Returns the event's own UTC time: ``at``, or now when not given."""
    return now() if at is None else utc(at)


def optional_time(value: datetime | None) -> datetime | None:
    """Returns ``value`` in UTC, or None."""
    return None if value is None else utc(value)


def check_request_id(request_id: str) -> None:
    """Raises InvalidRequest unless the client request id is present and short."""
    if not isinstance(request_id, str) or not request_id.strip():
        raise InvalidRequest("request_id", "a client request id is required")
    if len(request_id) > 200:
        raise InvalidRequest("request_id", "at most 200 characters")


def check_text(field: str, value: str) -> str:
    """Returns non-empty text of at most 1000 characters."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(field, "must not be empty")
    if len(value) > 1000:
        raise InvalidRequest(field, "at most 1000 characters")
    return value


def check_country(field: str, value: str) -> None:
    """Raises InvalidRequest unless ``value`` is an ISO 3166 alpha-2 code."""
    if not (isinstance(value, str) and len(value) == 2 and value.isalpha() and value.isupper()):
        raise InvalidRequest(field, f"must be an ISO 3166 alpha-2 code, got {value!r}")


def check_hex(field: str, value: str) -> str:
    """Returns non-empty hex in lower case."""
    try:
        bytes.fromhex(value)
    except (ValueError, TypeError):
        raise InvalidRequest(field, f"not hex: {value!r}") from None
    if not value:
        raise InvalidRequest(field, "must not be empty")
    return value.lower()


def decimal(field: str, value: Decimal) -> Decimal:
    """Returns a finite Decimal."""
    try:
        number = Decimal(value)
    except Exception:
        raise InvalidRequest(field, f"not a decimal number: {value!r}") from None
    if not number.is_finite():
        raise InvalidRequest(field, "must be finite")
    return number


def positive(field: str, value: Decimal) -> Decimal:
    """Returns a Decimal above zero."""
    number = decimal(field, value)
    if number <= 0:
        raise InvalidRequest(field, f"must be positive, got {number}")
    return number


def non_negative(field: str, value: Decimal) -> Decimal:
    """Returns a Decimal of at least zero."""
    number = decimal(field, value)
    if number < 0:
        raise InvalidRequest(field, f"must not be negative, got {number}")
    return number


def check_after(field: str, later: datetime | None, earlier: datetime) -> None:
    """Raises InvalidRequest unless ``later`` (when given) is after ``earlier``."""
    if later is not None and later <= earlier:
        raise InvalidRequest(field, f"must be after {earlier.isoformat()}")


def check_efficiency_floor(policy: PolicyView, efficiency: Decimal) -> None:
    """Raises RuleViolation when declared J/TH is better than the policy floor."""
    floor = policy.decimal("efficiency_floor_jth")
    if efficiency < floor:
        raise RuleViolation(
            "EFFICIENCY_BELOW_FLOOR",
            f"declared efficiency {amount(efficiency)} J/TH is better than the policy floor "
            f"{amount(floor)} J/TH",
            {"declared_jth": amount(efficiency), "floor_jth": amount(floor)})

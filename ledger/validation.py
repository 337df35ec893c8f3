"""Bounds on everything a client sends (DESIGN §3 "Numbers and text"), checked once, at
the edge of the ledger: each function returns the clean value or raises InvalidRequest
naming the field. Every check runs in time linear in the input's length and does no
arithmetic on a number before its size is known, so an absurd value cannot stall a
server.

Relied on by every use case (``ledger.licensing``, ``ledger.trading``, ``ledger.proofs``
and the rest) and by nothing else: the services pass text and numbers through unchanged.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from ledger.domain.base import utc
from ledger.domain.country import is_country_code
from ledger.domain.policy import PolicyView
from ledger.errors import InvalidRequest, RuleViolation, amount

MAX_AMOUNT = Decimal(10) ** 15
"""Every amount is below this (in its own unit: coins, USD, kWh, MW, J/TH)."""
MAX_DECIMAL_PLACES = 18
"""Every amount has at most this many digits after the point."""
MAX_DECIMAL_CHARS = 64
"""The longest decimal text accepted (a longer one cannot be a bounded amount)."""
MAX_TEXT = 1000
"""The longest free text (names, reasons, notes) in characters."""
MAX_REQUEST_ID = 200
"""The longest request id in characters."""

_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
"""Control characters (Unicode category Cc), line and paragraph separators (Zl, Zp) and
lone surrogates (Cs): no text field may hold them."""


def event_time(at: datetime | None, recorded_at: datetime) -> datetime:
    """Returns the client's time of an event in UTC: ``at``, or ``recorded_at`` when the
    client gave none."""
    if at is None:
        return recorded_at
    if not isinstance(at, datetime):
        raise InvalidRequest("at", "must be a datetime")
    return utc(at)


def optional_time(value: datetime | None, field: str = "time") -> datetime | None:
    """Returns ``value`` in UTC, or None."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidRequest(field, "must be a datetime")
    return utc(value)


def required_time(value: datetime, field: str) -> datetime:
    """Returns ``value`` in UTC; raises InvalidRequest when it is not a datetime."""
    if not isinstance(value, datetime):
        raise InvalidRequest(field, "must be a datetime")
    return utc(value)


def check_text(field: str, value: str, limit: int = MAX_TEXT) -> str:
    """Returns non-empty text of at most ``limit`` characters without control characters
    (C0, C1, line or paragraph separators, lone surrogates)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(field, "must not be empty")
    if len(value) > limit:
        raise InvalidRequest(field, f"at most {limit} characters")
    found = _FORBIDDEN.search(value)
    if found is not None:
        raise InvalidRequest(field, f"control character U+{ord(found.group()):04X} at "
                                    f"position {found.start()}")
    return value


def check_request_id(request_id: str) -> str:
    """Returns the client request id when it is present, short and printable."""
    if not isinstance(request_id, str) or not request_id.strip():
        raise InvalidRequest("request_id", "a client request id is required")
    return check_text("request_id", request_id, MAX_REQUEST_ID)


def check_country(field: str, value: str) -> str:
    """Returns ``value`` when it is an assigned ISO 3166 alpha-2 code
    (``ledger.domain.country``)."""
    if not is_country_code(value):
        shown = value[:10] if isinstance(value, str) else type(value).__name__
        raise InvalidRequest(field, f"must be an assigned ISO 3166 alpha-2 code such as "
                                    f"KZ or GB, got {shown!r}")
    return value


def check_currency(field: str, value: str) -> str:
    """Returns ``value`` when it is an ISO 4217 code (three capital letters)."""
    if not (isinstance(value, str) and len(value) == 3 and value.isascii()
            and value.isalpha() and value.isupper()):
        shown = value[:10] if isinstance(value, str) else type(value).__name__
        raise InvalidRequest(field, f"ISO 4217 code required, got {shown!r}")
    return value


def check_hex(field: str, value: str, limit: int = 200) -> str:
    """Returns non-empty hex of at most ``limit`` characters, in lower case."""
    if not isinstance(value, str) or not value:
        raise InvalidRequest(field, "must not be empty")
    if len(value) > limit:
        raise InvalidRequest(field, f"at most {limit} hex digits")
    try:
        bytes.fromhex(value)
    except ValueError:
        raise InvalidRequest(field, f"not hex: {value[:40]!r}") from None
    return value.lower()


_PLAIN_AMOUNT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,18})?")
"""Decimal text that is within the bounds by its shape alone: at most 15 digits before
the point and 18 after, no sign, no exponent (what clients send almost always)."""


def decimal(field: str, value: Decimal | str | int) -> Decimal:
    """Returns a finite amount within the documented bounds: 0 ≤ |x| < 10¹⁵ with at most
    18 decimal places (text: at most 64 characters). Sign is checked by the callers."""
    if isinstance(value, str) and _PLAIN_AMOUNT.fullmatch(value) is not None:
        number = Decimal(value)
        if number:  # zero, however spelt, is Decimal(0), as below
            return number
    return bounded_decimal(field, value)


def bounded_decimal(field: str, value: Decimal | str | int) -> Decimal:
    """Returns what ``decimal`` returns, reading the value in full (``decimal`` skips
    this for plain text, whose shape bounds it; its tests hold the two equal)."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise InvalidRequest(field, "is required (a decimal string)")
        if len(text) > MAX_DECIMAL_CHARS:
            raise InvalidRequest(field, f"at most {MAX_DECIMAL_CHARS} characters")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise InvalidRequest(field, f"not a decimal number: {text[:40]!r}") from None
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= MAX_AMOUNT:
            raise InvalidRequest(field, f"must be below {amount(MAX_AMOUNT)}")
        number = Decimal(value)
    else:
        raise InvalidRequest(field, f"must be a decimal number, got {type(value).__name__}")
    if not number.is_finite():
        raise InvalidRequest(field, "must be a finite number")
    # Size from the exponent and digit count alone: no arithmetic on a huge number.
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    original_exponent = exponent
    significant = len(digits)
    while significant > 1 and digits[significant - 1] == 0:
        significant -= 1
    exponent += len(digits) - significant
    if not any(digits):
        return Decimal(0)
    if exponent < -MAX_DECIMAL_PLACES:
        raise InvalidRequest(field, f"at most {MAX_DECIMAL_PLACES} decimal places")
    if significant + exponent > 15:
        raise InvalidRequest(field, f"must be below {amount(MAX_AMOUNT)}")
    if original_exponent < -MAX_DECIMAL_PLACES:  # trailing zeros beyond 18 places
        number = Decimal((sign, digits[:significant], exponent))
    return number


def positive(field: str, value: Decimal | str | int) -> Decimal:
    """Returns a bounded amount above zero."""
    number = decimal(field, value)
    if number <= 0:
        raise InvalidRequest(field, f"must be positive, got {number}")
    return number


def non_negative(field: str, value: Decimal | str | int) -> Decimal:
    """Returns a bounded amount of at least zero."""
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

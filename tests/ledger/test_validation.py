"""Request field checks of ``ledger.validation``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.policy import PolicyView
from ledger.errors import InvalidRequest, RuleViolation
from ledger.validation import (
    bounded_decimal,
    check_after,
    check_country,
    check_efficiency_floor,
    check_hex,
    check_request_id,
    check_text,
    decimal,
    event_time,
    non_negative,
    positive,
)

T = datetime(2026, 3, 1, tzinfo=UTC)


def test_request_ids_are_required_and_bounded() -> None:
    check_request_id("r-1")
    check_request_id("x" * 200)
    for bad in ("", "   ", "x" * 201, None):
        with pytest.raises(InvalidRequest, match="request_id"):
            check_request_id(bad)  # type: ignore[arg-type]


def test_text_and_country_checks() -> None:
    assert check_text("name", "Acme") == "Acme"
    for bad_text in ("", " ", "x" * 1001, 5):
        with pytest.raises(InvalidRequest):
            check_text("name", bad_text)  # type: ignore[arg-type]
    check_country("country", "DE")
    for bad in ("de", "DEU", "D1", "", "UK", "XX"):
        with pytest.raises(InvalidRequest, match="ISO 3166"):
            check_country("country", bad)


def test_hex_is_lowercased_and_must_not_be_empty() -> None:
    assert check_hex("tag", "ABcd") == "abcd"
    for bad in ("", "xyz", "abc"):
        with pytest.raises(InvalidRequest):
            check_hex("tag", bad)


@pytest.mark.parametrize("value", [Decimal(0), Decimal(-1), Decimal("NaN"),
                                   Decimal("Infinity"), "abc"])
def test_positive_refuses_zero_negative_and_non_finite(value: Any) -> None:
    with pytest.raises(InvalidRequest):
        positive("amount", value)


def test_non_negative_accepts_zero_and_keeps_exact_digits() -> None:
    assert non_negative("amount", Decimal(0)) == 0
    assert str(positive("amount", Decimal("0.00000001"))) == "1E-8"
    with pytest.raises(InvalidRequest, match="must not be negative"):
        non_negative("amount", Decimal("-0.01"))


def test_times() -> None:
    assert event_time(datetime(2026, 3, 1), T + timedelta(days=1)) == T
    assert event_time(None, T) == T
    check_after("end", T + timedelta(seconds=1), T)
    check_after("end", None, T)
    with pytest.raises(InvalidRequest, match="end: must be after"):
        check_after("end", T, T)


def test_efficiency_floor_both_sides() -> None:
    view = PolicyView(None, T)
    check_efficiency_floor(view, Decimal(12))
    with pytest.raises(RuleViolation) as caught:
        check_efficiency_floor(view, Decimal("11.99"))
    assert caught.value.rule == "EFFICIENCY_BELOW_FLOOR"
    assert caught.value.message == ("declared efficiency 11.99 J/TH is better than the policy "
                                    "floor 12 J/TH")


@pytest.mark.parametrize(("text", "kept"), [
    ("999999999999999.999999999999999999", True),   # just below 10^15, 18 places
    ("1000000000000000", False),                     # 10^15
    ("0.000000000000000001", True),                  # 18 places
    ("0.0000000000000000001", False),                # 19 places
    ("1.000000000000000000000000", True),            # trailing zeros beyond 18: the same 1
    ("1e999999", False), ("-1e999999", False), ("1e-999999", False),
    ("NaN", False), ("Infinity", False), ("9" * 65, False), ("", False), ("1,5", False),
])
def test_amounts_are_bounded_on_both_sides(text: str, kept: bool) -> None:
    if kept:
        assert decimal("amount", text) == Decimal(text)
    else:
        with pytest.raises(InvalidRequest, match="amount"):
            decimal("amount", text)


@pytest.mark.parametrize("bad", ["a\x00b", "tab\there", "line\nbreak", "\x7f", "a\x85b",
                                 "a\u2028b", "\ud800"])
def test_text_refuses_control_characters(bad: str) -> None:
    with pytest.raises(InvalidRequest, match="control character"):
        check_text("name", bad)
    assert check_text("name", "Qazyna Mining LLP — Ekibastuz") == "Qazyna Mining LLP — Ekibastuz"


@settings(max_examples=400, deadline=None)
@given(st.one_of(
    st.from_regex(r"\A[0-9]{1,16}(\.[0-9]{0,19})?\Z"),  # plain shapes, at and past the bounds
    st.text(alphabet="0123456789.+-eE _", max_size=40)))
def test_plain_amount_text_reads_as_the_full_check_reads_it(text: str) -> None:
    # ``decimal`` takes plain text by its shape; it must agree with the full reading on
    # every text, bounds and zero included (the same value, or the same refusal).
    def outcome(check: Any) -> Any:
        try:
            number = check("quantity", text)
        except InvalidRequest as error:
            return ("refused", str(error))
        return ("read", number, str(number))

    assert outcome(decimal) == outcome(bounded_decimal)

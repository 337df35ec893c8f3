"""Typed errors of ``ledger.errors``: rule names, figures and readable amounts."""

from __future__ import annotations

from decimal import Decimal

from ledger.errors import InvalidRequest, LedgerError, NotFound, RuleViolation, amount


def test_amounts_have_thousands_separators_and_no_exponent() -> None:
    assert amount(Decimal("48200")) == "48,200"
    assert amount(Decimal("48200.50")) == "48,200.5"
    assert amount(Decimal("1E+3")) == "1,000"
    assert amount(Decimal("0.00000001")) == "0.00000001"
    assert amount(Decimal("-1234.5")) == "-1,234.5"
    assert amount(7) == "7"


def test_rule_violation_names_the_rule_and_keeps_figures_as_text() -> None:
    error = RuleViolation("OUTFLOW_CAP_EXCEEDED", "outflow cap 50,000 USD exceeded",
                          {"cap": Decimal(50000), "used": 3})
    assert isinstance(error, LedgerError)
    assert error.rule == "OUTFLOW_CAP_EXCEEDED"
    assert str(error) == error.message == "outflow cap 50,000 USD exceeded"
    assert error.figures == {"cap": "50000", "used": "3"}


def test_invalid_request_and_not_found_name_their_subject() -> None:
    invalid = InvalidRequest("quantity", "must be positive")
    assert (invalid.field, str(invalid)) == ("quantity", "quantity: must be positive")
    missing = NotFound("licence", "abc")
    assert (missing.kind, missing.key, str(missing)) == ("licence", "abc", "licence abc not found")

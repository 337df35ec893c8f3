"""Policy parameters of ``ledger.domain.policy``: validation, defaults, versioning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ledger.domain.policy import PARAMETERS, Policy, PolicyView, validate
from ledger.errors import InvalidRequest

T = datetime(2026, 3, 1, tzinfo=UTC)


def test_defaults_match_the_design() -> None:
    view = PolicyView(None, T)
    assert view.decimal("efficiency_floor_jth") == Decimal(12)
    assert view.decimal("travel_rule_threshold_usd") == Decimal(1000)
    assert view.decimal("structuring_count") == Decimal(3)
    assert view.decimal("structuring_window_hours") == Decimal(24)
    assert view.decimal("structuring_band_low") == Decimal("0.90")
    assert view.decimal("structuring_band_high") == Decimal(1)
    assert Decimal("0.5") <= view.decimal("mandatory_sale_share") <= Decimal("0.75")
    assert view.usd_rate("USD") == Decimal(1)
    assert view.usd_rate("EUR") is None


@pytest.mark.parametrize(("parameter", "value", "reason"), [
    ("no_such_thing", "1", "unknown policy parameter"),
    ("outflow_cap_usd", "lots", "must be a decimal number"),
    ("outflow_cap_usd", "-1", "at least 0"),
    ("outflow_cap_usd", "Infinity", "finite"),
    ("mandatory_sale_share", "1.01", "at most 1"),
    ("structuring_count", "0", "at least 1"),
    ("structuring_window_hours", "673", "at most 672"),
    ("home_country", "  ", "must not be empty"),
    ("home_country", "UK", "assigned ISO 3166 alpha-2 code such as KZ, got 'UK'"),
    ("offshore_jurisdictions", "KY,XX,VG", "not assigned ISO 3166 alpha-2 codes: 'XX'"),
    ("fx_usd.euro", "1.1", "bad currency code"),
    ("fx_usd.EUR", "0", "at least"),
])
def test_invalid_values_are_refused(parameter: str, value: str, reason: str) -> None:
    with pytest.raises(InvalidRequest, match=reason):
        validate(parameter, value)


def test_valid_values_are_canonical_text() -> None:
    assert validate("mandatory_sale_share", "0.75") == "0.75"
    assert validate("mandatory_sale_share", "1") == "1"
    assert validate("home_country", " KZ ") == "KZ"
    assert validate("fx_usd.EUR", "1.08") == "1.08"
    assert set(PARAMETERS) >= {"efficiency_floor_jth", "outflow_cap_usd", "home_country"}


def test_values_apply_from_their_effective_time() -> None:
    policy = Policy()
    policy.set(request_id="a", at=T, parameter="outflow_cap_usd", value="1000",
               effective_from=T + timedelta(days=10))
    policy.set(request_id="b", at=T, parameter="outflow_cap_usd", value="2000",
               effective_from=T + timedelta(days=5))
    assert PolicyView(policy, T).decimal("outflow_cap_usd") == Decimal(50000)  # default
    assert PolicyView(policy, T + timedelta(days=5)).decimal("outflow_cap_usd") == 2000
    assert PolicyView(policy, T + timedelta(days=10)).decimal("outflow_cap_usd") == 1000
    assert policy.value_at("outflow_cap_usd", T) is None


def test_a_later_setting_with_the_same_effective_time_wins() -> None:
    policy = Policy()
    for i, value in enumerate(("1000", "3000")):
        policy.set(request_id=str(i), at=T, parameter="outflow_cap_usd", value=value,
                   effective_from=T)
    assert PolicyView(policy, T).text("outflow_cap_usd") == "3000"

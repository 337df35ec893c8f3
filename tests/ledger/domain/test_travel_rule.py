"""IVMS101-shaped travel-rule data and FATF R.16 completeness (ledger.domain.travel_rule):
each requirement on both sides, at and below the threshold."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.travel_rule import (
    EMPTY,
    Address,
    Name,
    NationalId,
    Party,
    Person,
    TravelRule,
    missing_data,
    travel_rule_from_record,
)
from ledger.errors import InvalidRequest

ALICE = Person(names=(Name("Sadykova", "Aigerim"),), customer_number="C-1")
BOB = Person(names=(Name("Tulegenov", "Berik"),))
VASP_A = Person(legal=True, names=(Name("Steppe Exchange JSC"),))
VASP_B = Person(legal=True, names=(Name("Berlin Coins GmbH"),))
FULL = TravelRule(Party((ALICE,), ("acct-1",)), Party((BOB,), ("bc1q-bob",)), VASP_A, VASP_B)


def test_complete_data_lacks_nothing_at_or_below_the_threshold() -> None:
    for above in (True, False):
        assert missing_data(FULL, above, self_hosted=False, transfer=True) == []


def test_a_trade_inside_the_exchange_below_the_threshold_needs_none() -> None:
    assert missing_data(EMPTY, False, self_hosted=False, transfer=False) == []
    assert missing_data(EMPTY, True, self_hosted=False, transfer=False) != []


def test_below_the_threshold_a_transfer_needs_names_and_accounts_only() -> None:
    lean = TravelRule(Party((BOB,), ("a",)), Party((ALICE,), ("b",)))
    assert missing_data(lean, False, self_hosted=False, transfer=True) == []
    assert missing_data(replace(lean, originator=Party((BOB,), ())), False, False, True) == \
        ["originator.account"]
    assert missing_data(EMPTY, False, False, True) == [
        "originator.name", "originator.account", "beneficiary.name", "beneficiary.account"]


@pytest.mark.parametrize(("person", "complete"), [
    (replace(BOB, customer_number="C-9"), True),
    (replace(BOB, national_id=NationalId("900101300123", "IDCD", "KZ")), True),
    (replace(BOB, addresses=(Address(town="Almaty", country="KZ"),)), True),
    (replace(BOB, addresses=(Address(town="Almaty"),)), False),  # no country
    (replace(BOB, date_of_birth="1990-01-01", place_of_birth="Almaty"), True),
    (replace(BOB, date_of_birth="1990-01-01"), False),  # birth needs date and place
    (BOB, False),
])
def test_at_the_threshold_the_originator_is_identified_beyond_the_name(
        person: Person, complete: bool) -> None:
    data = replace(FULL, originator=Party((person,), ("a",)))
    missing = missing_data(data, True, self_hosted=False, transfer=True)
    assert (missing == []) is complete, missing


def test_a_natural_person_needs_surname_and_given_names_a_legal_one_its_name() -> None:
    surname_only = Person(names=(Name("Sadykova"),), customer_number="C")
    data = replace(FULL, originator=Party((surname_only,), ("a",)))
    assert missing_data(data, True, False, True) == ["originator.name"]
    alias_only = Person(names=(Name("Sadykova", "A", "ALIA"),), customer_number="C")
    assert "originator.name" in missing_data(
        replace(FULL, originator=Party((alias_only,), ("a",))), True, False, True)
    assert missing_data(replace(FULL, originating_vasp=None), True, False, True) == \
        ["originating_vasp"]


def test_a_self_hosted_wallet_has_no_beneficiary_vasp() -> None:
    data = replace(FULL, beneficiary_vasp=None)
    assert missing_data(data, True, self_hosted=True, transfer=True) == []
    assert missing_data(data, True, self_hosted=False, transfer=True) == ["beneficiary_vasp"]


def test_records_round_trip() -> None:
    assert travel_rule_from_record(FULL.to_record()) == FULL
    assert travel_rule_from_record({}) is EMPTY
    assert EMPTY.to_record() == {}


@pytest.mark.parametrize(("record", "field"), [
    ({"originator": {"persons": [{"names": [{"primary": "X", "kind": "NICK"}]}]}},
     "travel_rule.originator.persons[0].names[0].kind"),
    ({"originator": {"persons": [{"date_of_birth": "01.01.1990"}]}},
     "travel_rule.originator.persons[0].date_of_birth"),
    ({"beneficiary": {"accounts": ["a\x00"]}}, "travel_rule.beneficiary.accounts"),
    ({"originating_vasp": {"country": "Germany"}}, "travel_rule.originating_vasp.country"),
    ({"originating_vasp": {"country": "UK"}}, "travel_rule.originating_vasp.country"),
    ({"originator": {"persons": [{}] * 11}}, "travel_rule.originator.persons"),
    ({"sender": {}}, "travel_rule"),
])
def test_malformed_data_names_its_field(record: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        travel_rule_from_record(record)
    assert caught.value.field == field


@given(st.text(max_size=30), st.text(max_size=30))
def test_any_names_either_parse_or_name_their_field(primary: str, secondary: str) -> None:
    record = {"originator": {"persons": [{"names": [{"primary": primary,
                                                     "secondary": secondary}]}]}}
    try:
        parsed = travel_rule_from_record(record)
    except InvalidRequest as error:
        assert error.field.startswith("travel_rule.originator.persons[0].names[0]")
    else:
        assert parsed.originator.persons[0].names[0].primary == primary.strip()

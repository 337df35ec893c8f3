"""Country codes (ledger.domain.country): the assigned ISO 3166-1 alpha-2 codes, and XK."""

from __future__ import annotations

import pytest

from ledger.domain.country import COUNTRY_CODES, ISO_3166_ALPHA_2, is_country_code

ACCEPTED = {
    "the home country of the demos": "KZ",
    "the United Kingdom": "GB",
    "a territory without a state of its own": "AQ",
    "a code assigned in 2010": "CW",
    "Kosovo, used by SWIFT and IVMS101 though ISO has not assigned it": "XK",
}
REFUSED = {
    "the United Kingdom's common mistake": "UK",
    "a user-assigned code": "XX",
    "another user-assigned code": "ZZ",
    "lower case": "kz",
    "alpha-3": "KAZ",
    "empty": "",
    "a digit": "K1",
    "not text": 42,
    "padded": " KZ",
}


@pytest.mark.parametrize("code", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_assigned_codes_are_accepted(code: str) -> None:
    assert is_country_code(code)


@pytest.mark.parametrize("value", REFUSED.values(), ids=REFUSED.keys())
def test_anything_else_is_refused(value: object) -> None:
    assert not is_country_code(value)


def test_the_list_is_iso_3166_1_alpha_2() -> None:
    assert len(ISO_3166_ALPHA_2) == 249  # the officially assigned codes
    assert all(len(c) == 2 and c.isascii() and c.isupper() for c in ISO_3166_ALPHA_2)
    assert len(COUNTRY_CODES) == 250 and "XK" not in ISO_3166_ALPHA_2

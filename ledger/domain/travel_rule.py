"""Travel-rule data shaped as IVMS101 (the interVASP Messaging Standard): originator and
beneficiary persons (natural or legal) with their name identifiers, national
identification, customer number, date and place of birth and addresses; their accounts;
the originating and beneficiary VASPs.

The one owner of what FATF Recommendation 16 (with INR.15 §7(b) for virtual assets)
requires of a transfer (:func:`missing_data`), relied on by ``ledger.trading``:

* at or above the threshold, the originator's name, account and one of address,
  national identity number, customer identification number, or date and place of birth;
  the beneficiary's name and account; the originating and (hosted wallets) beneficiary
  VASP;
* below it (the de minimis rule), the originator's and the beneficiary's names and
  accounts, for a transfer to another VASP or a self-hosted wallet (a trade inside one
  exchange moves nothing and needs none).

A :class:`TravelRule` is built and bounded once, where the request is parsed
(:func:`travel_rule_from_record` here, the services from the wire); the check is a few
attribute reads, so it costs a trade next to nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ledger.domain.country import is_country_code
from ledger.errors import InvalidRequest

NAME_TYPES = ("LEGL", "ALIA", "BIRT", "MAID", "MISC", "SHRT", "TRAD")
"""IVMS101 name identifier types (legal, alias, birth, maiden, misc; short, trading)."""
ID_TYPES = ("ARNU", "CCPT", "RAID", "DRLC", "FIIN", "TXID", "SOCS", "IDCD", "LEIX", "MISC")
"""IVMS101 national identifier types (alien registration, passport, registration
authority, driver licence, foreign investment, tax, social security, identity card,
LEI, other)."""
ADDRESS_TYPES = ("HOME", "BIZZ", "GEOG")
MAX_PERSONS = 10
MAX_ITEMS = 10
MAX_FIELD = 200


@dataclass(frozen=True)
class Name:
    """A name identifier: the primary identifier (a surname, or a legal person's name),
    the secondary (given names; empty for a legal person) and its IVMS101 type."""

    primary: str
    secondary: str = ""
    kind: str = "LEGL"


@dataclass(frozen=True)
class NationalId:
    """A national identification: the number, its IVMS101 type, the issuing country."""

    number: str
    kind: str
    country: str = ""


@dataclass(frozen=True)
class Address:
    """A postal address (IVMS101 structured fields, or address lines)."""

    kind: str = "HOME"
    street: str = ""
    building: str = ""
    post_code: str = ""
    town: str = ""
    country_sub_division: str = ""
    country: str = ""
    lines: tuple[str, ...] = ()

    @property
    def is_given(self) -> bool:
        """Returns True when the address locates someone (a town and a country, or
        address lines)."""
        return bool(self.lines) or bool(self.town and self.country)


@dataclass(frozen=True)
class Person:
    """A natural or legal person (IVMS101 ``Person``)."""

    legal: bool = False
    names: tuple[Name, ...] = ()
    national_id: NationalId | None = None
    customer_number: str = ""
    date_of_birth: str = ""
    place_of_birth: str = ""
    addresses: tuple[Address, ...] = ()
    country: str = ""
    """Country of residence (natural) or registration (legal)."""

    @property
    def has_name(self) -> bool:
        """Returns True when the person has a legal name (natural: surname and given
        names)."""
        return any(n.kind == "LEGL" and n.primary and (self.legal or n.secondary)
                   for n in self.names)

    @property
    def identified(self) -> bool:
        """Returns True when the person has one of what R.16 accepts besides the name:
        an address, a national identity number, a customer identification number, or
        (natural persons) date and place of birth."""
        return (any(a.is_given for a in self.addresses) or self.national_id is not None
                or bool(self.customer_number)
                or (not self.legal and bool(self.date_of_birth and self.place_of_birth)))

    def display_names(self) -> list[str]:
        """Returns every name of the person as one text each (for screening)."""
        return [" ".join(p for p in (n.secondary, n.primary) if p) for n in self.names]


@dataclass(frozen=True)
class Party:
    """The originator or the beneficiary: the persons and their accounts (wallet
    addresses or account numbers)."""

    persons: tuple[Person, ...] = ()
    accounts: tuple[str, ...] = ()


@dataclass(frozen=True)
class TravelRule:
    """The travel-rule data of one transfer."""

    originator: Party = field(default_factory=Party)
    beneficiary: Party = field(default_factory=Party)
    originating_vasp: Person | None = None
    beneficiary_vasp: Person | None = None

    @property
    def is_empty(self) -> bool:
        """Returns True when no travel-rule data was given."""
        return self == EMPTY

    def persons(self) -> list[Person]:
        """Returns the originator's and the beneficiary's persons."""
        return [*self.originator.persons, *self.beneficiary.persons]

    def to_record(self) -> dict[str, Any]:
        """Returns the data as stored in the trade's event (plain JSON-able values)."""
        return {} if self.is_empty else _plain(self)


EMPTY = TravelRule()


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | bool):
        return value
    return {k: _plain(v) for k, v in value.__dict__.items()
            if v not in ("", (), None, False)}


def missing_data(travel: TravelRule, at_or_above: bool, self_hosted: bool,
                 transfer: bool) -> list[str]:
    """Returns what R.16 requires of this transfer and ``travel`` lacks (empty when
    complete): ``at_or_above`` the threshold, to a ``self_hosted`` wallet, ``transfer``
    (to another VASP or a wallet outside the exchange)."""
    if not at_or_above and not transfer:
        return []
    missing = []
    originators, beneficiaries = travel.originator.persons, travel.beneficiary.persons
    if not originators or not all(p.has_name for p in originators):
        missing.append("originator.name")
    if not travel.originator.accounts:
        missing.append("originator.account")
    if not beneficiaries or not all(p.has_name for p in beneficiaries):
        missing.append("beneficiary.name")
    if not travel.beneficiary.accounts:
        missing.append("beneficiary.account")
    if at_or_above:
        if originators and not all(p.identified for p in originators):
            missing.append("originator.address_or_national_id_or_customer_number_or_birth")
        if travel.originating_vasp is None or not travel.originating_vasp.has_name:
            missing.append("originating_vasp")
        if not self_hosted and (travel.beneficiary_vasp is None
                                or not travel.beneficiary_vasp.has_name):
            missing.append("beneficiary_vasp")
    return missing


# ----------------------------------------------------------------- parsing, bounded once


def _text(value: Any, field_name: str, limit: int = MAX_FIELD) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(field_name, "must be text")
    if len(value) > limit:
        raise InvalidRequest(field_name, f"at most {limit} characters")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
        raise InvalidRequest(field_name, "must not contain control characters")
    return value.strip()


def _code(value: str, allowed: tuple[str, ...], field_name: str) -> str:
    if value not in allowed:
        raise InvalidRequest(field_name, f"must be one of {', '.join(allowed)}")
    return value


def _country(value: str, field_name: str) -> str:
    if value and not is_country_code(value):
        raise InvalidRequest(field_name, "must be an assigned ISO 3166 alpha-2 code")
    return value


def _list(value: Any, field_name: str, limit: int = MAX_ITEMS) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or len(value) > limit:
        raise InvalidRequest(field_name, f"must be a list of at most {limit}")
    return list(value)


def person_from_record(record: Any, where: str) -> Person:
    """Returns the person of a record (the form ``to_record`` writes); InvalidRequest
    naming the field."""
    if not isinstance(record, dict):
        raise InvalidRequest(where, "must be an object")
    legal = bool(record.get("legal", False))
    names = []
    for n, item in enumerate(_list(record.get("names"), f"{where}.names")):
        at = f"{where}.names[{n}]"
        if not isinstance(item, dict):
            raise InvalidRequest(at, "must be an object")
        names.append(Name(_text(item.get("primary"), f"{at}.primary"),
                          _text(item.get("secondary"), f"{at}.secondary"),
                          _code(_text(item.get("kind"), f"{at}.kind") or "LEGL",
                                NAME_TYPES, f"{at}.kind")))
    national = record.get("national_id")
    national_id = None
    if national is not None:
        at = f"{where}.national_id"
        if not isinstance(national, dict):
            raise InvalidRequest(at, "must be an object")
        number = _text(national.get("number"), f"{at}.number")
        if number:
            national_id = NationalId(
                number, _code(_text(national.get("kind"), f"{at}.kind") or "MISC", ID_TYPES,
                              f"{at}.kind"),
                _country(_text(national.get("country"), f"{at}.country"), f"{at}.country"))
    birth = _text(record.get("date_of_birth"), f"{where}.date_of_birth", 10)
    if birth:
        try:
            date.fromisoformat(birth)
        except ValueError:
            raise InvalidRequest(f"{where}.date_of_birth", "must be an ISO date") from None
    addresses = []
    for n, item in enumerate(_list(record.get("addresses"), f"{where}.addresses")):
        at = f"{where}.addresses[{n}]"
        if not isinstance(item, dict):
            raise InvalidRequest(at, "must be an object")
        addresses.append(Address(
            _code(_text(item.get("kind"), f"{at}.kind") or "HOME", ADDRESS_TYPES,
                  f"{at}.kind"),
            _text(item.get("street"), f"{at}.street"),
            _text(item.get("building"), f"{at}.building"),
            _text(item.get("post_code"), f"{at}.post_code"),
            _text(item.get("town"), f"{at}.town"),
            _text(item.get("country_sub_division"), f"{at}.country_sub_division"),
            _country(_text(item.get("country"), f"{at}.country"), f"{at}.country"),
            tuple(_text(line, f"{at}.lines") for line in _list(item.get("lines"),
                                                                f"{at}.lines"))))
    return Person(legal, tuple(names), national_id,
                  _text(record.get("customer_number"), f"{where}.customer_number"), birth,
                  _text(record.get("place_of_birth"), f"{where}.place_of_birth"),
                  tuple(addresses),
                  _country(_text(record.get("country"), f"{where}.country"),
                           f"{where}.country"))


def _party(record: Any, where: str) -> Party:
    if record is None:
        return Party()
    if not isinstance(record, dict):
        raise InvalidRequest(where, "must be an object")
    persons = [person_from_record(p, f"{where}.persons[{n}]")
               for n, p in enumerate(_list(record.get("persons"), f"{where}.persons",
                                           MAX_PERSONS))]
    accounts = [a for a in (_text(a, f"{where}.accounts")
                            for a in _list(record.get("accounts"), f"{where}.accounts")) if a]
    return Party(tuple(persons), tuple(accounts))


def travel_rule_from_record(record: Any) -> TravelRule:
    """Returns the travel-rule data of a record (``TravelRule.to_record``'s form, also
    what clients of the ledger library pass); InvalidRequest naming the field."""
    if record is None or record == {}:
        return EMPTY
    if isinstance(record, TravelRule):
        return record
    if not isinstance(record, dict):
        raise InvalidRequest("travel_rule", "must be an object")
    unknown = set(record) - {"originator", "beneficiary", "originating_vasp",
                             "beneficiary_vasp"}
    if unknown:
        raise InvalidRequest("travel_rule", f"unknown fields {sorted(unknown)[:5]}")
    vasps = [None if record.get(name) is None
             else person_from_record(record[name], f"travel_rule.{name}")
             for name in ("originating_vasp", "beneficiary_vasp")]
    return TravelRule(_party(record.get("originator"), "travel_rule.originator"),
                      _party(record.get("beneficiary"), "travel_rule.beneficiary"),
                      vasps[0], vasps[1])

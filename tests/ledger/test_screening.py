"""Screening (``ledger.screening``): list files, name matching tolerant to script and word
order, SCREENING_HIT alerts at registration and approval, refusals on confirmed matches
and the offshore-founder rule, on both stores."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.domain.alert import Alert
from ledger.domain.screening import ImportedList, ScreeningEntry
from ledger.errors import InvalidRequest, RuleViolation
from ledger.screening import Matcher, Subject, normalise_name, parse_list
from tests.ledger.conftest import START, events_of

UN_LIST: dict[str, Any] = {
    "source": "UN-SC-1267", "version": "2026-11-30",
    "entries": [
        {"id": "QDi.001", "name": "Абдулла Юсупов", "aliases": ["Abu Yusuf"],
         "ids": ["AB 123456"], "dates_of_birth": ["1961-07-30"], "categories": ["TERRORISM"]},
        {"id": "PEP.7", "name": "Marat Zhaksylykov", "categories": ["PEP"]},
        {"id": "WMD.3", "name": "Caspian Dual Use Trading LLP", "ids": ["990140000123"],
         "categories": ["WMD"]},
    ]}


def list_file(**changes: Any) -> bytes:
    """Returns the test list as a file, with top-level ``changes``."""
    return json.dumps({**UN_LIST, **changes}).encode()


def matcher() -> Matcher:
    source, version, entries = parse_list(list_file())
    return Matcher([ImportedList(source, version, "d", START, tuple(entries))])


@pytest.mark.parametrize("name", ["Abdulla Yusupov", "YUSUPOV Abdulla", "Yusupov, Abdulla",
                                  "Abdullah Yusupov", "Абдулла Юсупов",
                                  "Yusupov Abdulla Karimovich"])
def test_names_match_across_script_word_order_and_spelling(name: str) -> None:
    found = matcher().match(Subject(name), 88)
    assert [m.entry_id for m in found] == ["QDi.001"]
    assert not found[0].confirmed  # a name alone is a possible match


@pytest.mark.parametrize("name", ["Abdulla Karimov", "Yusuf Abdullaev", "Marat", "Abdulla"])
def test_other_names_do_not_match(name: str) -> None:
    assert matcher().match(Subject(name), 88) == []


def test_a_match_is_confirmed_by_an_id_or_date_of_birth_of_the_same_entry() -> None:
    by_id = matcher().match(Subject("Yusupov Abdulla", ("ab-123456",)), 88)
    by_birth = matcher().match(Subject("Yusupov Abdulla", (), "1961-07-30"), 88)
    other_birth = matcher().match(Subject("Yusupov Abdulla", (), "1961-07-31"), 88)
    assert by_id[0].confirmed and by_id[0].bars
    assert by_birth[0].confirmed
    assert not other_birth[0].confirmed


def test_the_threshold_is_a_boundary_on_both_sides() -> None:
    score = matcher().match(Subject("Abdullah Yusupov"), 50)[0].score
    assert matcher().match(Subject("Abdullah Yusupov"), score)
    assert not matcher().match(Subject("Abdullah Yusupov"), score + 0.1)


@given(st.text(max_size=60))
def test_normalised_names_are_plain_latin_words(name: str) -> None:
    normal = normalise_name(name)
    assert normal == normal.strip() and "  " not in normal
    assert all(c.isascii() and (c.isalnum() or c == " ") for c in normal)


@pytest.mark.parametrize(("content", "field"), [
    (b"not json", "content"),
    (json.dumps({"version": "1", "entries": []}).encode(), "source"),
    (list_file(entries=[]), "entries"),
    (list_file(entries=[{"id": "x", "name": "A B", "categories": ["SPORTS"]}]),
     "entries[0].categories"),
    (list_file(entries=[{"id": "x", "name": "A B", "categories": ["PEP"],
                         "dates_of_birth": ["30/07/1961"]}]), "entries[0].dates_of_birth"),
    (list_file(entries=[{"id": "x", "name": "A\x00B", "categories": ["PEP"]}]),
     "entries[0].name"),
    (list_file(entries=[{"id": "x", "name": "A", "categories": ["PEP"]},
                        {"id": "x", "name": "B", "categories": ["PEP"]}]), "entries[1].id"),
])
def test_a_malformed_list_names_its_field(content: bytes, field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_list(content)
    assert caught.value.field == field


def test_list_versions_are_kept_and_never_rewritten(ledger: Ledger) -> None:
    first = ledger.import_screening_list("list-1", list_file(), at=START)
    assert ledger.import_screening_list("list-1", list_file(), at=START).replayed
    with pytest.raises(RuleViolation) as caught:
        ledger.import_screening_list("list-2", list_file(), at=START)
    assert caught.value.rule == "SCREENING_VERSION_REUSED"
    ledger.import_screening_list("list-3", list_file(version="2026-12-01"), at=START)
    [current] = ledger.screening_lists()
    assert (current.source, current.version, len(current.entries)) == \
        ("UN-SC-1267", "2026-12-01", 3)
    assert first.version == 2  # Created, then Imported
    imported = [e for e in events_of(ledger) if type(e).__name__ == "Imported"]
    assert [e.version for e in imported] == ["2026-11-30", "2026-12-01"]
    assert all(len(e.entries_digest) == 64 for e in imported)


def hits(ledger: Ledger) -> list[Alert]:
    return [a for a in ledger.list_alerts() if a.kind == "SCREENING_HIT"]


def register(ledger: Ledger, request_id: str, name: str, tax_id: str = "T-1",
             owners: tuple[str, ...] = (), country: str = "KZ",
             links: tuple[str, ...] = ()) -> Any:
    return ledger.register_participant(request_id, "ENTERPRISE", name, tax_id, country,
                                       owners, links, at=START)


def test_registration_alerts_on_a_possible_match_and_refuses_a_confirmed_one(
        ledger: Ledger) -> None:
    ledger.import_screening_list("list", list_file(), at=START)
    clean = register(ledger, "r-clean", "Steppe Mining LLP", owners=("Aigerim Sadykova",))
    assert hits(ledger) == []
    possible = register(ledger, "r-pep", "Steppe Two LLP", owners=("Zhaksylykov Marat",))
    [alert] = hits(ledger)
    assert alert.subject_id == possible.aggregate_id
    assert alert.figures["entry_id"] == "PEP.7" and alert.figures["confirmed"] == "false"
    assert alert.figures["where"] == "registration"
    with pytest.raises(RuleViolation) as caught:
        register(ledger, "r-wmd", "Caspian Dual-Use Trading", tax_id="990140000123")
    assert caught.value.rule == "SCREENING_CONFIRMED_MATCH"
    assert caught.value.figures["entry_id"] == "WMD.3"
    refused = hits(ledger)[-1]
    assert refused.figures["confirmed"] == "true" and refused.participant_id is None
    with pytest.raises(RuleViolation):  # a retry is refused again, and records nothing new
        register(ledger, "r-wmd", "Caspian Dual-Use Trading", tax_id="990140000123")
    assert len(hits(ledger)) == 2
    assert clean.aggregate_id != possible.aggregate_id


def test_approval_screens_again_against_lists_imported_since(ledger: Ledger) -> None:
    receipt = register(ledger, "r", "Nomad Ventures", owners=("Abdulla Yusupov",))
    assert hits(ledger) == []  # no list yet
    ledger.import_screening_list("list", list_file(), at=START)
    # A possible match (name only): approved, and alerted.
    ledger.approve_participant("a", receipt.aggregate_id, at=START)
    assert ledger.get_participant(receipt.aggregate_id).approved_at == START
    assert hits(ledger)[0].figures["where"] == "approval"


def test_approval_refuses_owners_on_terrorism_lists_when_confirmed(ledger: Ledger) -> None:
    ledger.import_screening_list("list", list_file(), at=START)
    receipt = register(ledger, "r", "Nomad Ventures", tax_id="AB123456")
    # The tax id matches, the name does not: not a match. Confirmed needs both.
    ledger.approve_participant("a", receipt.aggregate_id, at=START)
    assert hits(ledger) == []


@pytest.mark.parametrize(("country", "links", "refused"), [
    ("KZ", (), False),
    ("KY", (), True),               # registered in an offshore zone
    ("KZ", ("Cayman Holdco Ltd",), True),   # founders linked to an offshore entity
    ("DE", (), False),
])
def test_offshore_founders_are_refused_at_approval(ledger: Ledger, country: str,
                                                   links: tuple[str, ...],
                                                   refused: bool) -> None:
    receipt = register(ledger, "r", "Firm", country=country, links=links)
    if not refused:
        ledger.approve_participant("a", receipt.aggregate_id, at=START)
        assert ledger.get_participant(receipt.aggregate_id).approved_at == START
        return
    with pytest.raises(RuleViolation) as caught:
        ledger.approve_participant("a", receipt.aggregate_id, at=START)
    assert caught.value.rule == "OFFSHORE_FOUNDER"
    assert ledger.get_participant(receipt.aggregate_id).approved_at is None
    [alert] = [a for a in ledger.list_alerts() if a.kind == "OFFSHORE_FOUNDER"]
    assert alert.subject_id == receipt.aggregate_id


def test_offshore_zones_are_policy(ledger: Ledger) -> None:
    ledger.set_policy("zones", "offshore_jurisdictions", "PA, KY", at=START)
    assert ledger.get_policy("offshore_jurisdictions", START) == "KY,PA"
    with pytest.raises(InvalidRequest):
        ledger.set_policy("bad", "offshore_jurisdictions", "KY,Cayman", at=START)
    receipt = register(ledger, "r", "Firm", country="VG")  # no longer listed
    ledger.approve_participant("a", receipt.aggregate_id, at=START)


def test_entries_round_trip_through_their_records() -> None:
    entry = ScreeningEntry("e", ("A B", "C"), ("1",), ("2000-01-01",), ("PEP",))
    assert ScreeningEntry.from_record(entry.to_record()) == entry

"""Screening: sanctions / terrorism / WMD / PEP lists, name matching, and the rules that
use them (DESIGN §3, §7).

The one owner of: the list file format (:func:`parse_list`), how names match
(:class:`Matcher`: transliterated to Latin by ``anyascii``, compared by ``rapidfuzz``
so word order, case, accents and script do not hide a listed name), what counts as a
confirmed match (a similar name *and* an identification number or date of birth of the
same entry), and the offshore-founder rule at approval (:func:`founder_refusal`).
Relied on by ``ledger.licensing`` (registration and approval) and ``ledger.trading``
(trades), which record the ``SCREENING_HIT`` alerts and refusals this module builds.

A list file is JSON::

    {"source": "UN-SC-1267", "version": "2026-11-30",
     "entries": [{"id": "QDi.001", "name": "Primary Name", "aliases": ["..."],
                  "ids": ["passport or registry numbers"], "dates_of_birth": ["1961-07-30"],
                  "categories": ["TERRORISM"]}]}

``categories`` are SANCTIONS, TERRORISM, WMD or PEP. Each import is a new version of its
source, stored whole in ``ScreeningList.Imported`` so an auditor can replay every
screening decision.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

from anyascii import anyascii
from rapidfuzz import fuzz, process

from ledger.commands import UseCase
from ledger.domain.alert import Alert
from ledger.domain.participant import Participant
from ledger.domain.policy import PolicyView
from ledger.domain.screening import (
    BARRING,
    CATEGORIES,
    SCREENING_ID,
    ImportedList,
    ScreeningEntry,
    ScreeningList,
)
from ledger.domain.travel_rule import TravelRule
from ledger.errors import InvalidRequest
from ledger.receipts import Receipt
from ledger.requests import REGULATOR
from ledger.validation import MAX_TEXT, check_text
from ledger.windows import WindowKind

MAX_LIST_BYTES = 8 * 1024 * 1024
"""The largest list file accepted."""
MAX_ENTRIES = 100_000
"""Most entries one list version may hold."""
MAX_PER_ENTRY = 50
"""Most aliases, ids or dates of birth one entry may carry."""

_WORDS = re.compile(r"[a-z0-9]+")
_ID_CHARS = re.compile(r"[A-Z0-9]+")


def normalise_name(name: str) -> str:
    """Returns ``name`` transliterated to lower-case Latin words joined by spaces
    ("Абдулла  Юсупов-Оглы" → "abdulla yusupov ogly")."""
    return " ".join(_WORDS.findall(anyascii(name).lower()))


def normalise_id(value: str) -> str:
    """Returns an identification number with only its letters and digits, upper case."""
    return "".join(_ID_CHARS.findall(anyascii(value).upper()))


@dataclass(frozen=True)
class ScreeningMatch:
    """A screened name that resembles a listed one."""

    screened_name: str
    source: str
    version: str
    entry_id: str
    listed_name: str
    score: float
    confirmed: bool
    """True when an identification number or date of birth of the entry matches too."""
    categories: tuple[str, ...]

    @property
    def bars(self) -> bool:
        """Returns True when this match blocks: confirmed, on a barring category."""
        return self.confirmed and bool(BARRING.intersection(self.categories))


@dataclass(frozen=True)
class Subject:
    """A person or entity to screen: a name with what may identify it."""

    name: str
    ids: tuple[str, ...] = ()
    date_of_birth: str = ""


class Matcher:
    """Every listed name of every list source, normalised once, matched with rapidfuzz."""

    CACHE_SIZE = 10_000
    """Subjects whose matches are remembered (trades name the same persons again)."""

    def __init__(self, lists: Iterable[ImportedList]) -> None:
        self._cache: dict[tuple[Subject, float], list[ScreeningMatch]] = {}
        self.names: list[str] = []
        self.owners: list[tuple[ImportedList, ScreeningEntry, str]] = []
        for imported in lists:
            for entry in imported.entries:
                for name in entry.names:
                    self.names.append(normalise_name(name))
                    self.owners.append((imported, entry, name))

    def match(self, subject: Subject, threshold: float) -> list[ScreeningMatch]:
        """Returns the listed entries whose names score ``threshold`` (0-100) or more
        against ``subject`` (best per entry), confirmed where an id or date of birth of
        the entry matches too."""
        key = (subject, threshold)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= self.CACHE_SIZE:
                self._cache.clear()
            found = self._cache[key] = self._match(subject, threshold)
        return found

    def _match(self, subject: Subject, threshold: float) -> list[ScreeningMatch]:
        query = normalise_name(subject.name)
        if not query or not self.names:
            return []
        hits: dict[int, float] = {}
        # Word order: token_sort compares the sorted words. A listed name with extra
        # words (a patronymic) matches by token_set, only when both have two words or
        # more (one common word alone is no match).
        for _, score, index in process.extract(query, self.names, scorer=fuzz.token_sort_ratio,
                                               processor=None, score_cutoff=threshold,
                                               limit=20):
            hits[index] = max(hits.get(index, 0.0), float(score))
        if " " in query:
            for _, score, index in process.extract(query, self.names,
                                                   scorer=fuzz.token_set_ratio,
                                                   processor=None, score_cutoff=threshold,
                                                   limit=20):
                if " " in self.names[index]:
                    hits[index] = max(hits.get(index, 0.0), float(score))
        ids = {normalise_id(i) for i in subject.ids} - {""}
        best: dict[tuple[str, str], ScreeningMatch] = {}
        for index, score in hits.items():
            imported, entry, listed = self.owners[index]
            confirmed = bool(ids.intersection(normalise_id(i) for i in entry.ids)) or (
                bool(subject.date_of_birth) and subject.date_of_birth in entry.dates_of_birth)
            found = ScreeningMatch(subject.name, imported.source, imported.version,
                                   entry.entry_id, listed, score, confirmed,
                                   entry.categories)
            key = (imported.source, entry.entry_id)
            if key not in best or (found.confirmed, found.score) > (best[key].confirmed,
                                                                    best[key].score):
                best[key] = found
        return sorted(best.values(), key=lambda m: (not m.confirmed, -m.score, m.entry_id))


def parse_list(content: bytes | str) -> tuple[str, str, list[ScreeningEntry]]:
    """Returns the source, version and entries of a list file; raises InvalidRequest
    naming the field of the first fault."""
    if len(content) > MAX_LIST_BYTES:
        raise InvalidRequest("content", f"list file over {MAX_LIST_BYTES} bytes")
    try:
        document = json.loads(content)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidRequest("content", f"not a JSON list file: {error}") from None
    if not isinstance(document, dict):
        raise InvalidRequest("content", "must be a JSON object with source, version, entries")
    source = _text(document.get("source"), "source", 100)
    version = _text(document.get("version"), "version", 100)
    raw = document.get("entries")
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest("entries", "must be a non-empty list")
    if len(raw) > MAX_ENTRIES:
        raise InvalidRequest("entries", f"more than {MAX_ENTRIES} entries")
    entries = []
    seen: set[str] = set()
    for n, item in enumerate(raw):
        where = f"entries[{n}]"
        if not isinstance(item, dict):
            raise InvalidRequest(where, "must be an object")
        entry_id = _text(item.get("id"), f"{where}.id", 200)
        if entry_id in seen:
            raise InvalidRequest(f"{where}.id", f"duplicate entry id {entry_id!r}")
        seen.add(entry_id)
        name = _text(item.get("name"), f"{where}.name", MAX_TEXT)
        aliases = _texts(item.get("aliases", []), f"{where}.aliases", MAX_TEXT)
        ids = _texts(item.get("ids", []), f"{where}.ids", 200)
        births = _texts(item.get("dates_of_birth", []), f"{where}.dates_of_birth", 10)
        for birth in births:
            try:
                date.fromisoformat(birth)
            except ValueError:
                raise InvalidRequest(f"{where}.dates_of_birth",
                                     f"{birth!r} is not an ISO date (YYYY-MM-DD)") from None
        categories = _texts(item.get("categories", []), f"{where}.categories", 20)
        if not categories or not set(categories) <= set(CATEGORIES):
            raise InvalidRequest(f"{where}.categories",
                                 f"one or more of {', '.join(CATEGORIES)}")
        if not normalise_name(name):
            raise InvalidRequest(f"{where}.name", "has no letters or digits")
        entries.append(ScreeningEntry(entry_id, (name, *aliases), tuple(ids), tuple(births),
                                      tuple(dict.fromkeys(categories))))
    return source, version, entries


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(field, "must be text")
    return check_text(field, value, limit).strip()


def _texts(value: Any, field: str, limit: int) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_PER_ENTRY:
        raise InvalidRequest(field, f"must be a list of at most {MAX_PER_ENTRY} texts")
    return [_text(v, field, limit) for v in value]


def entries_digest(entries: Sequence[ScreeningEntry]) -> str:
    """Returns the SHA-256 of the entries' canonical JSON."""
    canonical = json.dumps([e.to_record() for e in entries], sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def travel_rule_subjects(travel: TravelRule) -> list[Subject]:
    """Returns what of a transfer's travel-rule data is screened: every name of the
    originator's and the beneficiary's persons, with their national identification and
    date of birth."""
    return [Subject(name, (person.national_id.number,) if person.national_id else (),
                    person.date_of_birth)
            for person in travel.persons() for name in person.display_names() if name]


def participant_subjects(participant: Participant) -> list[Subject]:
    """Returns what of a participant is screened: its legal name (with its tax id) and
    each beneficial owner."""
    return [Subject(participant.legal_name, (participant.tax_id,)),
            *(Subject(owner) for owner in participant.beneficial_owners)]


def founder_refusal(participant: Participant, policy: PolicyView,
                    matches: Sequence[ScreeningMatch]) -> tuple[str, str, dict[str, str]] | None:
    """Returns (rule, message, figures) when the law bars approving ``participant``, else
    None: registered in an offshore jurisdiction (policy ``offshore_jurisdictions``) or
    with declared links to offshore entities (OFFSHORE_FOUNDER), or a confirmed match of
    its name or an owner on a sanctions, terrorism or WMD list
    (SCREENING_CONFIRMED_MATCH)."""
    offshore = offshore_jurisdictions(policy)
    if participant.country in offshore or participant.offshore_links:
        return ("OFFSHORE_FOUNDER",
                f"participant {participant.id} has founders or owners in offshore zones "
                f"(country {participant.country}, {len(participant.offshore_links)} declared "
                "offshore links): the law bars them",
                {"country": participant.country,
                 "offshore_country": str(participant.country in offshore).lower(),
                 "offshore_links": str(len(participant.offshore_links))})
    barring = [m for m in matches if m.bars]
    if barring:
        return confirmed_refusal(barring[0])
    return None


def confirmed_refusal(match: ScreeningMatch) -> tuple[str, str, dict[str, str]]:
    """Returns the rule, message and figures of a blocking (confirmed) match."""
    return ("SCREENING_CONFIRMED_MATCH",
            f"{match.screened_name!r} is listed on {match.source} version {match.version} "
            f"(entry {match.entry_id}, {'/'.join(match.categories)})",
            match_figures(match))


def offshore_jurisdictions(policy: PolicyView) -> frozenset[str]:
    """Returns the ISO codes of the offshore zones in force."""
    return frozenset(c.strip() for c in policy.text("offshore_jurisdictions").split(",")
                     if c.strip())


def match_figures(match: ScreeningMatch) -> dict[str, str]:
    """Returns the figures an alert or refusal carries about one match."""
    return {"screened_name": match.screened_name, "source": match.source,
            "version": match.version, "entry_id": match.entry_id,
            "listed_name": match.listed_name, "score": f"{match.score:.1f}",
            "confirmed": str(match.confirmed).lower(),
            "categories": ",".join(match.categories)}


def hit_alert(request_id: str, at: datetime, where: str, subject_id: UUID,
              participant_id: UUID | None, matches: Sequence[ScreeningMatch],
              requester: str = REGULATOR) -> Alert:
    """Returns a new SCREENING_HIT alert about ``subject_id`` (the best match in its
    figures, every match in its evidence); triggered inside the command's stamp."""
    best = matches[0]
    figures = match_figures(best)
    figures["where"] = where
    figures["matches"] = str(len(matches))
    return Alert(
        request_id=request_id, at=at, kind="SCREENING_HIT", subject_id=subject_id,
        participant_id=participant_id,
        message=(f"{'confirmed' if best.confirmed else 'possible'} screening match at "
                 f"{where}: {best.screened_name!r} resembles {best.listed_name!r} "
                 f"({best.source} {best.version}, entry {best.entry_id}, score {best.score:.1f})"),
        evidence=[f"{SCREENING_ID}:{m.source}:{m.version}:{m.entry_id}" for m in matches],
        figures=figures)


def alert_id(requester: str, request_id: str, subject_id: UUID) -> UUID:
    """Returns the id of the SCREENING_HIT alert a request raises about a subject."""
    return Alert.create_id(requester, request_id, "SCREENING_HIT", subject_id)


class Screening(UseCase):
    """Imports list versions and screens subjects against every list in force."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._matcher: tuple[int, Matcher] | None = None
        self._lock = threading.Lock()

    def import_list(self, request_id: str, content: bytes | str,
                    at: datetime | None = None) -> Receipt:
        """Imports a list file (:func:`parse_list`) as a new version of its source."""
        source, version, entries = parse_list(content)
        digest = entries_digest(entries)
        stamp, when = self.begin("ImportScreeningList", REGULATOR, request_id, at,
                                 WindowKind.REGULATOR, source=source, version=version,
                                 entries_digest=digest)
        records = [e.to_record() for e in entries]

        def attempt() -> Receipt:
            lists = cast(ScreeningList | None, self.store.find(SCREENING_ID)) or ScreeningList()
            seen = lists.version_of_request(REGULATOR, request_id, stamp.digest)
            if seen is not None:
                return Receipt(SCREENING_ID, seen, replayed=True)
            lists.import_list(request_id=request_id, at=when, source=source, version=version,
                              entries_digest=digest, entries=records)
            self.store.save(lists)
            return Receipt(SCREENING_ID, lists.version)

        return self.run(stamp, attempt)

    def lists(self) -> list[ImportedList]:
        """Returns the version of each list source in force."""
        found = self.store.read_many((SCREENING_ID,))[SCREENING_ID]
        return list(found.lists.values()) if isinstance(found, ScreeningList) else []

    def matcher(self, lists: Any = None) -> Matcher:
        """Returns the matcher of the lists in force (built once per list version):
        those of ``lists`` (the ScreeningList aggregate a caller already read, e.g. a
        trade batch), else read from the store."""
        found = lists if lists is not None else self.store.read_many(
            (SCREENING_ID,))[SCREENING_ID]
        version = found.version if isinstance(found, ScreeningList) else 0
        with self._lock:
            if self._matcher is None or self._matcher[0] != version:
                current = found.lists.values() if isinstance(found, ScreeningList) else ()
                self._matcher = (version, Matcher(current))
            return self._matcher[1]

    def screen(self, subjects: Iterable[Subject], policy: PolicyView,
               lists: Any = None) -> list[ScreeningMatch]:
        """Returns every match of ``subjects``, confirmed first (``lists``: as for
        :meth:`matcher`)."""
        matcher = self.matcher(lists)
        threshold = float(policy.decimal("screening_match_score"))
        found = [m for s in subjects for m in matcher.match(s, threshold)]
        return sorted(found, key=lambda m: (not m.confirmed, -m.score))

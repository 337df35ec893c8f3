"""ScreeningList: the sanctions, terrorism, WMD and PEP lists the ledger screens names
against, each import a new version of one list source kept whole in its event.

One aggregate for the ledger (like the policy), so every rule reads every list in one
query. Relied on by ``ledger.screening`` (import, matching) and, through it, by
registration, approval and trades.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate, derived_id
from ledger.errors import RuleViolation

SCREENING_ID = derived_id("ScreeningList", "national")
"""The one ScreeningList aggregate of the ledger."""

CATEGORIES = ("SANCTIONS", "TERRORISM", "WMD", "PEP")
"""What a listed person is listed for; TERRORISM and WMD bar founders and owners (the
law), SANCTIONS block, PEP only alerts (enhanced due diligence, not a ban)."""

BARRING = frozenset({"SANCTIONS", "TERRORISM", "WMD"})
"""Categories whose confirmed match blocks a registration, approval or trade."""


@dataclass(frozen=True)
class ScreeningEntry:
    """One listed person or entity: names (the first is the primary name, the rest
    aliases), identification numbers, dates of birth (ISO dates), categories."""

    entry_id: str
    names: tuple[str, ...]
    ids: tuple[str, ...]
    dates_of_birth: tuple[str, ...]
    categories: tuple[str, ...]

    def to_record(self) -> dict[str, Any]:
        """Returns the entry as stored in the event."""
        return {"entry_id": self.entry_id, "names": list(self.names), "ids": list(self.ids),
                "dates_of_birth": list(self.dates_of_birth),
                "categories": list(self.categories)}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ScreeningEntry:
        """Returns the entry of a stored record."""
        return cls(str(record["entry_id"]), tuple(record["names"]), tuple(record["ids"]),
                   tuple(record["dates_of_birth"]), tuple(record["categories"]))


@dataclass(frozen=True)
class ImportedList:
    """The version of one list source in force: its entries and their digest."""

    source: str
    version: str
    entries_digest: str
    imported_at: datetime
    entries: tuple[ScreeningEntry, ...]


class ScreeningList(LedgerAggregate):
    """Every list source's current version (older versions stay in the events)."""

    @staticmethod
    def create_id() -> UUID:
        return SCREENING_ID

    @event("Created")
    def __init__(self) -> None:
        self.lists: dict[str, ImportedList] = {}
        self.versions: dict[str, list[str]] = {}

    def import_list(self, request_id: str, at: datetime, source: str, version: str,
                    entries_digest: str, entries: list[dict[str, Any]]) -> None:
        """Imports a new version of ``source``; RuleViolation SCREENING_VERSION_REUSED
        when that source already had this version (a list version is never rewritten)."""
        if version in self.versions.get(source, []):
            raise RuleViolation("SCREENING_VERSION_REUSED",
                                f"list {source!r} version {version!r} was imported already",
                                {"source": source, "version": version})
        self._import(request_id=request_id, at=at, source=source, version=version,
                     entries_digest=entries_digest, entries=entries)

    @event("Imported")
    def _import(self, request_id: str, at: datetime, source: str, version: str,
                entries_digest: str, entries: list[dict[str, Any]]) -> None:
        self.lists[source] = ImportedList(
            source, version, entries_digest, at,
            tuple(ScreeningEntry.from_record(e) for e in entries))
        self.versions.setdefault(source, []).append(version)

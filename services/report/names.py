"""Readable names for the report: participants by legal name, licences by holder and site,
alert subjects in words, and the ledger's messages with ids and raw units rewritten."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from ledger import MiningLicence
from services.report import units
from services.report.source import Snapshot

TERA = Decimal(10) ** 12


class Names:
    """Readable names of participants, licences and alert subjects."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def participant(self, participant_id: UUID | None) -> str:
        """Returns the participant's legal name ("–" for none)."""
        if participant_id is None:
            return "–"
        found = self.snapshot.participants.get(participant_id)
        return found.legal_name if found is not None else "unknown participant"

    def licence(self, licence_id: UUID) -> str:
        """Returns "holder, site" for a mining licence, "holder, exchange" for another."""
        licence = self.snapshot.licences.get(licence_id)
        if licence is None:
            return "unknown licence"
        holder = self.participant(licence.participant_id)
        if isinstance(licence, MiningLicence):
            return f"{holder}, {self.site(licence)}"
        return f"{holder}, exchange"

    def vasp(self, vasp_id: UUID | None) -> str:
        """Returns the registered VASP's name ("no VASP named" for none)."""
        if vasp_id is None:
            return "no VASP named"
        found = self.snapshot.vasps.get(vasp_id)
        return str(found.name) if found is not None else "unregistered VASP"

    def mode(self, licence: MiningLicence) -> str:
        """Returns "solo", or "pool NAME (SCHEME, fee F %)" for a licence in a pool."""
        if getattr(licence, "mode", "SOLO") != "POOL":
            return "solo"
        pool = None if licence.pool_id is None else self.snapshot.pools.get(licence.pool_id)
        if pool is None:
            return "pool (unregistered)"
        fee = (Decimal(pool.fee) * 100).normalize()
        return f"pool {pool.name} ({pool.payout_scheme}, fee {fee:f} %)"

    @staticmethod
    def site(licence: MiningLicence) -> str:
        """Returns the licence's site: region, grid zone and meter."""
        return f"{licence.region} / {licence.grid_zone} / meter {licence.meter_id}"

    def subject(self, subject_id: UUID) -> str:
        """Returns what an alert is about, in words."""
        if subject_id in self.snapshot.participants:
            return self.participant(subject_id)
        if subject_id in self.snapshot.licences:
            return f"licence of {self.licence(subject_id)}"
        recon = self.snapshot.reconciliations.get(subject_id)
        if recon is not None:
            return (f"reconciliation of {self.licence(recon.licence_id)}, "
                    f"{span(recon.period_start, recon.period_end)}")
        kind = self.snapshot.kinds.get(subject_id)
        return _words(kind) if kind else "a record outside the report"


    def message(self, text: str) -> str:
        """Returns a ledger message for a reader: ids replaced by names, hashrates and
        energies in prefixed units, ISO times shortened."""
        text = _UUID.sub(lambda m: self._named(UUID(m.group(0))), text)
        text = _THS.sub(lambda m: units.hashrate(Decimal(m.group(1)) * TERA), text)
        text = _KWH.sub(lambda m: units.energy(Decimal(m.group(1))), text)
        return _ISO.sub(lambda m: f"{m.group(1)} {m.group(2)} UTC", text)

    def _named(self, record_id: UUID) -> str:
        if record_id in self.snapshot.vasps:
            return self.vasp(record_id)
        if record_id in self.snapshot.participants:
            return self.participant(record_id)
        if record_id in self.snapshot.licences:
            return self.licence(record_id)
        return self.subject(record_id)


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NUMBER = r"([0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"
_THS = re.compile(_NUMBER + r" TH/s")
_KWH = re.compile(_NUMBER + r" kWh")
_ISO = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(?:\+00:00|Z)")


def _words(class_name: str) -> str:
    """Returns ``ProofBatch`` as "a proof batch"."""
    spaced = "".join(f" {c.lower()}" if c.isupper() else c for c in class_name).strip()
    return f"a {spaced}"


def span(start: datetime, end: datetime) -> str:
    """Returns a period as dates, or as times when it is not whole days."""
    if all(t.hour == t.minute == t.second == 0 for t in (start, end)):
        return f"{start.date().isoformat()} – {end.date().isoformat()}"
    if start.date() == end.date() or end - start <= timedelta(days=1):
        return f"{start:%Y-%m-%d %H:%M} – {end:%H:%M} UTC"
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"

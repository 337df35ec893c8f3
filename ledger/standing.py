"""Standing: may a licence holder act now? The one rule behind every write a licence
holder makes with a raising refusal (``ledger.reports``, ``ledger.proofs``); trades apply
the same three checks in ``ledger.trading``, as blocks kept on the record."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar
from uuid import UUID

from ledger.domain.licence import Licence
from ledger.domain.participant import Participant
from ledger.store import LedgerStore
from ledger.windows import WindowKind, check_window

L = TypeVar("L", bound=Licence)


def licensed_holder(store: LedgerStore, kind: WindowKind, licence_id: UUID, cls: type[L],
                    when: datetime, recorded_at: datetime,
                    what: str = "licence") -> tuple[L, Participant]:
    """Returns the licence and its holder when ``when`` lies in the window of ``kind``
    around ``recorded_at`` and both are in standing at both times; raises RuleViolation
    (TIME_OUTSIDE_WINDOW, LICENCE_NOT_ACTIVE, PARTICIPANT_NOT_ACTIVE) or NotFound."""
    licence = store.read_typed(licence_id, cls, what)
    check_window(kind, when, recorded_at, store.policy_at(recorded_at))
    licence.require_active(when, recorded_at)
    holder = store.read_typed(licence.participant_id, Participant, "participant")
    holder.require_standing(when, recorded_at)
    return licence, holder

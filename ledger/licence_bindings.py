"""What a licence holds alone: its meter while it is active, its coinbase tags.

Relied on by ``ledger.licensing`` (grants and renewals) and, through unique tags, by
``ledger.proofs``: a coinbase names one licence at most, so a share is credited to one.
Every binding is also recorded in the national ``MiningRegister`` (:meth:`record`) in the
licence's own transaction, so two grants deciding at once cannot both pass the checks: the
second collides on the register and is decided again. That holds only because a decision
reads the register (:meth:`register`) *before* its checks: a grant committed after that
read makes the save collide, and one committed before it is in what the checks read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from ledger.domain.licence import MiningLicence
from ledger.domain.mining_register import MINING_REGISTER_ID, MiningRegister
from ledger.errors import RuleViolation
from ledger.indexes import LicenceIndex
from ledger.store import LedgerStore


class LicenceBindings:
    """Checks that a new or renewed licence takes no meter or tag another one holds."""

    def __init__(self, store: LedgerStore, licences: LicenceIndex) -> None:
        self.store = store
        self.licences = licences

    def register(self) -> MiningRegister:
        """Returns a private copy of the national register (a new one before the first
        binding): the version every concurrent grant or renewal collides on. Read it
        before the checks (see the module's docstring)."""
        register = self.store.find(MINING_REGISTER_ID)
        return register if isinstance(register, MiningRegister) else MiningRegister()

    def record(self, register: MiningRegister, request_id: str, at: datetime,
               licence: MiningLicence) -> MiningRegister:
        """Returns ``register`` (read by :meth:`register` before the checks) with
        ``licence``'s binding recorded, to be saved with the licence."""
        register.bind(request_id=request_id, at=at, licence_id=licence.id,
                      meter_id=licence.meter_id, coinbase_tags=list(licence.coinbase_tags))
        return register

    def check_meter_free(self, meter_id: str, start: datetime, end: datetime) -> None:
        """Raises RuleViolation METER_IN_USE when another mining licence binds the meter
        at some instant of [start, end): from its ``valid_from`` to its ``term_end``
        (suspended licences keep their meter; revoked and expired ones free it). The one
        owner of "a meter is bound to one active licence at a time"."""
        for other_id in self.licences.licences_for_meter(meter_id):
            other = self.store.read_typed(other_id, MiningLicence, "mining licence")
            if other.valid_from < end and start < other.term_end():
                raise RuleViolation(
                    "METER_IN_USE",
                    f"meter {meter_id!r} is bound to licence {other_id} from "
                    f"{other.valid_from.isoformat()} until {other.term_end().isoformat()}",
                    {"licence": other_id, "valid_from": other.valid_from.isoformat(),
                     "term_end": other.term_end().isoformat()})

    def check_meter_free_after(self, old: MiningLicence, end: datetime) -> None:
        """Raises METER_IN_USE when a licence other than ``old`` binds its meter between
        the end of ``old``'s term and ``end`` (:meth:`check_meter_free` for a renewal)."""
        for other_id in self.licences.licences_for_meter(old.meter_id):
            if other_id == old.id:
                continue
            other = self.store.read_typed(other_id, MiningLicence, "mining licence")
            if other.valid_from < end and old.valid_until < other.term_end():
                raise RuleViolation(
                    "METER_IN_USE",
                    f"meter {old.meter_id!r} is bound to licence {other_id} from "
                    f"{other.valid_from.isoformat()} until {other.term_end().isoformat()}",
                    {"licence": other_id})

    def require_free_tags(self, tags: Iterable[str], participant_id: UUID,
                          valid_from: datetime, valid_until: datetime) -> None:
        """Raises RuleViolation COINBASE_TAG_IN_USE (naming ``coinbase_tags``) when a tag
        equals, contains or is contained in another licence's tag. The one exception is
        the same participant's identical tag on a licence whose validity does not
        overlap [valid_from, valid_until) (a renewal or re-licensing). Relied on by
        ``ledger.proofs``: with tags unique, a coinbase names one licence at most."""
        for tag in tags:
            for other_id, held in self.licences.tag_holders(bytes.fromhex(tag)):
                other = self.store.read_typed(other_id, MiningLicence, "mining licence")
                ends = min(other.valid_until, other.revoked_at or other.valid_until)
                overlaps = other.valid_from < valid_until and valid_from < ends
                if held.hex() == tag and other.participant_id == participant_id \
                        and not overlaps:
                    continue
                raise RuleViolation(
                    "COINBASE_TAG_IN_USE",
                    f"coinbase_tags: tag {tag!r} collides with tag {held.hex()!r} of "
                    f"mining licence {other_id}",
                    {"field": "coinbase_tags", "tag": tag, "licence": str(other_id)})

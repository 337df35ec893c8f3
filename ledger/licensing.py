"""Licensing: the regulator's decisions on participants and licences.

:class:`Licensing` decides and saves every command of the regulator about who may act:
registering, approving, suspending, reinstating and deregistering participants; granting,
amending, suspending, reinstating, revoking, renewing and expiring licences. The
aggregates guard their own lifecycle (``Participant``, ``Licence``); this use case adds
what needs the store (the holder's standing, the efficiency floor, the meter's licences)
and the regulator's time window.

Consequences a regulator expects: deregistering a participant revokes every licence it
still holds, in the same save (a deregistered firm holds no licence); suspending a
participant stops it acting at once (``Participant.standing``, checked by every write a
holder makes) without touching its licences, so reinstating it restores them as they
were. A meter is bound to one *active* licence at a time and a coinbase tag to one licence
(``ledger.licence_bindings``).

Registration and approval also screen names (``ledger.screening``: a confirmed match on
a sanctions, terrorism or WMD list refuses, a possible one alerts) and approval applies
the offshore-founder rule. The module is long because it holds every regulator decision
about participants and licences, each a short command beside those checks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import PersistenceError

from ledger.clock import Clock
from ledger.commands import UseCase
from ledger.domain.alert import Alert
from ledger.domain.base import Stamp
from ledger.domain.licence import MINING_MODES, ExchangeLicence, Licence, MiningLicence
from ledger.domain.participant import Participant, ParticipantKind
from ledger.domain.pool import MiningPool
from ledger.errors import InvalidRequest, LedgerError, RuleViolation
from ledger.indexes import LicenceIndex
from ledger.licence_bindings import LicenceBindings
from ledger.receipts import Receipt
from ledger.requests import REGULATOR
from ledger.screening import (
    Screening,
    Subject,
    confirmed_refusal,
    founder_refusal,
    hit_alert,
    participant_subjects,
)
from ledger.screening import alert_id as screening_alert_id
from ledger.store import LedgerStore
from ledger.validation import (
    check_after,
    check_country,
    check_efficiency_floor,
    check_hex,
    check_text,
    optional_time,
    positive,
    required_time,
)
from ledger.windows import WindowKind

log = logging.getLogger(__name__)

MAX_OWNERS = 100
"""Most beneficial owners or offshore links one registration may name."""
MAX_TAGS = 16
"""Most coinbase tags one mining licence may carry."""
MIN_TAG_BYTES = 4
"""Shortest coinbase tag: shorter ones turn up in coinbases by chance."""


class Licensing(UseCase):
    """The regulator's decisions about participants and licences."""

    def __init__(self, store: LedgerStore, clock: Clock, licences: LicenceIndex,
                 screening: Screening) -> None:
        super().__init__(store, clock)
        self.licences = licences
        self.bindings = LicenceBindings(store, licences)
        self.screening = screening

    def decision(self, command: str, request_id: str, at: datetime | None,
                 **fields: Any) -> tuple[Stamp, datetime]:
        """Returns the stamp of a regulator decision and its checked time: ``at`` (or the
        server's time) within the regulator's window."""
        return self.begin(command, REGULATOR, request_id, at, WindowKind.REGULATOR, **fields)

    # ---------------------------------------------------------------- participants

    def register_participant(self, request_id: str, kind: str, legal_name: str,
                             tax_id: str, country: str, beneficial_owners: Iterable[str] = (),
                             offshore_links: Iterable[str] = (),
                             at: datetime | None = None) -> Receipt:
        """Registers a participant; returns its receipt (id derived from the request)."""
        if kind not in ParticipantKind.__members__:
            raise InvalidRequest("kind", f"must be ENTERPRISE or INDIVIDUAL, got {kind!r:.40}")
        check_text("legal_name", legal_name)
        check_text("tax_id", tax_id)
        check_country("country", country)
        owners = bounded_list("beneficial_owners", beneficial_owners, MAX_OWNERS)
        links = bounded_list("offshore_links", offshore_links, MAX_OWNERS)
        stamp, when = self.decision(
            "RegisterParticipant", request_id, at, kind=kind, legal_name=legal_name,
            tax_id=tax_id, country=country, beneficial_owners=owners, offshore_links=links)

        participant_id = Participant.create_id(REGULATOR, request_id)
        subjects = [Subject(legal_name, (tax_id,)), *(Subject(o) for o in owners)]
        matches = self.screening.screen(subjects, self.store.policy_at(when))
        barring = [m for m in matches if m.bars]
        if barring:
            # Refused; the attempt stays on the record as a SCREENING_HIT alert.
            self.create(stamp, request_id, Alert,
                        screening_alert_id(REGULATOR, request_id, participant_id),
                        lambda: [hit_alert(request_id, when, "registration", participant_id,
                                           None, matches)])
            raise RuleViolation(*confirmed_refusal(barring[0]))

        def build() -> list[Aggregate]:
            participant = Participant(request_id=request_id, at=when, kind=kind,
                                      legal_name=legal_name.strip(), tax_id=tax_id.strip(),
                                      country=country, beneficial_owners=owners,
                                      offshore_links=links)
            if not matches:
                return [participant]
            return [participant, hit_alert(request_id, when, "registration", participant_id,
                                           participant_id, matches)]

        return self.create(stamp, request_id, Participant, participant_id, build)

    def approve_participant(self, request_id: str, participant_id: UUID,
                            at: datetime | None = None) -> Receipt:
        """Approves a registered participant."""
        stamp, when = self.decision("ApproveParticipant", request_id, at,
                                    participant_id=participant_id)
        current = self.store.read_typed(participant_id, Participant, "participant")
        first = current.version_of_request(REGULATOR, request_id, stamp.digest)
        if first is not None:
            return Receipt(participant_id, first, replayed=True)
        policy = self.store.policy_at(when)
        matches = self.screening.screen(participant_subjects(current), policy)
        refusal = founder_refusal(current, policy, matches)
        alert_id = screening_alert_id(REGULATOR, request_id, participant_id)
        if refusal is not None:
            # Refused; the attempt stays on the record as an alert.
            rule, message, figures = refusal

            def refused() -> list[Aggregate]:
                if matches:
                    return [hit_alert(request_id, when, "approval", participant_id,
                                      participant_id, matches)]
                return [Alert(request_id=request_id, at=when, kind=rule,
                              subject_id=participant_id, participant_id=participant_id,
                              message=message, evidence=[f"{participant_id}:1"],
                              figures=figures)]

            self.create(stamp, request_id, Alert,
                        alert_id if matches else Alert.create_id(
                            REGULATOR, request_id, rule, participant_id), refused)
            raise RuleViolation(rule, message, figures)

        def attempt() -> Receipt:
            participant = self.store.get_typed(participant_id, Participant, "participant")
            seen = participant.version_of_request(REGULATOR, request_id, stamp.digest)
            if seen is not None:
                return Receipt(participant_id, seen, replayed=True)
            participant.approve(request_id=request_id, at=when)
            if matches:  # possible matches: approved, and the regulator is alerted
                self.store.save(participant, hit_alert(request_id, when, "approval",
                                                       participant_id, participant_id,
                                                       matches))
            else:
                self.store.save(participant)
            return Receipt(participant_id, participant.version)

        return self.run(stamp, attempt)

    def suspend_participant(self, request_id: str, participant_id: UUID, reason: str,
                            until: datetime | None = None,
                            at: datetime | None = None) -> Receipt:
        """Suspends a participant from ``at`` until ``until`` (or until reinstated)."""
        check_text("reason", reason)
        end = optional_time(until, "until")
        stamp, when = self.decision("SuspendParticipant", request_id, at,
                                    participant_id=participant_id, reason=reason, until=end)
        check_after("until", end, when)
        return self.mutate(stamp, request_id, participant_id, Participant, "participant",
                           lambda p: p.suspend(request_id=request_id, at=when, reason=reason,
                                               until=end))

    def reinstate_participant(self, request_id: str, participant_id: UUID,
                              at: datetime | None = None) -> Receipt:
        """Ends a participant's current suspension at ``at``."""
        stamp, when = self.decision("ReinstateParticipant", request_id, at,
                                    participant_id=participant_id)
        return self.mutate(stamp, request_id, participant_id, Participant, "participant",
                           lambda p: p.reinstate(request_id=request_id, at=when))

    def deregister_participant(self, request_id: str, participant_id: UUID, reason: str,
                               at: datetime | None = None) -> Receipt:
        """Deregisters a participant from ``at`` on."""
        check_text("reason", reason)
        stamp, when = self.decision("DeregisterParticipant", request_id, at,
                                    participant_id=participant_id, reason=reason)

        def attempt() -> Receipt:
            participant = self.store.get_typed(participant_id, Participant, "participant")
            seen = participant.version_of_request(REGULATOR, request_id, stamp.digest)
            if seen is not None:
                return Receipt(participant_id, seen, replayed=True)
            participant.deregister(request_id=request_id, at=when, reason=reason)
            self.store.save(participant, *self.licences_to_revoke(participant))
            return Receipt(participant_id, participant.version)

        receipt = self.run(stamp, attempt)
        self.revoke_left_over(stamp, participant_id)
        return receipt

    def licences_to_revoke(self, participant: Participant) -> list[Licence]:
        """Returns the licences of a deregistered ``participant`` still valid after its
        deregistration, each revoked (to be saved): the one owner of "a deregistered
        firm holds no licence", relied on by :meth:`deregister_participant` and
        :meth:`revoke_left_over`."""
        assert participant.deregistered_at is not None and participant.deregistration
        when = participant.deregistered_at
        request_id, reason = participant.deregistration
        revoked = []
        for licence_id in self.licences.all_ids(participant.id):
            licence = self.store.get_typed(licence_id, Licence, "licence")
            if licence.revoked_at is None and licence.valid_until > when:
                licence.revoke(request_id=request_id, at=when,
                               reason=f"holder deregistered: {reason}")
                revoked.append(licence)
        return revoked

    def revoke_left_over(self, stamp: Stamp, participant_id: UUID) -> None:
        """Revokes, once a deregistration or a grant or renewal for ``participant_id``
        has committed, what a deregistration left to its holder.

        A grant and a deregistration deciding at once save different aggregates, so
        neither collides with the other: the grant may have checked the holder's standing
        before the deregistration committed, and the deregistration listed the holder's
        licences before the grant committed. Each runs this after its own commit, so the
        one that commits second sees the other and revokes the licence.

        The command has committed by then, so a failure here (the store gone, contention)
        is logged, not raised: the caller's receipt stands, and sending the deregistration
        again with its request id finishes the revocation."""

        def attempt() -> None:
            participant = self.store.get_typed(participant_id, Participant, "participant")
            if participant.deregistered_at is not None:
                revoked = self.licences_to_revoke(participant)
                if revoked:
                    self.store.save(*revoked)

        try:
            self.run(stamp, attempt)
        except (LedgerError, PersistenceError) as error:
            log.error("licences participant %s may still hold after its deregistration "
                      "were not revoked (%s); send the deregistration again with its "
                      "request id to finish", participant_id, error)

    # -------------------------------------------------------------------- licences

    def holder_in_standing(self, participant_id: UUID, at: datetime,
                           recorded_at: datetime) -> Participant:
        """Returns the participant when it may act at both times; raises otherwise."""
        participant = self.store.get_typed(participant_id, Participant, "participant")
        participant.require_standing(at, recorded_at)
        return participant

    def grant_mining_licence(self, request_id: str, participant_id: UUID, region: str,
                             grid_zone: str, meter_id: str, power_mw: Decimal | str,
                             efficiency_jth: Decimal | str, coinbase_tags: Iterable[str],
                             valid_from: datetime, valid_until: datetime,
                             at: datetime | None = None, mode: str = "SOLO",
                             pool_id: UUID | None = None) -> Receipt:
        """Grants a mining licence; refuses efficiency better than the policy floor, a
        meter that already belongs to a licence, a coinbase tag another licence holds,
        and a mode other than SOLO or POOL with an accredited ``pool_id``."""
        if mode not in MINING_MODES:
            raise InvalidRequest("mode", f"must be POOL or SOLO, got {str(mode)[:20]!r}")
        if (mode == "POOL") != (pool_id is not None):
            raise InvalidRequest("pool_id", "a POOL licence names its accredited pool; "
                                 "a SOLO licence names none")
        if pool_id is not None and not isinstance(pool_id, UUID):
            raise InvalidRequest("pool_id", "must be a UUID")
        for name, text in (("region", region), ("grid_zone", grid_zone), ("meter_id", meter_id)):
            check_text(name, text)
        power = positive("licensed_power_mw", power_mw)
        efficiency = positive("declared_efficiency_j_per_th", efficiency_jth)
        tags = [check_hex("coinbase_tags", tag)
                for tag in bounded_list("coinbase_tags", coinbase_tags, MAX_TAGS)]
        if not tags:
            raise InvalidRequest("coinbase_tags", "a mining licence needs at least one "
                                 "coinbase tag (its shares are told apart by it)")
        for tag in tags:
            if len(tag) < 2 * MIN_TAG_BYTES:
                raise InvalidRequest("coinbase_tags",
                                     f"tag {tag!r} is shorter than {MIN_TAG_BYTES} bytes")
        start = required_time(valid_from, "valid_from")
        end = required_time(valid_until, "valid_until")
        check_after("valid_until", end, start)
        stamp, when = self.decision(
            "GrantMiningLicence", request_id, at, participant_id=participant_id,
            region=region, grid_zone=grid_zone, meter_id=meter_id, power_mw=power,
            efficiency_jth=efficiency, coinbase_tags=tags, valid_from=start, valid_until=end,
            mode=mode, pool_id=pool_id)

        def build() -> list[Aggregate]:
            register = self.bindings.register()  # before the checks: see licence_bindings
            self.holder_in_standing(participant_id, when, stamp.recorded_at)
            if pool_id is not None and not isinstance(self.store.find(pool_id), MiningPool):
                raise InvalidRequest("pool_id", f"{pool_id} is not an accredited pool")
            check_efficiency_floor(self.store.policy_at(when), efficiency)
            self.bindings.check_meter_free(meter_id, start, end)
            self.bindings.require_free_tags(tags, participant_id, start, end)
            licence = MiningLicence(
                request_id=request_id, at=when, participant_id=participant_id, region=region,
                grid_zone=grid_zone, meter_id=meter_id, power_mw=power,
                efficiency_jth=efficiency, coinbase_tags=tags, valid_from=start,
                valid_until=end, mode=mode, pool_id=pool_id)
            return [licence, self.bindings.record(register, request_id, when, licence)]

        receipt = self.create(stamp, request_id, MiningLicence,
                              MiningLicence.create_id(REGULATOR, request_id), build)
        self.revoke_left_over(stamp, participant_id)
        return receipt

    def renew_licence(self, request_id: str, licence_id: UUID, valid_until: datetime,
                      at: datetime | None = None) -> Receipt:
        """Renews a licence: grants its successor (same holder, site, meter, capacity,
        tags or services) from the old term's end to ``valid_until``; returns the
        successor's receipt. Refused once the old term has ended (LICENCE_EXPIRED: grant a
        new licence instead), when revoked or already renewed."""
        end = required_time(valid_until, "valid_until")
        stamp, when = self.decision("RenewLicence", request_id, at, licence_id=licence_id,
                                    valid_until=end)

        def attempt() -> Receipt:
            register = self.bindings.register()  # before the checks: see licence_bindings
            old = self.store.get_typed(licence_id, Licence, "licence")
            kind = MiningLicence if isinstance(old, MiningLicence) else ExchangeLicence
            successor_id = kind.create_id(REGULATOR, request_id)
            existing = self.store.find(successor_id)
            if existing is not None:
                if not isinstance(existing, Licence) or existing.renewal_of != licence_id:
                    raise InvalidRequest("request_id", "already used for another command")
                existing.version_of_request(REGULATOR, request_id, stamp.digest)
                return Receipt(successor_id, 1, replayed=True)
            check_after("valid_until", end, old.valid_until)
            if old.valid_until <= stamp.recorded_at or old.valid_until <= when:
                raise RuleViolation(
                    "LICENCE_EXPIRED",
                    f"licence {licence_id} ended {old.valid_until.isoformat()}: a term that "
                    "has ended is not renewed; grant a new licence",
                    {"licence": licence_id, "valid_until": old.valid_until.isoformat()})
            old.renewed(request_id=request_id, at=when, successor_id=successor_id,
                        valid_until=end)
            self.holder_in_standing(old.participant_id, when, stamp.recorded_at)
            successor: Licence
            if isinstance(old, MiningLicence):
                check_efficiency_floor(self.store.policy_at(old.valid_until),
                                       old.efficiency_jth)
                self.bindings.check_meter_free_after(old, end)
                self.bindings.require_free_tags(old.coinbase_tags, old.participant_id,
                                       old.valid_until, end)
                successor = MiningLicence(
                    request_id=request_id, at=when, participant_id=old.participant_id,
                    region=old.region, grid_zone=old.grid_zone, meter_id=old.meter_id,
                    power_mw=old.power_mw, efficiency_jth=old.efficiency_jth,
                    coinbase_tags=list(old.coinbase_tags), valid_from=old.valid_until,
                    valid_until=end, renewal_of=licence_id, mode=old.mode,
                    pool_id=old.pool_id)
            else:
                assert isinstance(old, ExchangeLicence)
                successor = ExchangeLicence(
                    request_id=request_id, at=when, participant_id=old.participant_id,
                    services=list(old.services), valid_from=old.valid_until,
                    valid_until=end, renewal_of=licence_id)
            if isinstance(successor, MiningLicence):
                self.store.save(old, successor,
                                self.bindings.record(register, request_id, when, successor))
            else:
                self.store.save(old, successor)
            return Receipt(successor_id, 1)

        receipt = self.run(stamp, attempt)
        holder = self.store.get_typed(licence_id, Licence, "licence").participant_id
        self.revoke_left_over(stamp, holder)
        return receipt

    def amend_mining_capacity(self, request_id: str, licence_id: UUID,
                              power_mw: Decimal | str, efficiency_jth: Decimal | str,
                              effective_from: datetime | None = None,
                              at: datetime | None = None) -> Receipt:
        """Amends licensed power and declared efficiency from ``effective_from`` on."""
        power = positive("licensed_power_mw", power_mw)
        efficiency = positive("declared_efficiency_j_per_th", efficiency_jth)
        effective_given = optional_time(effective_from, "effective_from")
        stamp, when = self.decision("AmendMiningCapacity", request_id, at,
                                    licence_id=licence_id, power_mw=power,
                                    efficiency_jth=efficiency, effective_from=effective_given)
        effective = effective_given or when

        def change(licence: MiningLicence) -> None:
            check_efficiency_floor(self.store.policy_at(effective), efficiency)
            licence.amend_capacity(request_id=request_id, at=when, power_mw=power,
                                   efficiency_jth=efficiency, effective_from=effective)

        return self.mutate(stamp, request_id, licence_id, MiningLicence, "mining licence",
                           change)

    def grant_exchange_licence(self, request_id: str, participant_id: UUID,
                               services: Iterable[str], valid_from: datetime,
                               valid_until: datetime, at: datetime | None = None) -> Receipt:
        """Grants a licence to operate as a virtual-asset service provider."""
        offered = [check_text("services", s) for s in bounded_list("services", services, 50)]
        if not offered:
            raise InvalidRequest("services", "at least one service is required")
        start = required_time(valid_from, "valid_from")
        end = required_time(valid_until, "valid_until")
        check_after("valid_until", end, start)
        stamp, when = self.decision("GrantExchangeLicence", request_id, at,
                                    participant_id=participant_id, services=offered,
                                    valid_from=start, valid_until=end)

        def build() -> list[Aggregate]:
            self.holder_in_standing(participant_id, when, stamp.recorded_at)
            return [ExchangeLicence(request_id=request_id, at=when,
                                    participant_id=participant_id, services=offered,
                                    valid_from=start, valid_until=end)]

        receipt = self.create(stamp, request_id, ExchangeLicence,
                              ExchangeLicence.create_id(REGULATOR, request_id), build)
        self.revoke_left_over(stamp, participant_id)
        return receipt

    def suspend_licence(self, request_id: str, licence_id: UUID, reason: str,
                        until: datetime | None = None, at: datetime | None = None) -> Receipt:
        """Suspends a licence from ``at`` until ``until`` (or until reinstated)."""
        check_text("reason", reason)
        end = optional_time(until, "until")
        stamp, when = self.decision("SuspendLicence", request_id, at, licence_id=licence_id,
                                    reason=reason, until=end)
        check_after("until", end, when)
        return self.mutate(stamp, request_id, licence_id, Licence, "licence",
                           lambda lic: lic.suspend(request_id=request_id, at=when,
                                                   reason=reason, until=end))

    def reinstate_licence(self, request_id: str, licence_id: UUID,
                          at: datetime | None = None) -> Receipt:
        """Ends a licence's current suspension at ``at``."""
        stamp, when = self.decision("ReinstateLicence", request_id, at, licence_id=licence_id)
        return self.mutate(stamp, request_id, licence_id, Licence, "licence",
                           lambda lic: lic.reinstate(request_id=request_id, at=when))

    def revoke_licence(self, request_id: str, licence_id: UUID, reason: str,
                       at: datetime | None = None) -> Receipt:
        """Revokes a licence from ``at`` on, for good."""
        check_text("reason", reason)
        stamp, when = self.decision("RevokeLicence", request_id, at, licence_id=licence_id,
                                    reason=reason)
        return self.mutate(stamp, request_id, licence_id, Licence, "licence",
                           lambda lic: lic.revoke(request_id=request_id, at=when,
                                                  reason=reason))

    def expire_licence(self, request_id: str, licence_id: UUID) -> bool:
        """Records ``Expired`` for one licence whose validity ended by now (the
        supervisory calendar's expiry; the event's time is the server's); returns True
        when it recorded it now, False when this request already had."""
        stamp, when = self.decision("ExpireLicence", request_id, None, licence_id=licence_id)
        return not self.mutate(stamp, request_id, licence_id, Licence, "licence",
                               lambda lic: lic.expire(request_id=request_id,
                                                      at=when)).replayed

    def expire_licences(self, request_id: str, at: datetime | None = None) -> list[Receipt]:
        """Records ``Expired`` for every licence whose validity ended by ``at``."""
        stamp, when = self.decision("ExpireLicences", request_id, at)
        receipts = []
        for licence_id in self.licences.all_ids():
            licence = self.store.read_typed(licence_id, Licence, "licence")
            # A retry replays the licences the first call expired.
            if licence.version_of_request(REGULATOR, request_id, stamp.digest) is not None \
                    or licence.is_due_to_expire(when):
                receipts.append(self.mutate(
                    stamp, request_id, licence_id, Licence, "licence",
                    lambda lic: lic.expire(request_id=request_id, at=when)))
        return receipts


def bounded_list(field: str, values: Iterable[str], limit: int) -> list[str]:
    """Returns ``values`` as a list of at most ``limit`` texts without control characters."""
    if isinstance(values, str):
        raise InvalidRequest(field, "must be a list of texts, not one text")
    items: list[str] = []
    for value in values:
        if len(items) == limit:
            raise InvalidRequest(field, f"at most {limit} entries")
        items.append(check_text(field, value))
    return items

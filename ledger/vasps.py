"""The VASP registry: the regulator registers, suspends and reinstates the VASPs trades
may name as their counterparty (DESIGN §3 ``Vasp``)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.clock import Clock
from ledger.commands import UseCase
from ledger.domain.licence import ExchangeLicence
from ledger.domain.vasp import Vasp
from ledger.errors import InvalidRequest, NotFound, RuleViolation
from ledger.indexes import VaspIndex
from ledger.receipts import Receipt
from ledger.requests import REGULATOR
from ledger.store import LedgerStore
from ledger.validation import check_country, check_text
from ledger.windows import WindowKind

MAX_ENDPOINT = 500
"""The longest travel-rule endpoint (a URL) in characters."""


class Vasps(UseCase):
    """Registers, suspends, reinstates and lists VASPs."""

    def __init__(self, store: LedgerStore, clock: Clock, index: VaspIndex) -> None:
        super().__init__(store, clock)
        self.index = index

    def register_vasp(self, request_id: str, name: str, country: str,
                      licence_id: UUID | None = None, foreign_registration: str = "",
                      travel_rule_endpoint: str = "",
                      at: datetime | None = None) -> Receipt:
        """Registers a VASP: a domestic one names its exchange licence (and is in the
        home country), a foreign one its registration abroad (and is not)."""
        check_text("name", name, 200)
        check_country("country", country)
        if licence_id is not None and not isinstance(licence_id, UUID):
            raise InvalidRequest("licence_id", "must be a UUID")
        if foreign_registration:
            check_text("foreign_registration", foreign_registration, 200)
        if travel_rule_endpoint:
            check_text("travel_rule_endpoint", travel_rule_endpoint, MAX_ENDPOINT)
        if (licence_id is None) == (not foreign_registration.strip()):
            raise InvalidRequest("licence_id", "name either the exchange licence of a "
                                 "domestic VASP or the foreign_registration of a foreign one")
        stamp, when = self.begin("RegisterVasp", REGULATOR, request_id, at,
                                 WindowKind.REGULATOR, name=name, country=country,
                                 licence_id=licence_id,
                                 foreign_registration=foreign_registration,
                                 travel_rule_endpoint=travel_rule_endpoint)
        home = self.store.policy_at(when).text("home_country")
        if licence_id is not None:
            licence = self.store.read_typed(licence_id, ExchangeLicence, "exchange licence")
            if country != home:
                raise RuleViolation("VASP_COUNTRY_MISMATCH",
                                    f"a VASP licensed here is in {home}, not {country}",
                                    {"country": country, "home_country": home})
            del licence
        elif country == home:
            raise RuleViolation("VASP_NOT_LICENSED",
                                f"a VASP in {home} must name its exchange licence",
                                {"country": country})

        def build() -> list[Aggregate]:
            return [Vasp(request_id=request_id, at=when, name=name.strip(), country=country,
                         licence_id=licence_id,
                         foreign_registration=foreign_registration.strip(),
                         travel_rule_endpoint=travel_rule_endpoint.strip())]

        return self.create(stamp, request_id, Vasp, Vasp.create_id(REGULATOR, request_id),
                           build)

    def suspend_vasp(self, request_id: str, vasp_id: UUID, reason: str,
                     at: datetime | None = None) -> Receipt:
        """Suspends a VASP: trades naming it are blocked from ``at`` on."""
        check_text("reason", reason)
        stamp, when = self.begin("SuspendVasp", REGULATOR, request_id, at,
                                 WindowKind.REGULATOR, vasp_id=vasp_id, reason=reason)
        return self.mutate(stamp, request_id, vasp_id, Vasp, "VASP",
                           lambda v: v.suspend(request_id=request_id, at=when, reason=reason))

    def reinstate_vasp(self, request_id: str, vasp_id: UUID,
                       at: datetime | None = None) -> Receipt:
        """Ends a VASP's suspension."""
        stamp, when = self.begin("ReinstateVasp", REGULATOR, request_id, at,
                                 WindowKind.REGULATOR, vasp_id=vasp_id)
        return self.mutate(stamp, request_id, vasp_id, Vasp, "VASP",
                           lambda v: v.reinstate(request_id=request_id, at=when))

    def get_vasp(self, vasp_id: UUID) -> Vasp:
        """Returns a registered VASP, or raises NotFound."""
        vasp = self.store.find(vasp_id)
        if not isinstance(vasp, Vasp):
            raise NotFound("VASP", vasp_id)
        return vasp

    def list_vasps(self, country: str | None = None) -> list[Vasp]:
        """Returns registered VASPs in registration order, optionally of one country."""
        found = self.store.read_many(self.index.all_ids())
        return [v for v in found.values()
                if isinstance(v, Vasp) and (country is None or v.country == country)]

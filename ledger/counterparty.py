"""Counterparty: where a trade's value goes, decided from the VASP registry and not from
the client's word (DESIGN §3, Compliance).

The one owner of the rules that a named counterparty VASP is registered and in standing
at the trade's time and when recorded, that a country the client claims is the VASP's,
and that a transfer to a hosted wallet abroad names its VASP. Relied on by
``ledger.trading``, whose outflow rule reads the country decided here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.domain.base import standing_at_both
from ledger.domain.trade import TradeRequest, WalletKind
from ledger.domain.vasp import Vasp

Refusal = tuple[str, str, dict[str, object]]
"""A broken rule: its name, its message and its figures."""


@dataclass(frozen=True)
class Counterparty:
    """The other side of a trade: the registered VASP (None inside the exchange or for a
    self-hosted wallet) and the country the value goes to."""

    vasp: Vasp | None
    country: str


def counterparty(request: TradeRequest, vasp: Any, home: str,
                 recorded_at: datetime) -> Counterparty | Refusal:
    """Returns the trade's counterparty, or the rule it breaks. ``vasp`` is what the
    store holds under ``request.counterparty_vasp_id`` (None when it names none)."""
    claimed = request.counterparty_country
    if request.counterparty_vasp_id is None:
        country = claimed or home
        if request.wallet_kind is not WalletKind.SELF_HOSTED and country != home:
            return ("COUNTERPARTY_VASP_REQUIRED",
                    f"a transfer to a hosted wallet in {country} names its registered VASP "
                    "(counterparty_vasp_id)",
                    {"counterparty_country": country, "home_country": home})
        return Counterparty(None, country)
    if not isinstance(vasp, Vasp):
        return ("VASP_NOT_REGISTERED",
                f"counterparty VASP {request.counterparty_vasp_id} is not registered",
                {"counterparty_vasp_id": request.counterparty_vasp_id})
    why = standing_at_both(vasp.standing_at, request.at, recorded_at)
    if why is not None:
        return ("VASP_SUSPENDED" if "suspended" in why else "VASP_NOT_REGISTERED",
                f"counterparty VASP {vasp.id} ({vasp.name}) is {why}",
                {"counterparty_vasp_id": vasp.id})
    if claimed and claimed != vasp.country:
        return ("COUNTERPARTY_COUNTRY_MISMATCH",
                f"counterparty VASP {vasp.id} ({vasp.name}) is registered in {vasp.country}, "
                f"not {claimed}",
                {"counterparty_vasp_id": vasp.id, "vasp_country": vasp.country,
                 "counterparty_country": claimed})
    return Counterparty(vasp, vasp.country)

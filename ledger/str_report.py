"""Suspicious-transaction reports (STR): the regulator's export of one or more alert
cases with the transactions and parties behind them, for the financial-intelligence
unit. The format (``valedger-str/1``, JSON) is documented in docs/STR-EXPORT.md; this
module is its one writer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.domain.alert import Alert
from ledger.domain.participant import Participant
from ledger.domain.trade import Trade
from ledger.errors import InvalidRequest
from ledger.store import LedgerStore

STR_FORMAT = "valedger-str/1"
MAX_CASES = 100
"""Most alerts one report may hold."""


def _trade(trade: Trade) -> dict[str, Any]:
    return {"trade_id": str(trade.id), "status": "BLOCKED" if trade.is_blocked else "RECORDED",
            "rule": trade.rule, "at": trade.at.isoformat(), "asset": trade.asset,
            "quantity": str(trade.quantity), "price": str(trade.price),
            "quote_currency": trade.quote_currency, "value_usd": str(trade.value_usd),
            "buyer_id": str(trade.buyer_id), "seller_id": str(trade.seller_id),
            "counterparty_vasp_id": str(trade.counterparty_vasp_id or ""),
            "counterparty_country": trade.counterparty_country,
            "wallet_kind": trade.wallet_kind.value, "exchange_trade_id": trade.exchange_trade_id,
            "exchange_licence_id": str(trade.exchange_licence_id)}


def _party(participant: Participant) -> dict[str, Any]:
    return {"participant_id": str(participant.id), "kind": participant.kind.value,
            "legal_name": participant.legal_name, "tax_id": participant.tax_id,
            "country": participant.country,
            "beneficial_owners": list(participant.beneficial_owners),
            "offshore_links": list(participant.offshore_links)}


def _evidence_id(ref: str) -> UUID | None:
    try:
        return UUID(ref.split(":", 1)[0])
    except ValueError:
        return None


def build_report(store: LedgerStore, alert_ids: Sequence[UUID], generated_at: datetime,
                 reporting_officer: str) -> bytes:
    """Returns the STR document (canonical JSON, UTF-8) of the given alerts; raises
    NotFound for an unknown alert, InvalidRequest for none or too many."""
    if not alert_ids:
        raise InvalidRequest("alert_ids", "name at least one alert")
    if len(alert_ids) > MAX_CASES:
        raise InvalidRequest("alert_ids", f"at most {MAX_CASES} alerts per report")
    cases = []
    for alert_id in dict.fromkeys(alert_ids):
        alert = store.read_typed(alert_id, Alert, "alert")
        refs = [i for i in (_evidence_id(r) for r in alert.evidence) if i is not None]
        related = store.read_many([alert.subject_id, *refs,
                                   *([alert.participant_id] if alert.participant_id else [])])
        trades = {i: a for i, a in related.items() if isinstance(a, Trade)}
        party_ids = {alert.participant_id} if alert.participant_id else set()
        for trade in trades.values():
            party_ids |= {trade.buyer_id, trade.seller_id}
        parties = store.read_many(sorted(party_ids, key=str)) if party_ids else {}
        cases.append({
            "alert_id": str(alert.id), "kind": alert.kind, "severity": alert.severity.value,
            "state": alert.state.value, "raised_at": alert.raised_at.isoformat(),
            "message": alert.message, "figures": dict(sorted(alert.figures.items())),
            "subject_id": str(alert.subject_id),
            "participant_id": str(alert.participant_id or ""),
            "assignee": alert.assignee, "escalated_to": alert.escalated_to,
            "resolution": None if alert.is_open else {
                "by": alert.resolved_by, "note": alert.resolution_note,
                "at": alert.resolved_at.isoformat() if alert.resolved_at else "",
                "str_reference": alert.str_reference},
            "history": [{"action": s.action, "by": s.by, "at": s.at.isoformat(),
                         "note": s.note} for s in alert.history],
            "evidence": list(alert.evidence),
            "transactions": [_trade(t) for t in trades.values()],
            "parties": [_party(p) for p in parties.values() if isinstance(p, Participant)],
        })
    body = {"format": STR_FORMAT, "generated_at": generated_at.isoformat(),
            "reporting_officer": reporting_officer, "cases": cases}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    body["digest"] = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    return (json.dumps(body, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()

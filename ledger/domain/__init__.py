"""Aggregates of the one global log (DESIGN.md §3), one module per concept."""

from ledger.domain.alert import Alert
from ledger.domain.envelope import Envelope
from ledger.domain.licence import ExchangeLicence, Licence, MiningLicence
from ledger.domain.meter_reading import MeterReading
from ledger.domain.outflow import OutflowAccount
from ledger.domain.output_report import OutputReport
from ledger.domain.participant import Participant, ParticipantKind
from ledger.domain.policy import Policy
from ledger.domain.proof_batch import ProofBatch
from ledger.domain.reconciliation import Reconciliation
from ledger.domain.trade import Trade, TradeRequest, WalletKind

__all__ = [
    "Alert",
    "Envelope",
    "ExchangeLicence",
    "Licence",
    "MeterReading",
    "MiningLicence",
    "OutflowAccount",
    "OutputReport",
    "Participant",
    "ParticipantKind",
    "Policy",
    "ProofBatch",
    "Reconciliation",
    "Trade",
    "TradeRequest",
    "WalletKind",
]

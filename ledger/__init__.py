"""The ledger: domain model, use cases and the one global eventsourcing application.

This is the ledger's public surface: the services (and any other client of the ledger)
import from ``ledger`` alone, never from its modules; a test keeps it so. The modules
behind it are the ledger's own business (one per concept: ``ledger.licensing``,
``ledger.trading``, ``ledger.proofs`` … and ``ledger.audit`` for the audit log).
"""

from ledger.application import Ledger
from ledger.audit.export import ExportFormatError, read_export, write_export
from ledger.audit.faults import FaultKind
from ledger.audit.follower import AuditIntegrityError, CheckpointPolicy, Companion, Follower
from ledger.audit.follower_process import FollowerPlace, FollowerProcess, FollowerSettings
from ledger.audit.log import AuditLog, parse_event_ref
from ledger.audit.proof_bundle import ProofBundleError, verify_bundle
from ledger.audit.replay import Replayer, default_checks
from ledger.audit.restore import ExportCheck, check_empty, check_export, restore_export
from ledger.audit.store import AuditStoreError, StoredCheckpoint
from ledger.audit.stream import database_stream
from ledger.audit.verify import StreamVerifier, VerifyReport
from ledger.audit.witnessing import WitnessPolicy, WitnessPolicyError, load_witness_policy
from ledger.audit.workers import cpu_count
from ledger.clock import Clock, ManualClock, system_clock
from ledger.config import (
    CIPHER_KEY_ENV,
    CIPHER_KEY_FILE_ENV,
    DB_URL_ENV,
    DEFAULT_DB_URL,
    ConfigurationError,
    StoreConfig,
    display_url,
    persistence_env,
)
from ledger.domain.alert import Alert, AlertState, Severity
from ledger.domain.country import is_country_code
from ledger.domain.envelope import Envelope, signed_bytes
from ledger.domain.licence import ExchangeLicence, Licence, MiningLicence, hashrate_cap_ths
from ledger.domain.participant import Participant, ParticipantKind
from ledger.domain.policy import HOME_COUNTRY, POLICY_ID, Policy, PolicyView, is_observation
from ledger.domain.pool import PAYOUT_SCHEMES, MiningPool
from ledger.domain.reconciliation import Reconciliation
from ledger.domain.trade import Trade, TradeRequest, WalletKind
from ledger.domain.travel_rule import missing_data, travel_rule_from_record
from ledger.domain.vasp import Vasp
from ledger.errors import (
    CheckpointNotSigned,
    Contention,
    EnvelopeRefused,
    InvalidRequest,
    LedgerError,
    NotFound,
    RequestIdReused,
    RuleViolation,
    StoreError,
    StoreKeyError,
    StoreUnavailable,
)
from ledger.history import HistoryIndex, HistoryQuery, HistoryRecord
from ledger.keys import EnvelopeVerifier, Signed
from ledger.lifetime import die_with_parent
from ledger.proof_payloads import PROTO_BATCH_PAYLOAD_TYPE, pack_proof_batch
from ledger.receipts import ProofReceipt, Receipt, TradeReceipt, TradeStatus
from ledger.requests import GRID, REGULATOR, participant_requester
from ledger.signatures import SignatureChecker, default_workers
from ledger.supervision import DEFAULT_INTERVAL_SECONDS as DEFAULT_CALENDAR_INTERVAL_SECONDS
from ledger.supervision import CalendarRun, SupervisoryCalendar
from ledger.trading import TradeBlocked

__all__ = [
    "CIPHER_KEY_ENV",
    "CIPHER_KEY_FILE_ENV",
    "DB_URL_ENV",
    "DEFAULT_CALENDAR_INTERVAL_SECONDS",
    "DEFAULT_DB_URL",
    "GRID",
    "HOME_COUNTRY",
    "PAYOUT_SCHEMES",
    "POLICY_ID",
    "PROTO_BATCH_PAYLOAD_TYPE",
    "REGULATOR",
    "Alert",
    "AlertState",
    "AuditIntegrityError",
    "AuditLog",
    "AuditStoreError",
    "CalendarRun",
    "CheckpointNotSigned",
    "CheckpointPolicy",
    "Clock",
    "Companion",
    "ConfigurationError",
    "Contention",
    "Envelope",
    "EnvelopeRefused",
    "EnvelopeVerifier",
    "ExchangeLicence",
    "ExportCheck",
    "ExportFormatError",
    "FaultKind",
    "Follower",
    "FollowerPlace",
    "FollowerProcess",
    "FollowerSettings",
    "HistoryIndex",
    "HistoryQuery",
    "HistoryRecord",
    "InvalidRequest",
    "Ledger",
    "LedgerError",
    "Licence",
    "ManualClock",
    "MiningLicence",
    "MiningPool",
    "NotFound",
    "Participant",
    "ParticipantKind",
    "Policy",
    "PolicyView",
    "ProofBundleError",
    "ProofReceipt",
    "Receipt",
    "Reconciliation",
    "Replayer",
    "RequestIdReused",
    "RuleViolation",
    "Severity",
    "SignatureChecker",
    "Signed",
    "StoreConfig",
    "StoreError",
    "StoreKeyError",
    "StoreUnavailable",
    "StoredCheckpoint",
    "StreamVerifier",
    "SupervisoryCalendar",
    "Trade",
    "TradeBlocked",
    "TradeReceipt",
    "TradeRequest",
    "TradeStatus",
    "Vasp",
    "VerifyReport",
    "WalletKind",
    "WitnessPolicy",
    "WitnessPolicyError",
    "check_empty",
    "check_export",
    "cpu_count",
    "database_stream",
    "default_checks",
    "default_workers",
    "die_with_parent",
    "display_url",
    "hashrate_cap_ths",
    "is_country_code",
    "is_observation",
    "load_witness_policy",
    "missing_data",
    "pack_proof_batch",
    "parse_event_ref",
    "participant_requester",
    "persistence_env",
    "read_export",
    "restore_export",
    "signed_bytes",
    "system_clock",
    "travel_rule_from_record",
    "verify_bundle",
    "write_export",
]

import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from services.generated.valedger.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ShareVerdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SHARE_VERDICT_UNSPECIFIED: _ClassVar[ShareVerdict]
    SHARE_VERDICT_ACCEPTED: _ClassVar[ShareVerdict]
    SHARE_VERDICT_LOW_DIFFICULTY: _ClassVar[ShareVerdict]
    SHARE_VERDICT_DUPLICATE: _ClassVar[ShareVerdict]
    SHARE_VERDICT_UNKNOWN_JOB: _ClassVar[ShareVerdict]
    SHARE_VERDICT_NTIME_OUT_OF_RANGE: _ClassVar[ShareVerdict]
    SHARE_VERDICT_BAD_VERSION_BITS: _ClassVar[ShareVerdict]
    SHARE_VERDICT_BAD_EXTRANONCE2_SIZE: _ClassVar[ShareVerdict]
    SHARE_VERDICT_UNTAGGED_COINBASE: _ClassVar[ShareVerdict]
    SHARE_VERDICT_FOREIGN_COINBASE_TAG: _ClassVar[ShareVerdict]
    SHARE_VERDICT_LICENCE_NOT_ACTIVE: _ClassVar[ShareVerdict]

class ReconciliationVerdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECONCILIATION_VERDICT_UNSPECIFIED: _ClassVar[ReconciliationVerdict]
    RECONCILIATION_VERDICT_OK: _ClassVar[ReconciliationVerdict]
    RECONCILIATION_VERDICT_OVER_CAPACITY: _ClassVar[ReconciliationVerdict]
    RECONCILIATION_VERDICT_OUTPUT_UNDER_REPORTED: _ClassVar[ReconciliationVerdict]
    RECONCILIATION_VERDICT_OUTPUT_OVER_REPORTED: _ClassVar[ReconciliationVerdict]
    RECONCILIATION_VERDICT_ENERGY_OVER_QUOTA: _ClassVar[ReconciliationVerdict]
    RECONCILIATION_VERDICT_IMPLAUSIBLE_EFFICIENCY: _ClassVar[ReconciliationVerdict]
    RECONCILIATION_VERDICT_REPORT_MISSING: _ClassVar[ReconciliationVerdict]
    RECONCILIATION_VERDICT_SALE_SHARE_SHORTFALL: _ClassVar[ReconciliationVerdict]
    RECONCILIATION_VERDICT_MINED_WHILE_NOT_ACTIVE: _ClassVar[ReconciliationVerdict]
SHARE_VERDICT_UNSPECIFIED: ShareVerdict
SHARE_VERDICT_ACCEPTED: ShareVerdict
SHARE_VERDICT_LOW_DIFFICULTY: ShareVerdict
SHARE_VERDICT_DUPLICATE: ShareVerdict
SHARE_VERDICT_UNKNOWN_JOB: ShareVerdict
SHARE_VERDICT_NTIME_OUT_OF_RANGE: ShareVerdict
SHARE_VERDICT_BAD_VERSION_BITS: ShareVerdict
SHARE_VERDICT_BAD_EXTRANONCE2_SIZE: ShareVerdict
SHARE_VERDICT_UNTAGGED_COINBASE: ShareVerdict
SHARE_VERDICT_FOREIGN_COINBASE_TAG: ShareVerdict
SHARE_VERDICT_LICENCE_NOT_ACTIVE: ShareVerdict
RECONCILIATION_VERDICT_UNSPECIFIED: ReconciliationVerdict
RECONCILIATION_VERDICT_OK: ReconciliationVerdict
RECONCILIATION_VERDICT_OVER_CAPACITY: ReconciliationVerdict
RECONCILIATION_VERDICT_OUTPUT_UNDER_REPORTED: ReconciliationVerdict
RECONCILIATION_VERDICT_OUTPUT_OVER_REPORTED: ReconciliationVerdict
RECONCILIATION_VERDICT_ENERGY_OVER_QUOTA: ReconciliationVerdict
RECONCILIATION_VERDICT_IMPLAUSIBLE_EFFICIENCY: ReconciliationVerdict
RECONCILIATION_VERDICT_REPORT_MISSING: ReconciliationVerdict
RECONCILIATION_VERDICT_SALE_SHARE_SHORTFALL: ReconciliationVerdict
RECONCILIATION_VERDICT_MINED_WHILE_NOT_ACTIVE: ReconciliationVerdict

class StratumJob(_message.Message):
    __slots__ = ("job_id", "version", "prevhash", "coinb1", "coinb2", "extranonce1", "extranonce2_size", "merkle_branch", "nbits", "ntime", "version_mask", "share_difficulty")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PREVHASH_FIELD_NUMBER: _ClassVar[int]
    COINB1_FIELD_NUMBER: _ClassVar[int]
    COINB2_FIELD_NUMBER: _ClassVar[int]
    EXTRANONCE1_FIELD_NUMBER: _ClassVar[int]
    EXTRANONCE2_SIZE_FIELD_NUMBER: _ClassVar[int]
    MERKLE_BRANCH_FIELD_NUMBER: _ClassVar[int]
    NBITS_FIELD_NUMBER: _ClassVar[int]
    NTIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_MASK_FIELD_NUMBER: _ClassVar[int]
    SHARE_DIFFICULTY_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    version: int
    prevhash: bytes
    coinb1: bytes
    coinb2: bytes
    extranonce1: bytes
    extranonce2_size: int
    merkle_branch: _containers.RepeatedScalarFieldContainer[bytes]
    nbits: int
    ntime: int
    version_mask: int
    share_difficulty: str
    def __init__(self, job_id: _Optional[str] = ..., version: _Optional[int] = ..., prevhash: _Optional[bytes] = ..., coinb1: _Optional[bytes] = ..., coinb2: _Optional[bytes] = ..., extranonce1: _Optional[bytes] = ..., extranonce2_size: _Optional[int] = ..., merkle_branch: _Optional[_Iterable[bytes]] = ..., nbits: _Optional[int] = ..., ntime: _Optional[int] = ..., version_mask: _Optional[int] = ..., share_difficulty: _Optional[str] = ...) -> None: ...

class StratumShare(_message.Message):
    __slots__ = ("job_id", "extranonce2", "ntime", "nonce", "version_bits")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    EXTRANONCE2_FIELD_NUMBER: _ClassVar[int]
    NTIME_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    VERSION_BITS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    extranonce2: bytes
    ntime: int
    nonce: int
    version_bits: int
    def __init__(self, job_id: _Optional[str] = ..., extranonce2: _Optional[bytes] = ..., ntime: _Optional[int] = ..., nonce: _Optional[int] = ..., version_bits: _Optional[int] = ...) -> None: ...

class ProofBatchPayload(_message.Message):
    __slots__ = ("request_id", "at", "licence_id", "jobs", "shares", "packed_batch")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    LICENCE_ID_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    SHARES_FIELD_NUMBER: _ClassVar[int]
    PACKED_BATCH_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    licence_id: str
    jobs: _containers.RepeatedCompositeFieldContainer[StratumJob]
    shares: _containers.RepeatedCompositeFieldContainer[StratumShare]
    packed_batch: bytes
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., licence_id: _Optional[str] = ..., jobs: _Optional[_Iterable[_Union[StratumJob, _Mapping]]] = ..., shares: _Optional[_Iterable[_Union[StratumShare, _Mapping]]] = ..., packed_batch: _Optional[bytes] = ...) -> None: ...

class VerdictCount(_message.Message):
    __slots__ = ("verdict", "count")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    verdict: ShareVerdict
    count: int
    def __init__(self, verdict: _Optional[_Union[ShareVerdict, str]] = ..., count: _Optional[int] = ...) -> None: ...

class SubmitProofBatchRequest(_message.Message):
    __slots__ = ("envelope",)
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.SignedEnvelope
    def __init__(self, envelope: _Optional[_Union[_common_pb2.SignedEnvelope, _Mapping]] = ...) -> None: ...

class SubmitProofBatchResponse(_message.Message):
    __slots__ = ("receipt", "verdict_counts", "accepted_work", "block_candidates", "backend", "batch_digest")
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    VERDICT_COUNTS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_WORK_FIELD_NUMBER: _ClassVar[int]
    BLOCK_CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    BATCH_DIGEST_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    verdict_counts: _containers.RepeatedCompositeFieldContainer[VerdictCount]
    accepted_work: str
    block_candidates: int
    backend: str
    batch_digest: str
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ..., verdict_counts: _Optional[_Iterable[_Union[VerdictCount, _Mapping]]] = ..., accepted_work: _Optional[str] = ..., block_candidates: _Optional[int] = ..., backend: _Optional[str] = ..., batch_digest: _Optional[str] = ...) -> None: ...

class OutputReportPayload(_message.Message):
    __slots__ = ("request_id", "at", "licence_id", "period", "asset", "amount", "wallets", "sold_through_exchange_amount")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    LICENCE_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    WALLETS_FIELD_NUMBER: _ClassVar[int]
    SOLD_THROUGH_EXCHANGE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    licence_id: str
    period: _common_pb2.Period
    asset: str
    amount: str
    wallets: _containers.RepeatedScalarFieldContainer[str]
    sold_through_exchange_amount: str
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., licence_id: _Optional[str] = ..., period: _Optional[_Union[_common_pb2.Period, _Mapping]] = ..., asset: _Optional[str] = ..., amount: _Optional[str] = ..., wallets: _Optional[_Iterable[str]] = ..., sold_through_exchange_amount: _Optional[str] = ...) -> None: ...

class ReportOutputRequest(_message.Message):
    __slots__ = ("envelope",)
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.SignedEnvelope
    def __init__(self, envelope: _Optional[_Union[_common_pb2.SignedEnvelope, _Mapping]] = ...) -> None: ...

class ReportOutputResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class RecordMeterReadingRequest(_message.Message):
    __slots__ = ("request_id", "at", "meter_id", "period", "kwh")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    METER_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    KWH_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    meter_id: str
    period: _common_pb2.Period
    kwh: str
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., meter_id: _Optional[str] = ..., period: _Optional[_Union[_common_pb2.Period, _Mapping]] = ..., kwh: _Optional[str] = ...) -> None: ...

class RecordMeterReadingResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class VerdictFinding(_message.Message):
    __slots__ = ("verdict", "figures", "p_value")
    class FiguresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    verdict: ReconciliationVerdict
    figures: _containers.ScalarMap[str, str]
    p_value: str
    def __init__(self, verdict: _Optional[_Union[ReconciliationVerdict, str]] = ..., figures: _Optional[_Mapping[str, str]] = ..., p_value: _Optional[str] = ...) -> None: ...

class Reconciliation(_message.Message):
    __slots__ = ("reconciliation_id", "licence_id", "period", "figures", "findings", "version")
    class FiguresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RECONCILIATION_ID_FIELD_NUMBER: _ClassVar[int]
    LICENCE_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    reconciliation_id: str
    licence_id: str
    period: _common_pb2.Period
    figures: _containers.ScalarMap[str, str]
    findings: _containers.RepeatedCompositeFieldContainer[VerdictFinding]
    version: int
    def __init__(self, reconciliation_id: _Optional[str] = ..., licence_id: _Optional[str] = ..., period: _Optional[_Union[_common_pb2.Period, _Mapping]] = ..., figures: _Optional[_Mapping[str, str]] = ..., findings: _Optional[_Iterable[_Union[VerdictFinding, _Mapping]]] = ..., version: _Optional[int] = ...) -> None: ...

class CloseReconciliationRequest(_message.Message):
    __slots__ = ("request_id", "at", "licence_id", "period")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    LICENCE_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    licence_id: str
    period: _common_pb2.Period
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., licence_id: _Optional[str] = ..., period: _Optional[_Union[_common_pb2.Period, _Mapping]] = ...) -> None: ...

class CloseReconciliationResponse(_message.Message):
    __slots__ = ("receipt", "reconciliation")
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    RECONCILIATION_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    reconciliation: Reconciliation
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ..., reconciliation: _Optional[_Union[Reconciliation, _Mapping]] = ...) -> None: ...

class GetReconciliationRequest(_message.Message):
    __slots__ = ("licence_id", "period")
    LICENCE_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    licence_id: str
    period: _common_pb2.Period
    def __init__(self, licence_id: _Optional[str] = ..., period: _Optional[_Union[_common_pb2.Period, _Mapping]] = ...) -> None: ...

class GetReconciliationResponse(_message.Message):
    __slots__ = ("reconciliation",)
    RECONCILIATION_FIELD_NUMBER: _ClassVar[int]
    reconciliation: Reconciliation
    def __init__(self, reconciliation: _Optional[_Union[Reconciliation, _Mapping]] = ...) -> None: ...

class MiningPool(_message.Message):
    __slots__ = ("pool_id", "name", "country", "payout_scheme", "fee", "version")
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    PAYOUT_SCHEME_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    pool_id: str
    name: str
    country: str
    payout_scheme: str
    fee: str
    version: int
    def __init__(self, pool_id: _Optional[str] = ..., name: _Optional[str] = ..., country: _Optional[str] = ..., payout_scheme: _Optional[str] = ..., fee: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class RegisterPoolRequest(_message.Message):
    __slots__ = ("request_id", "at", "name", "country", "payout_scheme", "fee")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    PAYOUT_SCHEME_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    name: str
    country: str
    payout_scheme: str
    fee: str
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., name: _Optional[str] = ..., country: _Optional[str] = ..., payout_scheme: _Optional[str] = ..., fee: _Optional[str] = ...) -> None: ...

class RegisterPoolResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class ListPoolsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPoolsResponse(_message.Message):
    __slots__ = ("pools",)
    POOLS_FIELD_NUMBER: _ClassVar[int]
    pools: _containers.RepeatedCompositeFieldContainer[MiningPool]
    def __init__(self, pools: _Optional[_Iterable[_Union[MiningPool, _Mapping]]] = ...) -> None: ...

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

class LicenceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LICENCE_KIND_UNSPECIFIED: _ClassVar[LicenceKind]
    LICENCE_KIND_MINING: _ClassVar[LicenceKind]
    LICENCE_KIND_EXCHANGE: _ClassVar[LicenceKind]

class LicenceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LICENCE_STATUS_UNSPECIFIED: _ClassVar[LicenceStatus]
    LICENCE_STATUS_ACTIVE: _ClassVar[LicenceStatus]
    LICENCE_STATUS_SUSPENDED: _ClassVar[LicenceStatus]
    LICENCE_STATUS_REVOKED: _ClassVar[LicenceStatus]
    LICENCE_STATUS_EXPIRED: _ClassVar[LicenceStatus]
    LICENCE_STATUS_PENDING: _ClassVar[LicenceStatus]

class MiningMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MINING_MODE_UNSPECIFIED: _ClassVar[MiningMode]
    MINING_MODE_SOLO: _ClassVar[MiningMode]
    MINING_MODE_POOL: _ClassVar[MiningMode]
LICENCE_KIND_UNSPECIFIED: LicenceKind
LICENCE_KIND_MINING: LicenceKind
LICENCE_KIND_EXCHANGE: LicenceKind
LICENCE_STATUS_UNSPECIFIED: LicenceStatus
LICENCE_STATUS_ACTIVE: LicenceStatus
LICENCE_STATUS_SUSPENDED: LicenceStatus
LICENCE_STATUS_REVOKED: LicenceStatus
LICENCE_STATUS_EXPIRED: LicenceStatus
LICENCE_STATUS_PENDING: LicenceStatus
MINING_MODE_UNSPECIFIED: MiningMode
MINING_MODE_SOLO: MiningMode
MINING_MODE_POOL: MiningMode

class Participant(_message.Message):
    __slots__ = ("participant_id", "kind", "legal_name", "tax_id", "country", "beneficial_owners", "offshore_links", "status", "keys", "version")
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LEGAL_NAME_FIELD_NUMBER: _ClassVar[int]
    TAX_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    BENEFICIAL_OWNERS_FIELD_NUMBER: _ClassVar[int]
    OFFSHORE_LINKS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    participant_id: str
    kind: _common_pb2.ParticipantKind
    legal_name: str
    tax_id: str
    country: str
    beneficial_owners: _containers.RepeatedScalarFieldContainer[str]
    offshore_links: _containers.RepeatedScalarFieldContainer[str]
    status: str
    keys: _containers.RepeatedCompositeFieldContainer[SigningKey]
    version: int
    def __init__(self, participant_id: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.ParticipantKind, str]] = ..., legal_name: _Optional[str] = ..., tax_id: _Optional[str] = ..., country: _Optional[str] = ..., beneficial_owners: _Optional[_Iterable[str]] = ..., offshore_links: _Optional[_Iterable[str]] = ..., status: _Optional[str] = ..., keys: _Optional[_Iterable[_Union[SigningKey, _Mapping]]] = ..., version: _Optional[int] = ...) -> None: ...

class SigningKey(_message.Message):
    __slots__ = ("key_id", "public_key", "revoked")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    public_key: bytes
    revoked: bool
    def __init__(self, key_id: _Optional[str] = ..., public_key: _Optional[bytes] = ..., revoked: _Optional[bool] = ...) -> None: ...

class RegisterParticipantRequest(_message.Message):
    __slots__ = ("request_id", "at", "kind", "legal_name", "tax_id", "country", "beneficial_owners", "offshore_links")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LEGAL_NAME_FIELD_NUMBER: _ClassVar[int]
    TAX_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    BENEFICIAL_OWNERS_FIELD_NUMBER: _ClassVar[int]
    OFFSHORE_LINKS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    kind: _common_pb2.ParticipantKind
    legal_name: str
    tax_id: str
    country: str
    beneficial_owners: _containers.RepeatedScalarFieldContainer[str]
    offshore_links: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[_Union[_common_pb2.ParticipantKind, str]] = ..., legal_name: _Optional[str] = ..., tax_id: _Optional[str] = ..., country: _Optional[str] = ..., beneficial_owners: _Optional[_Iterable[str]] = ..., offshore_links: _Optional[_Iterable[str]] = ...) -> None: ...

class RegisterParticipantResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class ApproveParticipantRequest(_message.Message):
    __slots__ = ("request_id", "at", "participant_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    participant_id: str
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., participant_id: _Optional[str] = ...) -> None: ...

class ApproveParticipantResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class RegisterKeyRequest(_message.Message):
    __slots__ = ("request_id", "at", "participant_id", "key_id", "public_key")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    participant_id: str
    key_id: str
    public_key: bytes
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., participant_id: _Optional[str] = ..., key_id: _Optional[str] = ..., public_key: _Optional[bytes] = ...) -> None: ...

class RegisterKeyResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class RevokeKeyRequest(_message.Message):
    __slots__ = ("request_id", "at", "participant_id", "key_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    participant_id: str
    key_id: str
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., participant_id: _Optional[str] = ..., key_id: _Optional[str] = ...) -> None: ...

class RevokeKeyResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class GetParticipantRequest(_message.Message):
    __slots__ = ("participant_id",)
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    participant_id: str
    def __init__(self, participant_id: _Optional[str] = ...) -> None: ...

class GetParticipantResponse(_message.Message):
    __slots__ = ("participant",)
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    participant: Participant
    def __init__(self, participant: _Optional[_Union[Participant, _Mapping]] = ...) -> None: ...

class Site(_message.Message):
    __slots__ = ("region", "grid_zone", "meter_id")
    REGION_FIELD_NUMBER: _ClassVar[int]
    GRID_ZONE_FIELD_NUMBER: _ClassVar[int]
    METER_ID_FIELD_NUMBER: _ClassVar[int]
    region: str
    grid_zone: str
    meter_id: str
    def __init__(self, region: _Optional[str] = ..., grid_zone: _Optional[str] = ..., meter_id: _Optional[str] = ...) -> None: ...

class MiningTerms(_message.Message):
    __slots__ = ("site", "licensed_power_mw", "declared_efficiency_j_per_th", "hashrate_cap_th_per_s", "coinbase_tags", "mode", "pool_id")
    SITE_FIELD_NUMBER: _ClassVar[int]
    LICENSED_POWER_MW_FIELD_NUMBER: _ClassVar[int]
    DECLARED_EFFICIENCY_J_PER_TH_FIELD_NUMBER: _ClassVar[int]
    HASHRATE_CAP_TH_PER_S_FIELD_NUMBER: _ClassVar[int]
    COINBASE_TAGS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    site: Site
    licensed_power_mw: str
    declared_efficiency_j_per_th: str
    hashrate_cap_th_per_s: str
    coinbase_tags: _containers.RepeatedScalarFieldContainer[bytes]
    mode: MiningMode
    pool_id: str
    def __init__(self, site: _Optional[_Union[Site, _Mapping]] = ..., licensed_power_mw: _Optional[str] = ..., declared_efficiency_j_per_th: _Optional[str] = ..., hashrate_cap_th_per_s: _Optional[str] = ..., coinbase_tags: _Optional[_Iterable[bytes]] = ..., mode: _Optional[_Union[MiningMode, str]] = ..., pool_id: _Optional[str] = ...) -> None: ...

class ExchangeTerms(_message.Message):
    __slots__ = ("services",)
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, services: _Optional[_Iterable[str]] = ...) -> None: ...

class Licence(_message.Message):
    __slots__ = ("licence_id", "kind", "participant_id", "status", "valid_from", "valid_until", "status_reason", "version", "renewal_of", "renewed_by", "mining", "exchange")
    LICENCE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RENEWAL_OF_FIELD_NUMBER: _ClassVar[int]
    RENEWED_BY_FIELD_NUMBER: _ClassVar[int]
    MINING_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_FIELD_NUMBER: _ClassVar[int]
    licence_id: str
    kind: LicenceKind
    participant_id: str
    status: LicenceStatus
    valid_from: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    status_reason: str
    version: int
    renewal_of: str
    renewed_by: str
    mining: MiningTerms
    exchange: ExchangeTerms
    def __init__(self, licence_id: _Optional[str] = ..., kind: _Optional[_Union[LicenceKind, str]] = ..., participant_id: _Optional[str] = ..., status: _Optional[_Union[LicenceStatus, str]] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status_reason: _Optional[str] = ..., version: _Optional[int] = ..., renewal_of: _Optional[str] = ..., renewed_by: _Optional[str] = ..., mining: _Optional[_Union[MiningTerms, _Mapping]] = ..., exchange: _Optional[_Union[ExchangeTerms, _Mapping]] = ...) -> None: ...

class GrantMiningLicenceRequest(_message.Message):
    __slots__ = ("request_id", "at", "participant_id", "site", "licensed_power_mw", "declared_efficiency_j_per_th", "coinbase_tags", "valid_from", "valid_until", "mode", "pool_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    SITE_FIELD_NUMBER: _ClassVar[int]
    LICENSED_POWER_MW_FIELD_NUMBER: _ClassVar[int]
    DECLARED_EFFICIENCY_J_PER_TH_FIELD_NUMBER: _ClassVar[int]
    COINBASE_TAGS_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    participant_id: str
    site: Site
    licensed_power_mw: str
    declared_efficiency_j_per_th: str
    coinbase_tags: _containers.RepeatedScalarFieldContainer[bytes]
    valid_from: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    mode: MiningMode
    pool_id: str
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., participant_id: _Optional[str] = ..., site: _Optional[_Union[Site, _Mapping]] = ..., licensed_power_mw: _Optional[str] = ..., declared_efficiency_j_per_th: _Optional[str] = ..., coinbase_tags: _Optional[_Iterable[bytes]] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., mode: _Optional[_Union[MiningMode, str]] = ..., pool_id: _Optional[str] = ...) -> None: ...

class GrantMiningLicenceResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class AmendMiningCapacityRequest(_message.Message):
    __slots__ = ("request_id", "at", "licence_id", "licensed_power_mw", "declared_efficiency_j_per_th", "effective_from")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    LICENCE_ID_FIELD_NUMBER: _ClassVar[int]
    LICENSED_POWER_MW_FIELD_NUMBER: _ClassVar[int]
    DECLARED_EFFICIENCY_J_PER_TH_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    licence_id: str
    licensed_power_mw: str
    declared_efficiency_j_per_th: str
    effective_from: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., licence_id: _Optional[str] = ..., licensed_power_mw: _Optional[str] = ..., declared_efficiency_j_per_th: _Optional[str] = ..., effective_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AmendMiningCapacityResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class GrantExchangeLicenceRequest(_message.Message):
    __slots__ = ("request_id", "at", "participant_id", "services", "valid_from", "valid_until")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    participant_id: str
    services: _containers.RepeatedScalarFieldContainer[str]
    valid_from: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., participant_id: _Optional[str] = ..., services: _Optional[_Iterable[str]] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GrantExchangeLicenceResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class SuspendLicenceRequest(_message.Message):
    __slots__ = ("request_id", "at", "licence_id", "reason", "until")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    LICENCE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    licence_id: str
    reason: str
    until: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., licence_id: _Optional[str] = ..., reason: _Optional[str] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SuspendParticipantRequest(_message.Message):
    __slots__ = ("request_id", "at", "participant_id", "reason", "until")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    participant_id: str
    reason: str
    until: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., participant_id: _Optional[str] = ..., reason: _Optional[str] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SuspendParticipantResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class ReinstateParticipantRequest(_message.Message):
    __slots__ = ("request_id", "at", "participant_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    participant_id: str
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., participant_id: _Optional[str] = ...) -> None: ...

class ReinstateParticipantResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class DeregisterParticipantRequest(_message.Message):
    __slots__ = ("request_id", "at", "participant_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    participant_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., participant_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DeregisterParticipantResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class SuspendLicenceResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class ReinstateLicenceRequest(_message.Message):
    __slots__ = ("request_id", "at", "licence_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    LICENCE_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    licence_id: str
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., licence_id: _Optional[str] = ...) -> None: ...

class ReinstateLicenceResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class RevokeLicenceRequest(_message.Message):
    __slots__ = ("request_id", "at", "licence_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    LICENCE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    licence_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., licence_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeLicenceResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class RenewLicenceRequest(_message.Message):
    __slots__ = ("request_id", "at", "licence_id", "valid_until")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    LICENCE_ID_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    licence_id: str
    valid_until: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., licence_id: _Optional[str] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RenewLicenceResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class GetLicenceRequest(_message.Message):
    __slots__ = ("licence_id",)
    LICENCE_ID_FIELD_NUMBER: _ClassVar[int]
    licence_id: str
    def __init__(self, licence_id: _Optional[str] = ...) -> None: ...

class GetLicenceResponse(_message.Message):
    __slots__ = ("licence",)
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    licence: Licence
    def __init__(self, licence: _Optional[_Union[Licence, _Mapping]] = ...) -> None: ...

class ListLicencesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "participant_id", "kind", "status")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    participant_id: str
    kind: LicenceKind
    status: LicenceStatus
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., participant_id: _Optional[str] = ..., kind: _Optional[_Union[LicenceKind, str]] = ..., status: _Optional[_Union[LicenceStatus, str]] = ...) -> None: ...

class ListLicencesResponse(_message.Message):
    __slots__ = ("licences", "next_page_token")
    LICENCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    licences: _containers.RepeatedCompositeFieldContainer[Licence]
    next_page_token: str
    def __init__(self, licences: _Optional[_Iterable[_Union[Licence, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Vasp(_message.Message):
    __slots__ = ("vasp_id", "name", "country", "licence_id", "foreign_registration", "travel_rule_endpoint", "registered_at", "suspended", "version")
    VASP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    LICENCE_ID_FIELD_NUMBER: _ClassVar[int]
    FOREIGN_REGISTRATION_FIELD_NUMBER: _ClassVar[int]
    TRAVEL_RULE_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    SUSPENDED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    vasp_id: str
    name: str
    country: str
    licence_id: str
    foreign_registration: str
    travel_rule_endpoint: str
    registered_at: _timestamp_pb2.Timestamp
    suspended: bool
    version: int
    def __init__(self, vasp_id: _Optional[str] = ..., name: _Optional[str] = ..., country: _Optional[str] = ..., licence_id: _Optional[str] = ..., foreign_registration: _Optional[str] = ..., travel_rule_endpoint: _Optional[str] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., suspended: _Optional[bool] = ..., version: _Optional[int] = ...) -> None: ...

class RegisterVaspRequest(_message.Message):
    __slots__ = ("request_id", "at", "name", "country", "licence_id", "foreign_registration", "travel_rule_endpoint")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    LICENCE_ID_FIELD_NUMBER: _ClassVar[int]
    FOREIGN_REGISTRATION_FIELD_NUMBER: _ClassVar[int]
    TRAVEL_RULE_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    name: str
    country: str
    licence_id: str
    foreign_registration: str
    travel_rule_endpoint: str
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., name: _Optional[str] = ..., country: _Optional[str] = ..., licence_id: _Optional[str] = ..., foreign_registration: _Optional[str] = ..., travel_rule_endpoint: _Optional[str] = ...) -> None: ...

class RegisterVaspResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class SuspendVaspRequest(_message.Message):
    __slots__ = ("request_id", "at", "vasp_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    VASP_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    vasp_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., vasp_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SuspendVaspResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class ListVaspsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "country")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    country: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., country: _Optional[str] = ...) -> None: ...

class ListVaspsResponse(_message.Message):
    __slots__ = ("vasps", "next_page_token")
    VASPS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    vasps: _containers.RepeatedCompositeFieldContainer[Vasp]
    next_page_token: str
    def __init__(self, vasps: _Optional[_Iterable[_Union[Vasp, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

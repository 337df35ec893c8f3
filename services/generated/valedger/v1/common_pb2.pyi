import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ParticipantKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARTICIPANT_KIND_UNSPECIFIED: _ClassVar[ParticipantKind]
    PARTICIPANT_KIND_ENTERPRISE: _ClassVar[ParticipantKind]
    PARTICIPANT_KIND_INDIVIDUAL: _ClassVar[ParticipantKind]

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    EVENT_TYPE_PARTICIPANT_REGISTERED: _ClassVar[EventType]
    EVENT_TYPE_PARTICIPANT_APPROVED: _ClassVar[EventType]
    EVENT_TYPE_PARTICIPANT_KEY_REGISTERED: _ClassVar[EventType]
    EVENT_TYPE_PARTICIPANT_KEY_REVOKED: _ClassVar[EventType]
    EVENT_TYPE_PARTICIPANT_SUSPENDED: _ClassVar[EventType]
    EVENT_TYPE_PARTICIPANT_REINSTATED: _ClassVar[EventType]
    EVENT_TYPE_PARTICIPANT_DEREGISTERED: _ClassVar[EventType]
    EVENT_TYPE_MINING_LICENCE_GRANTED: _ClassVar[EventType]
    EVENT_TYPE_MINING_LICENCE_CAPACITY_AMENDED: _ClassVar[EventType]
    EVENT_TYPE_MINING_LICENCE_SUSPENDED: _ClassVar[EventType]
    EVENT_TYPE_MINING_LICENCE_REINSTATED: _ClassVar[EventType]
    EVENT_TYPE_MINING_LICENCE_REVOKED: _ClassVar[EventType]
    EVENT_TYPE_MINING_LICENCE_EXPIRED: _ClassVar[EventType]
    EVENT_TYPE_EXCHANGE_LICENCE_GRANTED: _ClassVar[EventType]
    EVENT_TYPE_EXCHANGE_LICENCE_SUSPENDED: _ClassVar[EventType]
    EVENT_TYPE_EXCHANGE_LICENCE_REINSTATED: _ClassVar[EventType]
    EVENT_TYPE_EXCHANGE_LICENCE_REVOKED: _ClassVar[EventType]
    EVENT_TYPE_PROOF_BATCH_VERIFIED: _ClassVar[EventType]
    EVENT_TYPE_OUTPUT_REPORT_REPORTED: _ClassVar[EventType]
    EVENT_TYPE_METER_READING_RECORDED: _ClassVar[EventType]
    EVENT_TYPE_TRADE_RECORDED: _ClassVar[EventType]
    EVENT_TYPE_TRADE_BLOCKED: _ClassVar[EventType]
    EVENT_TYPE_ALERT_RAISED: _ClassVar[EventType]
    EVENT_TYPE_ALERT_RESOLVED: _ClassVar[EventType]
    EVENT_TYPE_RECONCILIATION_CLOSED: _ClassVar[EventType]
    EVENT_TYPE_POLICY_SET: _ClassVar[EventType]
    EVENT_TYPE_OTHER: _ClassVar[EventType]
    EVENT_TYPE_MINING_LICENCE_RENEWED: _ClassVar[EventType]
    EVENT_TYPE_EXCHANGE_LICENCE_RENEWED: _ClassVar[EventType]
    EVENT_TYPE_EXCHANGE_LICENCE_EXPIRED: _ClassVar[EventType]
PARTICIPANT_KIND_UNSPECIFIED: ParticipantKind
PARTICIPANT_KIND_ENTERPRISE: ParticipantKind
PARTICIPANT_KIND_INDIVIDUAL: ParticipantKind
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_PARTICIPANT_REGISTERED: EventType
EVENT_TYPE_PARTICIPANT_APPROVED: EventType
EVENT_TYPE_PARTICIPANT_KEY_REGISTERED: EventType
EVENT_TYPE_PARTICIPANT_KEY_REVOKED: EventType
EVENT_TYPE_PARTICIPANT_SUSPENDED: EventType
EVENT_TYPE_PARTICIPANT_REINSTATED: EventType
EVENT_TYPE_PARTICIPANT_DEREGISTERED: EventType
EVENT_TYPE_MINING_LICENCE_GRANTED: EventType
EVENT_TYPE_MINING_LICENCE_CAPACITY_AMENDED: EventType
EVENT_TYPE_MINING_LICENCE_SUSPENDED: EventType
EVENT_TYPE_MINING_LICENCE_REINSTATED: EventType
EVENT_TYPE_MINING_LICENCE_REVOKED: EventType
EVENT_TYPE_MINING_LICENCE_EXPIRED: EventType
EVENT_TYPE_EXCHANGE_LICENCE_GRANTED: EventType
EVENT_TYPE_EXCHANGE_LICENCE_SUSPENDED: EventType
EVENT_TYPE_EXCHANGE_LICENCE_REINSTATED: EventType
EVENT_TYPE_EXCHANGE_LICENCE_REVOKED: EventType
EVENT_TYPE_PROOF_BATCH_VERIFIED: EventType
EVENT_TYPE_OUTPUT_REPORT_REPORTED: EventType
EVENT_TYPE_METER_READING_RECORDED: EventType
EVENT_TYPE_TRADE_RECORDED: EventType
EVENT_TYPE_TRADE_BLOCKED: EventType
EVENT_TYPE_ALERT_RAISED: EventType
EVENT_TYPE_ALERT_RESOLVED: EventType
EVENT_TYPE_RECONCILIATION_CLOSED: EventType
EVENT_TYPE_POLICY_SET: EventType
EVENT_TYPE_OTHER: EventType
EVENT_TYPE_MINING_LICENCE_RENEWED: EventType
EVENT_TYPE_EXCHANGE_LICENCE_RENEWED: EventType
EVENT_TYPE_EXCHANGE_LICENCE_EXPIRED: EventType

class SignedEnvelope(_message.Message):
    __slots__ = ("payload", "payload_type", "signature", "key_id")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    payload_type: str
    signature: bytes
    key_id: str
    def __init__(self, payload: _Optional[bytes] = ..., payload_type: _Optional[str] = ..., signature: _Optional[bytes] = ..., key_id: _Optional[str] = ...) -> None: ...

class Receipt(_message.Message):
    __slots__ = ("aggregate_id", "version", "replayed")
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    aggregate_id: str
    version: int
    replayed: bool
    def __init__(self, aggregate_id: _Optional[str] = ..., version: _Optional[int] = ..., replayed: _Optional[bool] = ...) -> None: ...

class Period(_message.Message):
    __slots__ = ("start_time", "end_time")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

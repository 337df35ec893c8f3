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

class WalletKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WALLET_KIND_UNSPECIFIED: _ClassVar[WalletKind]
    WALLET_KIND_HOSTED: _ClassVar[WalletKind]
    WALLET_KIND_SELF_HOSTED: _ClassVar[WalletKind]

class TradeStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRADE_STATUS_UNSPECIFIED: _ClassVar[TradeStatus]
    TRADE_STATUS_RECORDED: _ClassVar[TradeStatus]
    TRADE_STATUS_BLOCKED: _ClassVar[TradeStatus]
WALLET_KIND_UNSPECIFIED: WalletKind
WALLET_KIND_HOSTED: WalletKind
WALLET_KIND_SELF_HOSTED: WalletKind
TRADE_STATUS_UNSPECIFIED: TradeStatus
TRADE_STATUS_RECORDED: TradeStatus
TRADE_STATUS_BLOCKED: TradeStatus

class PersonName(_message.Message):
    __slots__ = ("primary_identifier", "secondary_identifier", "name_identifier_type")
    PRIMARY_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    SECONDARY_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    NAME_IDENTIFIER_TYPE_FIELD_NUMBER: _ClassVar[int]
    primary_identifier: str
    secondary_identifier: str
    name_identifier_type: str
    def __init__(self, primary_identifier: _Optional[str] = ..., secondary_identifier: _Optional[str] = ..., name_identifier_type: _Optional[str] = ...) -> None: ...

class NationalIdentification(_message.Message):
    __slots__ = ("national_identifier", "national_identifier_type", "country_of_issue")
    NATIONAL_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    NATIONAL_IDENTIFIER_TYPE_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_OF_ISSUE_FIELD_NUMBER: _ClassVar[int]
    national_identifier: str
    national_identifier_type: str
    country_of_issue: str
    def __init__(self, national_identifier: _Optional[str] = ..., national_identifier_type: _Optional[str] = ..., country_of_issue: _Optional[str] = ...) -> None: ...

class Address(_message.Message):
    __slots__ = ("address_type", "street_name", "building_number", "post_code", "town_name", "country_sub_division", "country", "address_lines")
    ADDRESS_TYPE_FIELD_NUMBER: _ClassVar[int]
    STREET_NAME_FIELD_NUMBER: _ClassVar[int]
    BUILDING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    POST_CODE_FIELD_NUMBER: _ClassVar[int]
    TOWN_NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_SUB_DIVISION_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_LINES_FIELD_NUMBER: _ClassVar[int]
    address_type: str
    street_name: str
    building_number: str
    post_code: str
    town_name: str
    country_sub_division: str
    country: str
    address_lines: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, address_type: _Optional[str] = ..., street_name: _Optional[str] = ..., building_number: _Optional[str] = ..., post_code: _Optional[str] = ..., town_name: _Optional[str] = ..., country_sub_division: _Optional[str] = ..., country: _Optional[str] = ..., address_lines: _Optional[_Iterable[str]] = ...) -> None: ...

class Person(_message.Message):
    __slots__ = ("legal_person", "names", "national_identification", "customer_identification", "date_of_birth", "place_of_birth", "addresses", "country")
    LEGAL_PERSON_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    NATIONAL_IDENTIFICATION_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_IDENTIFICATION_FIELD_NUMBER: _ClassVar[int]
    DATE_OF_BIRTH_FIELD_NUMBER: _ClassVar[int]
    PLACE_OF_BIRTH_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    legal_person: bool
    names: _containers.RepeatedCompositeFieldContainer[PersonName]
    national_identification: NationalIdentification
    customer_identification: str
    date_of_birth: str
    place_of_birth: str
    addresses: _containers.RepeatedCompositeFieldContainer[Address]
    country: str
    def __init__(self, legal_person: _Optional[bool] = ..., names: _Optional[_Iterable[_Union[PersonName, _Mapping]]] = ..., national_identification: _Optional[_Union[NationalIdentification, _Mapping]] = ..., customer_identification: _Optional[str] = ..., date_of_birth: _Optional[str] = ..., place_of_birth: _Optional[str] = ..., addresses: _Optional[_Iterable[_Union[Address, _Mapping]]] = ..., country: _Optional[str] = ...) -> None: ...

class TravelRuleParty(_message.Message):
    __slots__ = ("persons", "account_numbers")
    PERSONS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    persons: _containers.RepeatedCompositeFieldContainer[Person]
    account_numbers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, persons: _Optional[_Iterable[_Union[Person, _Mapping]]] = ..., account_numbers: _Optional[_Iterable[str]] = ...) -> None: ...

class TravelRule(_message.Message):
    __slots__ = ("originator", "beneficiary", "originating_vasp", "beneficiary_vasp")
    ORIGINATOR_FIELD_NUMBER: _ClassVar[int]
    BENEFICIARY_FIELD_NUMBER: _ClassVar[int]
    ORIGINATING_VASP_FIELD_NUMBER: _ClassVar[int]
    BENEFICIARY_VASP_FIELD_NUMBER: _ClassVar[int]
    originator: TravelRuleParty
    beneficiary: TravelRuleParty
    originating_vasp: Person
    beneficiary_vasp: Person
    def __init__(self, originator: _Optional[_Union[TravelRuleParty, _Mapping]] = ..., beneficiary: _Optional[_Union[TravelRuleParty, _Mapping]] = ..., originating_vasp: _Optional[_Union[Person, _Mapping]] = ..., beneficiary_vasp: _Optional[_Union[Person, _Mapping]] = ...) -> None: ...

class TradePayload(_message.Message):
    __slots__ = ("request_id", "at", "exchange_licence_id", "exchange_trade_id", "asset", "quantity", "price", "quote_currency", "buyer_participant_id", "seller_participant_id", "counterparty_vasp_id", "counterparty_country", "wallet_kind", "travel_rule")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_LICENCE_ID_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUOTE_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    BUYER_PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_VASP_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    WALLET_KIND_FIELD_NUMBER: _ClassVar[int]
    TRAVEL_RULE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    exchange_licence_id: str
    exchange_trade_id: str
    asset: str
    quantity: str
    price: str
    quote_currency: str
    buyer_participant_id: str
    seller_participant_id: str
    counterparty_vasp_id: str
    counterparty_country: str
    wallet_kind: WalletKind
    travel_rule: TravelRule
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., exchange_licence_id: _Optional[str] = ..., exchange_trade_id: _Optional[str] = ..., asset: _Optional[str] = ..., quantity: _Optional[str] = ..., price: _Optional[str] = ..., quote_currency: _Optional[str] = ..., buyer_participant_id: _Optional[str] = ..., seller_participant_id: _Optional[str] = ..., counterparty_vasp_id: _Optional[str] = ..., counterparty_country: _Optional[str] = ..., wallet_kind: _Optional[_Union[WalletKind, str]] = ..., travel_rule: _Optional[_Union[TravelRule, _Mapping]] = ...) -> None: ...

class TradeResult(_message.Message):
    __slots__ = ("receipt", "status", "rule", "message", "figures", "request_id")
    class FiguresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    status: TradeStatus
    rule: str
    message: str
    figures: _containers.ScalarMap[str, str]
    request_id: str
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ..., status: _Optional[_Union[TradeStatus, str]] = ..., rule: _Optional[str] = ..., message: _Optional[str] = ..., figures: _Optional[_Mapping[str, str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class RecordTradeRequest(_message.Message):
    __slots__ = ("envelope",)
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.SignedEnvelope
    def __init__(self, envelope: _Optional[_Union[_common_pb2.SignedEnvelope, _Mapping]] = ...) -> None: ...

class RecordTradeResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: TradeResult
    def __init__(self, result: _Optional[_Union[TradeResult, _Mapping]] = ...) -> None: ...

class RecordTradesRequest(_message.Message):
    __slots__ = ("envelope", "envelopes")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    ENVELOPES_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.SignedEnvelope
    envelopes: _containers.RepeatedCompositeFieldContainer[_common_pb2.SignedEnvelope]
    def __init__(self, envelope: _Optional[_Union[_common_pb2.SignedEnvelope, _Mapping]] = ..., envelopes: _Optional[_Iterable[_Union[_common_pb2.SignedEnvelope, _Mapping]]] = ...) -> None: ...

class RecordTradesResponse(_message.Message):
    __slots__ = ("results", "recorded_count", "blocked_count")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    RECORDED_COUNT_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_COUNT_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[TradeResult]
    recorded_count: int
    blocked_count: int
    def __init__(self, results: _Optional[_Iterable[_Union[TradeResult, _Mapping]]] = ..., recorded_count: _Optional[int] = ..., blocked_count: _Optional[int] = ...) -> None: ...

"""Malformed, oversized and random requests: the right code, never INTERNAL, still serving."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.generated.valedger.v1 import (
    common_pb2,
    history_pb2,
    licensing_pb2,
    trading_pb2,
)
from tests.services.harness import World, details

NEVER = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)


def code_of(call, *args, **kwargs) -> grpc.StatusCode:
    try:
        call(*args, **kwargs)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize(("request_", "field"), [
    (licensing_pb2.GetLicenceRequest(licence_id="not-a-uuid"), "licence_id"),
    (licensing_pb2.GetLicenceRequest(), "licence_id"),
])
def test_malformed_field_is_invalid_argument_naming_it(world: World, request_, field) -> None:
    with world.client("regulator") as reg, pytest.raises(grpc.RpcError) as caught:
        reg.licensing.GetLicence(request_, timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    bad = next(d for d in details(caught.value) if isinstance(d, error_details_pb2.BadRequest))
    assert bad.field_violations[0].field == field


def test_bad_decimal_and_timestamp_are_invalid_argument(world: World) -> None:
    with world.client("regulator") as reg:
        grant = licensing_pb2.GrantMiningLicenceRequest(
            request_id="bad-decimal", participant_id=world.ids["miner_b"],
            site=licensing_pb2.Site(region="r", grid_zone="z", meter_id="bad"),
            licensed_power_mw="ten", declared_efficiency_j_per_th="20")
        assert code_of(reg.licensing.GrantMiningLicence, grant, timeout=10) is \
            grpc.StatusCode.INVALID_ARGUMENT
        grant.licensed_power_mw = "NaN"
        assert code_of(reg.licensing.GrantMiningLicence, grant, timeout=10) is \
            grpc.StatusCode.INVALID_ARGUMENT
        listing = history_pb2.ListEventsRequest()
        listing.start_time.seconds = 10**12
        assert code_of(reg.history.ListEvents, listing, timeout=10) is \
            grpc.StatusCode.INVALID_ARGUMENT
        assert code_of(reg.history.ListEvents, history_pb2.ListEventsRequest(
            page_token="garbage!"), timeout=10) is grpc.StatusCode.INVALID_ARGUMENT


def test_undecodable_bytes_are_invalid_argument(world: World) -> None:
    with world.client("regulator") as reg:
        call = reg.channel.unary_unary("/valedger.v1.LicensingService/GetLicence",
                                       lambda raw: raw, lambda raw: raw)
        assert code_of(call, b"\xff\xff\xff\xff", timeout=10) is \
            grpc.StatusCode.INVALID_ARGUMENT


def test_unknown_participant_is_not_found(world: World) -> None:
    with world.client("regulator") as reg:
        assert code_of(reg.licensing.GetParticipant, licensing_pb2.GetParticipantRequest(
            participant_id="00000000-0000-0000-0000-000000000001"), timeout=10) is \
            grpc.StatusCode.NOT_FOUND


def test_rule_violation_is_failed_precondition_with_rule(world: World) -> None:
    with world.client("regulator") as reg, pytest.raises(grpc.RpcError) as caught:
        reg.licensing.ApproveParticipant(licensing_pb2.ApproveParticipantRequest(
            request_id="approve-again", participant_id=world.ids["miner_a"]), timeout=10)
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    info = next(d for d in details(caught.value) if isinstance(d, error_details_pb2.ErrorInfo))
    assert info.reason == "ALREADY_APPROVED" and info.domain == "valedger.v1"


def test_oversized_message_is_resource_exhausted(world: World) -> None:
    big = licensing_pb2.RegisterParticipantRequest(
        request_id="big", kind=common_pb2.PARTICIPANT_KIND_ENTERPRISE, legal_name="x" * 100,
        tax_id="t", country="KZ", offshore_links=["y" * 1_000_000] * 17)
    with world.client("regulator") as reg:
        assert code_of(reg.licensing.RegisterParticipant, big, timeout=20) is \
            grpc.StatusCode.RESOURCE_EXHAUSTED
        assert reg.check_health() == 1


texts = st.text(max_size=40)
decimals = st.one_of(st.text(max_size=12), st.decimals(allow_nan=True).map(str))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.integers(-3, 5), name=texts, tax=texts, country=texts,
       owners=st.lists(texts, max_size=3), request_id=texts)
def test_fuzz_register_participant(world: World, kind, name, tax, country, owners,
                                   request_id) -> None:
    with world.client("regulator") as reg:
        code = code_of(reg.licensing.RegisterParticipant,
                       licensing_pb2.RegisterParticipantRequest(
                           request_id=request_id, kind=kind, legal_name=name, tax_id=tax,
                           country=country, beneficial_owners=owners), timeout=10)
    assert code not in NEVER


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(quantity=decimals, price=decimals, currency=texts, country=texts,
       wallet=st.integers(-1, 4), buyer=texts, seconds=st.integers(-(2**40), 2**40),
       travel=st.lists(texts, min_size=5, max_size=5))
def test_fuzz_signed_trade(world: World, quantity, price, currency, country, wallet, buyer,
                           seconds, travel) -> None:
    payload = trading_pb2.TradePayload(
        request_id=f"fuzz-{quantity}-{price}-{currency}-{seconds}",
        exchange_licence_id=world.ids["licence_exchange_x"], exchange_trade_id="f",
        asset="BTC", quantity=quantity, price=price, quote_currency=currency,
        buyer_participant_id=buyer or world.ids["buyer"],
        seller_participant_id=world.ids["seller"], counterparty_country=country,
        wallet_kind=wallet, travel_rule=trading_pb2.TravelRule(
            originator=trading_pb2.TravelRuleParty(
                persons=[trading_pb2.Person(
                    names=[trading_pb2.PersonName(primary_identifier=travel[0],
                                                  name_identifier_type=travel[1])],
                    date_of_birth=travel[2], country=travel[3])],
                account_numbers=[travel[4]])))
    payload.at.seconds = seconds
    with world.client("exchange_x") as ex:
        code = code_of(ex.record_trade, payload)
    assert code not in NEVER


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200),
       method=st.sampled_from(["/valedger.v1.HistoryService/ListEvents",
                               "/valedger.v1.TradingService/RecordTrade",
                               "/valedger.v1.LicensingService/ListLicences",
                               "/valedger.v1.ComplianceService/GetPolicy"]))
def test_fuzz_raw_bytes(world: World, raw: bytes, method: str) -> None:
    with world.client("regulator") as reg:
        call = reg.channel.unary_unary(method, lambda b: b, lambda b: b)
        assert code_of(call, raw, timeout=10) not in NEVER


def test_server_still_serves_after_the_fuzzing(world: World) -> None:
    with world.client("auditor") as auditor:
        assert auditor.check_health() == 1
        assert auditor.check_health("valedger.v1.HistoryService") == 1


def test_contention_is_aborted_and_retryable() -> None:
    from ledger.errors import Contention
    from services.status import service_error

    error = service_error(Contention("kept changing"))
    assert error.code is grpc.StatusCode.ABORTED


def test_a_refused_envelope_is_permission_denied_with_its_rule() -> None:
    from ledger.errors import EnvelopeRefused
    from services.status import service_error

    error = service_error(EnvelopeRefused("KEY_REVOKED", "revoked", {"key_id": "k"}))
    assert error.code is grpc.StatusCode.PERMISSION_DENIED
    info = error.details[0]
    assert isinstance(info, error_details_pb2.ErrorInfo) and info.reason == "KEY_REVOKED"

"""LicensingService over mTLS: a participant suspended, reinstated and deregistered by the
regulator, with the consequences a regulator expects on what it may do."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2

from services import wire
from services.envelope import Signer
from services.generated.valedger.v1 import licensing_pb2, trading_pb2
from tests.ledger.test_signatures import NEUTRAL_POINT
from tests.services.harness import NOW, TRADE_AT, World, details, reason, trade


def call(world: World, method: str, request: object) -> Any:
    with world.client("regulator") as reg:
        response = getattr(reg.licensing, method)(request, timeout=20)
    return response


def test_a_suspended_participant_trades_again_only_once_reinstated(world: World) -> None:
    seller = world.ids["seller"]
    suspended_at = TRADE_AT + timedelta(hours=1)
    call(world, "SuspendParticipant", licensing_pb2.SuspendParticipantRequest(
        request_id="suspend-seller", participant_id=seller, reason="inquiry",
        at=wire.timestamp(suspended_at)))
    with world.client("exchange_x") as ex:
        with pytest.raises(grpc.RpcError) as blocked:
            ex.record_trade(trade(world, "while-suspended",
                                  at=wire.timestamp(suspended_at + timedelta(minutes=5))))
        assert reason(blocked.value) == "PARTY_NOT_APPROVED"
        again = call(world, "ReinstateParticipant", licensing_pb2.ReinstateParticipantRequest(
            request_id="reinstate-seller", participant_id=seller,
            at=wire.timestamp(NOW - timedelta(minutes=30))))
        assert not again.receipt.replayed
        after = ex.record_trade(trade(world, "after-reinstatement",
                                      at=wire.timestamp(NOW - timedelta(minutes=10))))
    assert after.status == trading_pb2.TRADE_STATUS_RECORDED


def test_a_deregistered_participant_never_acts_again(world: World) -> None:
    buyer = world.ids["buyer"]
    call(world, "DeregisterParticipant", licensing_pb2.DeregisterParticipantRequest(
        request_id="deregister-buyer", participant_id=buyer, reason="dissolved"))
    with world.client("exchange_x") as ex, pytest.raises(grpc.RpcError) as blocked:
        ex.record_trade(trade(world, "after-deregistration",
                              at=wire.timestamp(NOW + timedelta(minutes=1))))
    assert reason(blocked.value) == "PARTY_NOT_APPROVED"
    with world.client("regulator") as reg, pytest.raises(grpc.RpcError) as refused:
        reg.licensing.SuspendParticipant(licensing_pb2.SuspendParticipantRequest(
            request_id="suspend-gone", participant_id=buyer, reason="x"), timeout=20)
    assert reason(refused.value) == "PARTICIPANT_DEREGISTERED"


def test_only_the_regulator_suspends_participants(world: World) -> None:
    with world.client("exchange_x") as ex, pytest.raises(grpc.RpcError) as denied:
        ex.licensing.SuspendParticipant(licensing_pb2.SuspendParticipantRequest(
            request_id="self-help", participant_id=world.ids["exchange_y"], reason="x"),
            timeout=20)
    assert denied.value.code() is grpc.StatusCode.PERMISSION_DENIED


def test_a_key_no_private_key_could_make_is_refused_naming_the_field(world: World) -> None:
    # The neutral point: under it OpenSSL's Ed25519 accepts one signature for every message.
    with world.client("miner_a") as miner:
        with pytest.raises(grpc.RpcError) as refused:
            miner.licensing.RegisterKey(licensing_pb2.RegisterKeyRequest(
                request_id="key-neutral", participant_id=world.ids["miner_a"],
                key_id="weak", public_key=NEUTRAL_POINT), timeout=20)
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        bad = next(d for d in details(refused.value)
                   if isinstance(d, error_details_pb2.BadRequest))
        assert bad.field_violations[0].field == "public_key"
        registered = miner.licensing.RegisterKey(licensing_pb2.RegisterKeyRequest(
            request_id="key-neutral", participant_id=world.ids["miner_a"], key_id="weak",
            public_key=Signer.generate().public_key), timeout=20)
    assert not registered.receipt.replayed

"""Signed envelopes: the record form events carry, Ed25519 checks at the event's time, and
envelopes stored in trade and output-report events."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.application import Ledger
from ledger.domain.envelope import (
    Envelope,
    check_envelope,
    envelope_fault,
    from_record,
    signature_valid,
    signed_bytes,
    to_record,
)
from ledger.domain.participant import SigningKey
from ledger.domain.trade import Trade
from ledger.errors import InvalidRequest, RuleViolation
from tests.ledger.conftest import START, T0, Market, events_of


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def sealed(key: Ed25519PrivateKey, payload: bytes = b"\x0a\x03abc",
           payload_type: str = "valedger.v1.TradePayload", key_id: str = "k1") -> Envelope:
    return Envelope(payload, payload_type, key.sign(signed_bytes(payload_type, payload)),
                    key_id)


def test_record_round_trip_is_json_safe() -> None:
    envelope = sealed(Ed25519PrivateKey.generate(), payload=bytes(range(256)))
    record = envelope.to_record()
    assert json.loads(json.dumps(record)) == record
    assert Envelope.from_record(record) == envelope
    assert to_record(None) == {} and from_record({}) is None and from_record(None) is None
    assert from_record(to_record(envelope)) == envelope


def test_signature_covers_type_and_payload() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = sealed(key)
    assert envelope.signed_bytes() == b"valedger.v1.TradePayload\n\x0a\x03abc"
    assert signature_valid(envelope, raw_public(key))
    assert not signature_valid(envelope, raw_public(Ed25519PrivateKey.generate()))
    retyped = Envelope(envelope.payload, "valedger.v1.OutputReportPayload",
                       envelope.signature, envelope.key_id)
    assert not signature_valid(retyped, raw_public(key))
    assert not signature_valid(envelope, b"short")


def test_fault_reasons_follow_the_key_at_the_event_time() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = sealed(key)
    registered = SigningKey("k1", raw_public(key), START, revoked_at=T0)
    keys = {"k1": registered}
    assert envelope_fault(envelope, keys, T0 - timedelta(seconds=1)) is None
    fault = envelope_fault(envelope, keys, T0)
    assert fault is not None and fault[0] == "KEY_REVOKED"
    fault = envelope_fault(envelope, keys, START - timedelta(seconds=1))
    assert fault is not None and fault[0] == "KEY_REVOKED"  # not yet registered
    fault = envelope_fault(envelope, {}, T0)
    assert fault is not None and fault[0] == "KEY_UNKNOWN"
    other = {"k1": SigningKey("k1", raw_public(Ed25519PrivateKey.generate()), START)}
    fault = envelope_fault(envelope, other, T0)
    assert fault is not None and fault[0] == "SIGNATURE_INVALID"
    with pytest.raises(RuleViolation) as refused:
        check_envelope(envelope, other, T0, "p-1")
    assert refused.value.rule == "SIGNATURE_INVALID"
    assert refused.value.figures["key_id"] == "k1"


@pytest.mark.parametrize(("fields", "field"), [
    ({"signature": b"\x00" * 63}, "envelope.signature"),
    ({"payload_type": " "}, "envelope.payload_type"),
    ({"key_id": ""}, "envelope.key_id"),
    ({"payload": "text"}, "envelope.payload"),
])
def test_malformed_envelopes_are_invalid_requests(fields: dict[str, object],
                                                  field: str) -> None:
    values: dict[str, object] = {"payload": b"p", "payload_type": "t",
                                 "signature": b"\x00" * 64, "key_id": "k"}
    values.update(fields)
    with pytest.raises(InvalidRequest) as error:
        Envelope(**values)  # type: ignore[arg-type]
    assert error.value.field == field


def test_damaged_records_are_invalid_requests() -> None:
    record = sealed(Ed25519PrivateKey.generate()).to_record()
    with pytest.raises(InvalidRequest) as error:
        Envelope.from_record({k: v for k, v in record.items() if k != "key_id"})
    assert error.value.field == "envelope.key_id"
    with pytest.raises(InvalidRequest):
        Envelope.from_record(dict(record, signature="!!not base64!!"))


def test_trades_store_their_envelope_in_both_events(market: Market) -> None:
    key = Ed25519PrivateKey.generate()
    recorded, blocked = sealed(key, b"recorded"), sealed(key, b"blocked")
    ledger: Ledger = market.ledger
    ledger.record_trades([
        market.trade("t1", envelope=recorded),
        market.trade("t2", "5000", envelope=blocked),  # no travel-rule data: blocked
        market.trade("t3"),
    ])
    trades = {e.request_id: e for e in events_of(ledger)
              if isinstance(e, Trade.Recorded)}
    assert isinstance(trades["t2"], Trade.Blocked)
    assert trades["t1"].envelope == recorded.to_record()
    assert trades["t2"].envelope == blocked.to_record()
    assert trades["t3"].envelope == {}
    assert ledger.get_typed(Trade.id_for("t1"), Trade, "trade").envelope == recorded
    assert ledger.get_typed(Trade.id_for("t3"), Trade, "trade").envelope is None
    with pytest.raises(InvalidRequest) as error:
        ledger.record_trade(market.trade("t4", envelope="signed"))
    assert error.value.field == "envelope"

"""Signed envelopes: the record form events carry, and envelopes stored in trade events
(the checks themselves are ``ledger.keys``, tested in tests/ledger/test_keys.py)."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.application import Ledger
from ledger.domain.envelope import Envelope, from_record, signed_bytes, to_record
from ledger.domain.trade import Trade
from ledger.errors import InvalidRequest
from tests.ledger.conftest import START, Market, events_of


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
    ledger.register_key("key-k1", market.exchange, "k1", raw_public(key), at=START)
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
    t1, t3 = (Trade.recorded_id(market.licence, f"x-{r}") for r in ("t1", "t3"))
    assert ledger.get_typed(t1, Trade, "trade").envelope == recorded
    assert ledger.get_typed(t3, Trade, "trade").envelope is None
    with pytest.raises(InvalidRequest) as error:
        ledger.record_trade(market.trade("t4", envelope="signed"))
    assert error.value.field == "envelope"

"""The one check of a signed envelope (``ledger.keys.EnvelopeVerifier``): the key valid at
the client's time *and* when recorded, the signature over type and payload; and the
ledger refusing an envelope handed to it directly."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.bindings import crypto_core_ed25519_add

from ledger.domain.envelope import Envelope
from ledger.domain.participant import SigningKey
from ledger.errors import EnvelopeRefused, InvalidRequest, NotFound, RequestIdReused
from ledger.keys import EnvelopeVerifier, Signed
from ledger.signatures import SignatureChecker, usable_public_key
from tests.ledger.conftest import START, T0, Market, events_of
from tests.ledger.domain.test_envelope import raw_public, sealed
from tests.ledger.test_signatures import NEUTRAL_POINT, ORDER_EIGHT_POINT

P = UUID(int=7)


def rule(verifier: EnvelopeVerifier, envelope: Envelope, keys: dict[str, SigningKey],
         at, recorded_at) -> str | None:
    refusal = verifier.refusals([Signed(envelope, P, keys, at, recorded_at)])[0]
    return None if refusal is None else refusal.rule


def test_signature_covers_type_and_payload() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = sealed(key)
    verifier = EnvelopeVerifier(SignatureChecker())
    assert envelope.signed_bytes() == b"valedger.v1.TradePayload\n\x0a\x03abc"
    good = {"k1": SigningKey("k1", raw_public(key), START)}
    other = {"k1": SigningKey("k1", raw_public(Ed25519PrivateKey.generate()), START)}
    assert rule(verifier, envelope, good, T0, T0) is None
    assert rule(verifier, envelope, other, T0, T0) == "SIGNATURE_INVALID"
    retyped = Envelope(envelope.payload, "valedger.v1.OutputReportPayload",
                       envelope.signature, envelope.key_id)
    assert rule(verifier, retyped, good, T0, T0) == "SIGNATURE_INVALID"
    broken = {"k1": SigningKey("k1", b"short", START)}
    assert rule(verifier, envelope, broken, T0, T0) == "SIGNATURE_INVALID"


def test_key_must_be_valid_at_the_clients_time_and_when_recorded() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = sealed(key)
    verifier = EnvelopeVerifier(SignatureChecker())
    keys = {"k1": SigningKey("k1", raw_public(key), START, revoked_at=T0)}
    second = timedelta(seconds=1)
    assert rule(verifier, envelope, keys, T0 - second, T0 - second) is None
    # Back-dated to before the revocation, but recorded after it: refused.
    assert rule(verifier, envelope, keys, T0 - second, T0) == "KEY_REVOKED"
    assert rule(verifier, envelope, keys, T0, T0) == "KEY_REVOKED"
    assert rule(verifier, envelope, keys, START - second, T0 - second) == "KEY_REVOKED"
    assert rule(verifier, envelope, {}, T0, T0) == "KEY_UNKNOWN"


def test_a_checker_remembers_only_what_verified() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = sealed(key)
    checker = SignatureChecker()
    check = (raw_public(key), envelope.signature, envelope.signed_bytes())
    forged = (raw_public(key), bytes(64), envelope.signed_bytes())
    assert checker.check([check, forged]) == [True, False]
    assert checker.check([forged, check]) == [False, True]


def test_the_ledger_refuses_a_forged_trade_handed_to_it_directly(market: Market) -> None:
    key = Ed25519PrivateKey.generate()
    market.ledger.register_key("key-k1", market.exchange, "k1", raw_public(key), at=START)
    good = sealed(key, b"good")
    forged = Envelope(b"good", good.payload_type, bytes(64), "k1")
    before = len(events_of(market.ledger))
    with pytest.raises(EnvelopeRefused) as refused:
        market.ledger.record_trades([market.trade("t1", envelope=good),
                                     market.trade("t2", envelope=forged)])
    assert refused.value.rule == "SIGNATURE_INVALID"
    assert len(events_of(market.ledger)) == before  # nothing of the batch is stored
    unknown = sealed(Ed25519PrivateKey.generate(), key_id="nobody")
    with pytest.raises(EnvelopeRefused) as refused:
        market.ledger.record_trade(market.trade("t3", envelope=unknown))
    assert refused.value.rule == "KEY_UNKNOWN"
    market.ledger.record_trade(market.trade("t1", envelope=good))


def test_key_requests_are_scoped_to_their_requester(market: Market) -> None:
    key = raw_public(Ed25519PrivateKey.generate())
    ledger = market.ledger
    mine = f"participant:{market.exchange}"
    first = ledger.register_key("k", market.exchange, "k1", key, at=START, requester=mine)
    again = ledger.register_key("k", market.exchange, "k1", key, at=START, requester=mine)
    assert again.replayed and again.version == first.version
    with pytest.raises(RequestIdReused):
        ledger.register_key("k", market.exchange, "k2", key, at=START, requester=mine)
    # The regulator's "k" is another request altogether.
    other = ledger.register_key("k", market.exchange, "k2", key, at=START)
    assert not other.replayed and other.version == first.version + 1


@pytest.mark.parametrize("public_key", [
    pytest.param(NEUTRAL_POINT, id="small order: the neutral point"),
    pytest.param(bytes(range(32)), id="mixed order: a point with a torsion part"),
    pytest.param(bytes([2]) + bytes(31), id="not a point of the curve (y = 2)"),
    pytest.param(b"\xff" * 32, id="not a canonical encoding"),
])
def test_registering_a_key_no_private_key_makes_is_refused(market: Market,
                                                           public_key: bytes) -> None:
    before = len(events_of(market.ledger))
    with pytest.raises(InvalidRequest) as refused:
        market.ledger.register_key("key-bad", market.exchange, "k1", public_key, at=START)
    assert refused.value.field == "public_key"
    assert "prime-order" in str(refused.value)
    assert len(events_of(market.ledger)) == before
    # The same request id still registers a real key afterwards.
    good = raw_public(Ed25519PrivateKey.generate())
    assert market.ledger.register_key("key-bad", market.exchange, "k1", good,
                                      at=START).version > 0


def test_a_registration_recorded_before_the_rule_is_still_answered_on_retry(
        market: Market, monkeypatch: pytest.MonkeyPatch) -> None:
    # A store written before keys had to be usable: the same request then recorded it.
    with monkeypatch.context() as before_the_rule:
        before_the_rule.setattr("ledger.keys.usable_public_key", lambda key: True)
        first = market.ledger.register_key("key-old", market.exchange, "k-old",
                                           NEUTRAL_POINT, at=START)
    again = market.ledger.register_key("key-old", market.exchange, "k-old", NEUTRAL_POINT,
                                       at=START)
    assert again.replayed and again.version == first.version
    # A new request with the same key is refused.
    with pytest.raises(InvalidRequest) as refused:
        market.ledger.register_key("key-new", market.exchange, "k-new", NEUTRAL_POINT,
                                   at=START)
    assert refused.value.field == "public_key"


def test_who_and_which_request_are_settled_before_the_key_is_judged(market: Market) -> None:
    with pytest.raises(NotFound):
        market.ledger.register_key("key-x", uuid4(), "k1", NEUTRAL_POINT, at=START)
    good = raw_public(Ed25519PrivateKey.generate())
    market.ledger.register_key("key-r", market.exchange, "k1", good, at=START)
    with pytest.raises(RequestIdReused):
        market.ledger.register_key("key-r", market.exchange, "k1", NEUTRAL_POINT, at=START)


REAL_KEYS = st.binary(min_size=32, max_size=32).map(
    lambda seed: raw_public(Ed25519PrivateKey.from_private_bytes(seed)))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(public_key=st.one_of(
    st.binary(min_size=32, max_size=32),  # mostly not keys at all
    REAL_KEYS,
    REAL_KEYS.map(lambda key: crypto_core_ed25519_add(key, ORDER_EIGHT_POINT))))
def test_32_bytes_register_exactly_when_a_private_key_could_have_made_them(
        market: Market, public_key: bytes) -> None:
    before = len(events_of(market.ledger))
    try:
        market.ledger.register_key(f"key-{public_key.hex()}", market.exchange,
                                   public_key.hex()[:16], public_key, at=START)
    except InvalidRequest as refused:
        assert refused.field == "public_key" and not usable_public_key(public_key)
        assert len(events_of(market.ledger)) == before
    else:
        assert usable_public_key(public_key)

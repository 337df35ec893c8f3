"""Batched Ed25519 checks: libsodium's rules against OpenSSL's (RFC 8032 vectors,
small-order forgeries), and worker processes giving the in-process answer, check by
check."""

from __future__ import annotations

import hashlib
import logging
import signal
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.bindings import crypto_core_ed25519_add

from ledger.signatures import SignatureChecker, usable_public_key, verify_all
from services.envelope import Signer, signed_bytes
from tests.pool_workers import kill_workers
from verifier import worker_pool


def checks() -> list[tuple[bytes, bytes, bytes]]:
    """Returns good and bad checks: forged, altered, another key, a malformed key."""
    alice, bob = Signer.generate(), Signer.generate()
    out = []
    for i in range(40):
        message = signed_bytes("valedger.v1.TradePayload", f"trade {i}".encode())
        signature = alice.private_key.sign(message)
        out.append((alice.public_key, signature, message))
    out[3] = (alice.public_key, bytes(64), out[3][2])  # forged
    out[7] = (alice.public_key, out[7][1], out[7][2] + b"!")  # altered
    out[11] = (bob.public_key, out[11][1], out[11][2])  # another key
    out[19] = (b"\x01" * 5, out[19][1], out[19][2])  # not a public key at all
    return out


RFC8032_VECTORS = {
    # RFC 8032 §7.1, TEST 1 and TEST 2: (public key, message, signature).
    "test 1 (empty message)": (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
        "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    "test 2 (one byte)": (
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e"
        "458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
}
NEUTRAL_POINT = b"\x01" + bytes(31)
"""The curve's neutral point encoded: a public key of small order (1)."""
GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493
"""L, the order of the curve's prime-order group."""
ORDER_EIGHT_POINT = bytes.fromhex(
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa")
"""A point of order 8: added to a real key it makes a key of mixed order."""


@pytest.mark.parametrize("name", RFC8032_VECTORS)
def test_rfc8032_vectors_verify_and_a_flipped_bit_does_not(name: str) -> None:
    key, message, signature = (bytes.fromhex(x) for x in RFC8032_VECTORS[name])
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert verify_all([(key, signature, message), (key, flipped, message)]) == [True, False]
    assert usable_public_key(key)


def test_a_small_order_key_that_openssl_lets_sign_anything_verifies_nothing() -> None:
    # R = the neutral point, S = 0: OpenSSL's equation holds for every message.
    forgery = NEUTRAL_POINT + bytes(32)
    for message in (b"", b"I never sent this trade"):
        Ed25519PublicKey.from_public_bytes(NEUTRAL_POINT).verify(forgery, message)
        assert verify_all([(NEUTRAL_POINT, forgery, message)]) == [False]
    assert not usable_public_key(NEUTRAL_POINT)


def test_only_keys_of_the_prime_order_group_are_usable() -> None:
    real = Signer.generate().public_key
    assert usable_public_key(real)
    assert not usable_public_key(crypto_core_ed25519_add(real, ORDER_EIGHT_POINT))
    assert not usable_public_key(ORDER_EIGHT_POINT)
    assert not usable_public_key(bytes(range(32)))  # on the curve, with a torsion part
    assert not usable_public_key(bytes([2]) + bytes(31))  # y = 2: no point has it
    assert not usable_public_key(real[:31])
    assert not usable_public_key(b"\xff" * 32)  # y beyond the field: not canonical


def test_a_real_key_signing_with_a_zero_nonce_is_refused_where_openssl_accepts() -> None:
    # R = [0]B, the neutral point, and S = h·a: the equation holds, so OpenSSL accepts it;
    # RFC 8032 signing never makes a small-order R, and libsodium refuses one.
    seed = bytes(range(32))
    expanded = bytearray(hashlib.sha512(seed).digest()[:32])
    expanded[0] &= 248
    expanded[31] = (expanded[31] & 127) | 64
    secret = int.from_bytes(expanded, "little")
    key = Signer(Ed25519PrivateKey.from_private_bytes(seed), "k").public_key
    message = b"signed with nonce 0"
    challenge = int.from_bytes(hashlib.sha512(NEUTRAL_POINT + key + message).digest(),
                               "little") % GROUP_ORDER
    signature = NEUTRAL_POINT + (challenge * secret % GROUP_ORDER).to_bytes(32, "little")
    assert openssl_verifies(key, signature, message)
    assert verify_all([(key, signature, message)]) == [False]


def openssl_verifies(key: bytes, signature: bytes, message: bytes) -> bool:
    """Returns whether OpenSSL (``cryptography``) accepts the signature."""
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


@settings(max_examples=200, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), message=st.binary(max_size=300),
       flip=st.one_of(st.none(), st.integers(0, 64 * 8 - 1)), in_message=st.booleans())
def test_libsodium_and_openssl_agree_on_rfc8032_signatures_and_their_bit_flips(
        seed: bytes, message: bytes, flip: int | None, in_message: bool) -> None:
    private = Ed25519PrivateKey.from_private_bytes(seed)
    key = Signer(private, "k").public_key
    signature = private.sign(message)
    if flip is not None and in_message and message:
        position = flip % (8 * len(message))
        changed = bytearray(message)
        changed[position // 8] ^= 1 << (position % 8)
        message = bytes(changed)
    elif flip is not None:
        changed = bytearray(signature)
        changed[flip // 8] ^= 1 << (flip % 8)
        signature = bytes(changed)
    assert verify_all([(key, signature, message)]) == [openssl_verifies(key, signature,
                                                                        message)]


def test_verify_all_says_which_checks_fail():
    results = verify_all(checks())
    assert [i for i, ok in enumerate(results) if not ok] == [3, 7, 11, 19]


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_worker_processes_give_the_same_answers_in_order(workers: int):
    checker = SignatureChecker(workers, pool_threshold=1)
    try:
        items = checks()
        assert checker.check(items) == verify_all(items)
        assert checker.check([]) == []
    finally:
        checker.close()


def test_negative_worker_count_is_refused():
    with pytest.raises(ValueError, match="0 or more"):
        SignatureChecker(-1)


@pytest.mark.parametrize("workers", [0, 2])
def test_start_has_every_worker_running_before_the_first_check(workers: int):
    checker = SignatureChecker(workers, pool_threshold=1)
    try:
        assert checker.running_workers() == 0
        checker.start()
        assert checker.running_workers() == workers
        items = checks()
        assert checker.check(items) == verify_all(items)
    finally:
        checker.close()
    assert checker.running_workers() == 0


def test_checks_go_on_in_the_calling_thread_once_the_workers_are_killed(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    # A signal to the server's whole process group ends its workers first; the calls it
    # finishes within its grace are still checked, with the same answers.
    checker = SignatureChecker(2, pool_threshold=1)
    try:
        checker.start()
        pool: Any = checker.pool.current
        kill_workers(pool, signal.SIGTERM)
        items = checks()
        with caplog.at_level(logging.WARNING, logger="ledger.signatures"):
            assert checker.check(items) == verify_all(items)
            assert checker.check(items[:10]) == verify_all(items[:10])  # remembered
            again = [(k, s, m + b"?") for k, s, m in items]
            assert checker.check(again) == verify_all(again)
        assert [r.getMessage() for r in caplog.records].count(
            "signature workers ended; checking signatures in the server's own process for "
            "30 s, then on fresh workers") == 1
        assert checker.running_workers() == 0  # none started within the pause
        monkeypatch.setattr(worker_pool, "PAUSE_AFTER_BREAK_SECONDS", 0.0)
        assert checker.check(again[::-1]) == verify_all(again[::-1])
        assert checker.pool.current is not pool and checker.running_workers() >= 1  # fresh ones
    finally:
        checker.close()

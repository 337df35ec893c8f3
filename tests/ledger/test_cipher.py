"""Event state encryption (``ledger.cipher``): OpenSSL's AES-GCM in eventsourcing's bytes."""

from __future__ import annotations

import os
import pickle
from datetime import timedelta
from typing import Any

import pytest
from Crypto.Cipher import AES
from eventsourcing.cipher import AESCipher
from eventsourcing.utils import Environment
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.cipher import NONCE_SIZE, TAG_SIZE, OpenSSLAESCipher
from ledger.config import StoreConfig
from tests.ledger.conftest import START
from tests.ontime import on_time_ledger

KEY = AESCipher.create_key(32)


def ciphers(key: str = KEY) -> tuple[OpenSSLAESCipher, AESCipher]:
    """Returns the ledger's cipher and eventsourcing's, on the same key."""
    env = Environment(env={"CIPHER_KEY": key})
    return OpenSSLAESCipher(env), AESCipher(env)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=5000), st.sampled_from([16, 24, 32]))
def test_each_cipher_reads_what_the_other_wrote(plaintext: bytes, key_size: int) -> None:
    ours, theirs = ciphers(AESCipher.create_key(key_size))
    sealed = ours.encrypt(plaintext)
    assert len(sealed) == NONCE_SIZE + TAG_SIZE + len(plaintext)
    assert theirs.decrypt(sealed) == plaintext
    assert ours.decrypt(theirs.encrypt(plaintext)) == plaintext
    assert ours.decrypt(sealed) == plaintext


def test_a_large_state_round_trips() -> None:
    ours, theirs = ciphers()
    state = os.urandom(6_000_000)
    assert theirs.decrypt(ours.encrypt(state)) == state


def test_every_nonce_is_fresh() -> None:
    ours, _ = ciphers()
    assert len({ours.encrypt(b"same")[:NONCE_SIZE] for _ in range(100)}) == 100


@pytest.mark.parametrize("damage", ["flip body", "flip tag", "flip nonce", "other key",
                                    "short tag", "short nonce"])
def test_damaged_or_foreign_cipher_text_is_refused_as_eventsourcing_refuses_it(
        damage: str) -> None:
    ours, _ = ciphers()
    sealed = bytearray(ours.encrypt(b"a trade's state" * 10))
    if damage == "flip body":
        sealed[-1] ^= 1
    elif damage == "flip tag":
        sealed[NONCE_SIZE] ^= 1
    elif damage == "flip nonce":
        sealed[0] ^= 1
    elif damage == "short tag":
        sealed = sealed[:NONCE_SIZE + 3]
    elif damage == "short nonce":
        sealed = sealed[:5]
    reader = ciphers(AESCipher.create_key(32))[0] if damage == "other key" else ours
    with pytest.raises(ValueError, match=r"[Dd]amaged"):
        reader.decrypt(bytes(sealed))


def test_it_pickles_as_its_key_for_the_audits_worker_processes() -> None:
    ours, _ = ciphers()
    copy = pickle.loads(pickle.dumps(ours))
    assert isinstance(copy, OpenSSLAESCipher) and copy.key == ours.key
    assert copy.decrypt(ours.encrypt(b"x")) == b"x"


def test_a_store_encrypted_by_eventsourcing_cipher_reads_back(store_url: str) -> None:
    """Stores written before (eventsourcing's pycryptodome cipher) read back, and both
    ciphers' events sit side by side in one store."""
    before = StoreConfig(url=store_url, cipher_key=KEY,
                         extra={"CIPHER_TOPIC": "eventsourcing.cipher:AESCipher"})
    ledger = on_time_ledger(before)
    try:
        assert type(ledger.mapper.cipher) is AESCipher
        old = ledger.register_participant("old", "ENTERPRISE", "Old Mining", "T1", "KZ",
                                          at=START).aggregate_id
    finally:
        ledger.close()
    ledger = on_time_ledger(StoreConfig(url=store_url, cipher_key=KEY))
    try:
        assert isinstance(ledger.mapper.cipher, OpenSSLAESCipher)
        assert ledger.get_participant(old).legal_name == "Old Mining"
        new = ledger.register_participant("new", "ENTERPRISE", "New Mining", "T2", "KZ",
                                          at=START + timedelta(days=1)).aggregate_id
        notes = ledger.recorder.select_notifications(start=None, limit=100)
        assert all(ledger.decode(note) is not None for note in notes)
    finally:
        ledger.close()
    ledger = on_time_ledger(before)
    try:
        assert ledger.get_participant(new).legal_name == "New Mining"
    finally:
        ledger.close()


def test_states_beyond_what_openssl_takes_at_once_go_through_pycryptodome(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """AESGCM takes at most 2**31 - 1 bytes at once; longer states (none the ledger makes
    today) are encrypted and read back in the same bytes by eventsourcing's cipher."""
    monkeypatch.setattr("ledger.cipher.MAX_STATE", 10)
    ours, theirs = ciphers()
    long, short = os.urandom(11), os.urandom(10)
    calls: list[bytes] = []

    def counted(self: AESCipher, nonce: bytes) -> Any:
        calls.append(nonce)
        return AES.new(self.key, AES.MODE_GCM, nonce)

    monkeypatch.setattr(AESCipher, "construct_cipher", counted)
    ours.decrypt(ours.encrypt(short))
    assert calls == []  # OpenSSL's
    ours.decrypt(ours.encrypt(long))
    assert len(calls) == 2  # pycryptodome's, both ways
    for plaintext in (long, short):
        assert theirs.decrypt(ours.encrypt(plaintext)) == plaintext
        assert ours.decrypt(theirs.encrypt(plaintext)) == plaintext
    damaged = bytearray(ours.encrypt(long))
    damaged[-1] ^= 1
    with pytest.raises(ValueError, match="damaged"):
        ours.decrypt(bytes(damaged))

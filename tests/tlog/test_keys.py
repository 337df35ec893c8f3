"""Note keys: key ids, verifier and signer key strings, and their rejection rules."""

from __future__ import annotations

import hashlib
import pickle

import pytest

from tlog.keys import KeyFormatError, NoteError, NoteSigner, NoteVerifier, key_id
from tlog.note import sign_note


def test_key_id_formula():
    signer = NoteSigner.generate("valedger.test/log")
    pub = signer.verifier.public_key
    want = hashlib.sha256(b"valedger.test/log\n\x01" + pub).digest()[:4]
    assert key_id("valedger.test/log", pub) == want == signer.key_id


@pytest.mark.parametrize(
    "vkey",
    ["nope", "a+b+c+d", "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
     "example.com/foo+530d903a+AkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
     "example.com/foo+530d903a+AqkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
     "bad name+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"],
)
def test_malformed_vkeys_are_typed_errors(vkey):
    with pytest.raises(KeyFormatError):
        NoteVerifier.from_vkey(vkey)


def test_malformed_skeys_are_typed_errors():
    signer = NoteSigner.generate("a.test")
    skey = signer.to_skey()
    with pytest.raises(KeyFormatError):
        NoteSigner.from_skey(skey.replace("PRIVATE+KEY+", ""))
    with pytest.raises(KeyFormatError):
        NoteSigner.from_skey(skey.replace(signer.key_id.hex(), "00000000"))
    with pytest.raises(NoteError):
        sign_note("no newline", signer)


def test_a_verifier_pickles_to_an_equal_working_key():
    """A witness policy travels to the audit follower's process pickled."""
    signer = NoteSigner.generate("valedger.test/log")
    copy = pickle.loads(pickle.dumps(signer.verifier))
    assert copy == signer.verifier and copy.key_id == signer.key_id
    assert copy.verify_note("hello\n", signer.sign_note("hello\n"))

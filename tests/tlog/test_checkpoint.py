"""tlog-checkpoint bodies: exact text, strict parsing, signature and origin checks."""

from __future__ import annotations

import base64

import pytest

from tlog.checkpoint import (
    Checkpoint,
    CheckpointError,
    open_checkpoint,
    sign_checkpoint,
)
from tlog.note import NoteError, NoteSigner, UntrustedKeyError

# Body of the example in c2sp.org/tlog-checkpoint.
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"


def test_spec_body_roundtrips():
    cp = Checkpoint.from_text(SPEC_BODY)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.to_text() == SPEC_BODY


@pytest.mark.parametrize(
    "text",
    ["a\n1\n", "a\n01\n" + "A" * 43 + "=\n", "a\n-1\nAAAA\n", "a\n1\nAAAA\n",
     "a\n1\n" + "A" * 43 + "=", "\n1\n" + "A" * 43 + "=\n", "a\n1\n" + "A" * 43 + "=\n\n",
     "a\n١\n" + "A" * 43 + "=\n"],
)
def test_malformed_bodies_are_rejected(text):
    with pytest.raises(CheckpointError):
        Checkpoint.from_text(text)


def test_sign_and_open():
    signer = NoteSigner.generate("valedger.test/log")
    cp = Checkpoint("valedger.test/log", 5, b"\x07" * 32)
    signed = sign_checkpoint(cp, signer)
    assert signed.note.startswith(cp.to_text() + "\n\u2014 valedger.test/log ")
    opened = open_checkpoint(signed.note, signer.verifier)
    assert opened.checkpoint == cp


def test_wrong_origin_and_wrong_key_rejected():
    signer = NoteSigner.generate("valedger.test/log")
    other = NoteSigner.generate("valedger.test/log")
    signed = sign_checkpoint(Checkpoint("elsewhere.test/log", 1, b"\x00" * 32), signer)
    with pytest.raises(CheckpointError, match="origin"):
        open_checkpoint(signed.note, signer.verifier)
    assert open_checkpoint(signed.note, signer.verifier, origin="elsewhere.test/log")
    with pytest.raises(NoteError):
        open_checkpoint(signed.note, other.verifier, origin="elsewhere.test/log")
    forged = signed.note.replace("\n1\n", "\n2\n")
    with pytest.raises(NoteError):
        open_checkpoint(forged, signer.verifier, origin="elsewhere.test/log")


def test_several_trusted_keys_each_note_checked_against_its_own():
    old = NoteSigner.generate("valedger.test/log")
    new = NoteSigner.generate("valedger.test/log")
    cp = Checkpoint("valedger.test/log", 3, b"\x05" * 32)
    for signer in (old, new):
        opened = open_checkpoint(sign_checkpoint(cp, signer).note, [old.verifier, new.verifier])
        assert opened.checkpoint == cp and opened.keys == (signer.verifier,)
    with pytest.raises(UntrustedKeyError):
        open_checkpoint(sign_checkpoint(cp, old).note, [new.verifier])
    with pytest.raises(UntrustedKeyError):
        open_checkpoint(sign_checkpoint(cp, old).note, [])


def test_default_origin_is_the_name_of_the_key_that_signed():
    log = NoteSigner.generate("valedger.test/log")
    other = NoteSigner.generate("other.test/log")
    # Signed by the "other" key but claiming the log's origin: refused without --origin.
    note = sign_checkpoint(Checkpoint("valedger.test/log", 1, b"\x00" * 32), other).note
    with pytest.raises(CheckpointError, match="origin"):
        open_checkpoint(note, [log.verifier, other.verifier])
    assert open_checkpoint(note, [log.verifier, other.verifier], origin="valedger.test/log")

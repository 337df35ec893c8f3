"""C2SP signed notes: the spec's own example, key ids, and rejection rules."""

from __future__ import annotations

import base64

import pytest

from tlog.note import (
    NoteError,
    NoteSigner,
    NoteVerifier,
    UntrustedKeyError,
    UnverifiedNoteError,
    open_note,
    parse_note,
    sign_note,
)

# From c2sp.org/signed-note (C2SP/C2SP signed-note.md, "Example").
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3"
    "mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def test_spec_example_verifies():
    verifier = NoteVerifier.from_vkey(SPEC_VKEY)
    assert verifier.key_id.hex() == "530d903a"
    assert verifier.vkey == SPEC_VKEY
    note = open_note(SPEC_NOTE, verifier)
    assert note.text == "This is an example message.\n"


def test_spec_example_altered_text_fails():
    verifier = NoteVerifier.from_vkey(SPEC_VKEY)
    with pytest.raises(UnverifiedNoteError):
        open_note(SPEC_NOTE.replace("example message", "example massage"), verifier)


def test_sign_and_open_roundtrip_and_skey():
    signer = NoteSigner.generate("valedger.test/log")
    note = sign_note("hello\n\nworld\n", signer)
    assert open_note(note, signer.verifier).text == "hello\n\nworld\n"
    again = NoteSigner.from_skey(signer.to_skey())
    assert again.verifier == signer.verifier
    assert "PRIVATE" not in repr(signer)


def test_unknown_signatures_are_ignored_but_one_known_is_required():
    mine = NoteSigner.generate("valedger.test/log")
    other = NoteSigner.generate("witness.test")
    note = sign_note("text\n", other, mine)
    assert open_note(note, mine.verifier)
    with pytest.raises(UnverifiedNoteError):
        open_note(sign_note("text\n", other), mine.verifier)


def test_same_name_different_key_is_ignored_and_rejected():
    mine = NoteSigner.generate("valedger.test/log")
    impostor = NoteSigner.generate("valedger.test/log")
    with pytest.raises(UntrustedKeyError, match="not signed by any trusted key") as e:
        open_note(sign_note("text\n", impostor), mine.verifier)
    assert impostor.verifier.label in str(e.value)
    assert impostor.verifier.label == f"valedger.test/log+{impostor.key_id.hex()}"
    assert impostor.verifier.vkey.startswith(impostor.verifier.label + "+")


def test_known_key_with_bad_signature_is_not_an_untrusted_key():
    mine = NoteSigner.generate("valedger.test/log")
    note = sign_note("text\n", mine).replace("text", "texT", 1)
    with pytest.raises(UnverifiedNoteError, match="invalid") as e:
        open_note(note, mine.verifier)
    assert not isinstance(e.value, UntrustedKeyError)


def test_known_key_with_bad_signature_rejects_note():
    mine = NoteSigner.generate("valedger.test/log")
    note = sign_note("text\n", mine)
    text, sig_line = note.split("\n\n")
    name, b64 = sig_line.strip().split(" ")[1:]
    raw = bytearray(base64.b64decode(b64))
    raw[10] ^= 1
    forged = f"{text}\n\n\u2014 {name} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(UnverifiedNoteError, match="invalid"):
        open_note(forged, mine.verifier)


@pytest.mark.parametrize(
    "message",
    ["no blank line\n", "text\n\n\u2014 name\n", "text\n\n- name AAAAAAA=\n",
     "text\n\n\u2014 name AAAA\n", "te\x01xt\n\n\u2014 name AAAAAAA=\n",
     "text\n\n\u2014 na+me AAAAAAA=\n", "text\n\n\u2014 name !!!!\n",
     "text\n\n\u2014 name AAAAAAA="],
)
def test_malformed_notes_are_typed_errors(message):
    with pytest.raises(NoteError):
        parse_note(message)

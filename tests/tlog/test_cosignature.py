"""C2SP tlog-cosignature: the spec's example line, key ids, signing, quorum."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest

from tlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from tlog.cosignature import (
    CosignatureError,
    QuorumError,
    add_signatures,
    check_cosignatures,
    cosign,
    cosignature_timestamp,
    parse_signature_lines,
    require_quorum,
)
from tlog.keys import (
    SIG_TYPE_COSIGNATURE_V1,
    NoteError,
    NoteSigner,
    NoteVerifier,
    cosigned_message,
)
from tlog.note import parse_note

# From c2sp.org/tlog-cosignature ("Below is an example of a checkpoint that contains a
# cosignature") and its signed message example (time 1679315147).
SPEC_COSIGNED = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN"
    "7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9d"
    "lrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)
SPEC_MESSAGE = (
    b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
    b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)


def witness(name: str = "witness.test/w1") -> NoteSigner:
    return NoteSigner.generate(name, SIG_TYPE_COSIGNATURE_V1)


def test_spec_example_line_has_key_id_timestamp_and_signature():
    note = parse_note(SPEC_COSIGNED)
    line = note.signatures[1]
    assert line.name == "witness.example.com/w1"
    assert line.key_id.hex() == "8d66cf3f"
    assert cosignature_timestamp(line) == 1679315147
    assert len(line.signature) == 72


def test_spec_example_signed_message():
    text = parse_note(SPEC_COSIGNED).text
    assert cosigned_message(text, 1679315147) == SPEC_MESSAGE


def test_cosigner_key_id_uses_type_0x04():
    w = witness()
    pub = w.verifier.public_key
    assert w.key_id == hashlib.sha256(b"witness.test/w1\n\x04" + pub).digest()[:4]
    vkey = w.verifier.vkey
    assert base64.b64decode(vkey.split("+", 2)[2])[0] == 0x04
    assert NoteVerifier.from_vkey(vkey) == w.verifier
    assert NoteSigner.from_skey(w.to_skey()).verifier == w.verifier


def test_cosign_verify_and_merge_into_note():
    log = NoteSigner.generate("log.test")
    w1, w2 = witness("w1.test"), witness("w2.test")
    signed = sign_checkpoint(Checkpoint("log.test", 5, b"\x07" * 32), log)
    text = parse_note(signed.note).text
    lines = [cosign(text, w1, 1700000000), cosign(text, w2, 1700000001)]
    merged = add_signatures(signed.note, [*lines, lines[0]])
    assert merged.count("\u2014 w1.test ") == 1
    assert open_checkpoint(merged, log.verifier).size == 5  # log key still opens it
    check = check_cosignatures(merged, [w1.verifier, w2.verifier])
    assert check.witnesses == {w1.verifier.label, w2.verifier.label}
    assert {c.timestamp for c in check.valid} == {1700000000, 1700000001}
    require_quorum(merged, [w1.verifier, w2.verifier], 2)
    with pytest.raises(QuorumError):
        require_quorum(signed.note, [w1.verifier, w2.verifier], 1)


def test_cosignature_over_other_body_or_changed_timestamp_is_invalid():
    log = NoteSigner.generate("log.test")
    w = witness()
    note = sign_checkpoint(Checkpoint("log.test", 5, b"\x07" * 32), log).note
    other = sign_checkpoint(Checkpoint("log.test", 6, b"\x07" * 32), log).note
    line = cosign(parse_note(other).text, w, 1700000000)
    check = check_cosignatures(add_signatures(note, [line]), [w.verifier])
    assert not check.valid and check.invalid == (w.verifier.label,)
    good = cosign(parse_note(note).text, w, 1700000000)
    moved = type(good)(good.name, good.key_id,
                       struct.pack(">Q", 1700000001) + good.signature[8:])
    assert check_cosignatures(add_signatures(note, [moved]), [w.verifier]).invalid


def test_plain_key_cannot_cosign_and_plain_signature_is_not_a_cosignature():
    log = NoteSigner.generate("log.test")
    with pytest.raises(CosignatureError):
        cosign("x\n", log, 1)
    note = sign_checkpoint(Checkpoint("log.test", 1, b"\x01" * 32), log).note
    # A log key passed as a witness never counts toward a quorum.
    assert not check_cosignatures(note, [log.verifier]).valid


def test_parse_signature_lines_of_a_witness_answer():
    w = witness()
    line = cosign("x\n", w, 3)
    assert parse_signature_lines(line.line().encode()) == [line]
    with pytest.raises(NoteError):
        parse_signature_lines(b"not a line\n")

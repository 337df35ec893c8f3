"""The tlog-witness add-checkpoint body: the spec's example request, and malformed ones."""

from __future__ import annotations

import pytest

from tlog.witness_protocol import (
    AddCheckpoint,
    WitnessProtocolError,
    parse_size_body,
    size_body,
)

# From c2sp.org/tlog-witness ("Example request body").
SPEC_REQUEST = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN"
    "7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
).encode()


def test_spec_example_request_parses_and_roundtrips():
    req = AddCheckpoint.from_bytes(SPEC_REQUEST)
    assert req.old_size == 20852014
    assert len(req.proof) == 4
    assert req.note.startswith("example.com/behind-the-sofa\n20852163\n")
    assert req.to_bytes() == SPEC_REQUEST


@pytest.mark.parametrize(
    "body",
    [b"old 1\n", b"old 01\n\nx\n", b"new 1\n\nx\n", b"old -1\n\nx\n", b"old 1\n!!!!\n\nx\n",
     b"old 1\nAAAA\n\nx\n", b"old 0\n" + b"A" * 43 + b"=\n\nx\n",
     b"old 1\n" + (b"A" * 43 + b"=\n") * 64 + b"\nx\n", b"\xff\n\n"],
)
def test_malformed_requests_are_typed_errors(body):
    with pytest.raises(WitnessProtocolError):
        AddCheckpoint.from_bytes(body)


def test_size_body():
    assert size_body(42) == b"42\n"
    assert parse_size_body(b"42\n") == 42
    with pytest.raises(WitnessProtocolError):
        parse_size_body(b"42")

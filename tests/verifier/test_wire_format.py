"""The packed wire form: round trips, identical verdicts, and every size bounded first."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier.batch import MalformedBatch, parse_batch
from verifier.cpu import CpuBackend
from verifier.verification import verify_batch
from verifier.wire_format import (
    HEADER_DTYPE,
    JOB_RECORD_DTYPE,
    MAGIC,
    SHARE_RECORD_DTYPE,
    decode_packed,
    encode_packed,
)

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "proof-batch.json"
BACKEND = CpuBackend(workers=1)


def sample() -> dict[str, Any]:
    return json.loads(SAMPLE.read_text())


def odd_shares(doc: dict[str, Any]) -> dict[str, Any]:
    """Adds shares of every structural fault a pool can see: unknown jobs (one named
    twice), oversized and empty extranonce2, a coinbase tag."""
    extra = [
        {"job_id": "gone", "extranonce2": "00" * 40, "ntime": 1, "nonce": 2},
        {"job_id": "gone", "extranonce2": "", "ntime": 3, "nonce": 4, "version_bits": 7},
        {"job_id": "élan", "extranonce2": "01", "ntime": 5, "nonce": 6},
        dict(doc["shares"][0]),  # a duplicate within the batch
    ]
    return dict(doc, shares=doc["shares"] + extra, coinbase_tag="2f76616c2f")


def test_layout_sizes_are_as_documented() -> None:
    assert HEADER_DTYPE.itemsize == 48
    assert JOB_RECORD_DTYPE.itemsize == 76
    assert SHARE_RECORD_DTYPE.itemsize == 20


def test_round_trip_keeps_the_batch_and_its_verdicts() -> None:
    parsed = parse_batch(json.dumps(odd_shares(sample())))
    packed = encode_packed(parsed)
    decoded = decode_packed(packed)
    assert packed[:4] == MAGIC
    assert decoded.canonical_json() == parsed.canonical_json()
    assert encode_packed(decoded) == packed
    assert decoded.share_job_id(len(decoded) - 2) == "élan"
    assert decoded.share_extranonce2(len(decoded) - 4) == bytes(40)
    first, again = verify_batch(parsed, backend=BACKEND), verify_batch(decoded, backend=BACKEND)
    assert np.array_equal(first.verdicts, again.verdicts)
    assert np.array_equal(first.hashes, again.hashes)
    assert first.counts == again.counts and first.counts["UNKNOWN_JOB"] == 3


def test_digest_of_a_packed_batch_is_that_of_its_bytes() -> None:
    import hashlib

    packed = encode_packed(parse_batch(json.dumps(sample())))
    assert decode_packed(packed).digest() == hashlib.sha256(packed).digest()


share = st.fixed_dictionaries({
    "job_id": st.sampled_from(["j1", "j2", "x", ""]),
    "extranonce2": st.binary(max_size=40).map(bytes.hex),
    "ntime": st.integers(0, 2**32 - 1),
    "nonce": st.integers(0, 2**32 - 1),
    "version_bits": st.integers(0, 2**32 - 1),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shares=st.lists(share, max_size=40), size=st.integers(0, 32),
       branch=st.integers(0, 3))
def test_any_batch_round_trips_with_identical_verdicts(shares: list[dict[str, Any]],
                                                       size: int, branch: int) -> None:
    job = dict(sample()["jobs"][0], job_id="j1", extranonce2_size=size,
               merkle_branch=[f"{k:02x}" * 32 for k in range(branch)],
               share_difficulty="0.001")
    job2 = dict(job, job_id="j2", coinb1="", share_difficulty=3)
    parsed = parse_batch(json.dumps({"jobs": [job, job2], "shares": shares}))
    decoded = decode_packed(encode_packed(parsed))
    assert decoded.canonical_json() == parsed.canonical_json()
    first, again = verify_batch(parsed, backend=BACKEND), verify_batch(decoded, backend=BACKEND)
    assert np.array_equal(first.verdicts, again.verdicts)
    assert np.array_equal(first.hashes, again.hashes)


def header_with(packed: bytes, **counts: int) -> bytes:
    header = np.frombuffer(packed, HEADER_DTYPE, 1).copy()
    for name, value in counts.items():
        header[0][name] = value
    return header.tobytes() + packed[HEADER_DTYPE.itemsize:]


@pytest.mark.parametrize(("change", "field"), [
    ({"share_count": 2**32 - 1}, "packed_batch.share_count"),
    ({"job_count": 200_000}, "packed_batch.job_count"),
    ({"job_bytes": 2**31}, "packed_batch.job_bytes"),
    ({"extranonce2_bytes": 2**32 - 1}, "packed_batch.extranonce2_bytes"),
    ({"unknown_job_ids": 10**6}, "packed_batch.unknown_job_ids"),
    ({"share_count": 5}, "packed_batch"),  # the length no longer matches
    ({"magic": b"JSON"}, "packed_batch.magic"),
])
def test_sizes_are_checked_before_anything_is_allocated(change: dict[str, Any],
                                                         field: str) -> None:
    packed = encode_packed(parse_batch(json.dumps(sample())))
    with pytest.raises(MalformedBatch) as caught:
        decode_packed(header_with(packed, **change), max_shares=1000)
    assert caught.value.field == field


def test_refused_fields_are_named() -> None:
    parsed = parse_batch(json.dumps(sample()))
    packed = bytearray(encode_packed(parsed))
    jobs_at = HEADER_DTYPE.itemsize
    shares_at = jobs_at + len(parsed.jobs) * 76
    bad_job = bytearray(packed)
    struct.pack_into("<I", bad_job, jobs_at + 16, 33)  # extranonce2_size
    bad_ref = bytearray(packed)
    struct.pack_into("<I", bad_ref, shares_at + 20, 99)  # second share's job reference
    bad_nbits = bytearray(packed)
    struct.pack_into("<I", bad_nbits, jobs_at + 12, 0)
    for data, field in ((bad_job, "packed_batch.jobs[0].extranonce2_size"),
                        (bad_ref, "packed_batch.shares[1].job"),
                        (bad_nbits, "packed_batch.jobs[0].nbits"),
                        (packed[:40], "packed_batch")):
        with pytest.raises(MalformedBatch) as caught:
            decode_packed(bytes(data))
        assert caught.value.field == field
    with pytest.raises(MalformedBatch) as caught:
        decode_packed(bytes(packed), max_shares=len(parsed) - 1)
    assert caught.value.field == "packed_batch.share_count"


def test_an_unknown_job_id_that_names_a_job_is_refused() -> None:
    doc = sample()
    job = dict(doc["jobs"][0], job_id="jobjob01")
    shares = [dict(doc["shares"][0], job_id="jobjob01"),
              dict(doc["shares"][0], job_id="zzzzzzzz")]
    packed = encode_packed(parse_batch(json.dumps({"jobs": [job], "shares": shares})))
    assert packed.count(b"zzzzzzzz") == 1
    with pytest.raises(MalformedBatch) as caught:
        decode_packed(packed.replace(b"zzzzzzzz", b"jobjob01"))
    assert caught.value.field == "packed_batch.unknown_job_ids"


def test_an_extranonce2_longer_than_the_layout_allows_is_refused_when_encoding() -> None:
    doc = sample()
    doc["shares"][0]["extranonce2"] = "00" * 256
    with pytest.raises(MalformedBatch) as caught:
        encode_packed(parse_batch(json.dumps(doc)))
    assert caught.value.field == "shares[0].extranonce2"


@settings(max_examples=300, deadline=None)
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1,
                      max_size=6),
       cut=st.integers(0, 40))
def test_a_corrupted_packed_batch_is_refused_cleanly_or_decodes(
        flips: list[tuple[int, int]], cut: int) -> None:
    """Any damage is MalformedBatch naming a field of the packed form, never another
    exception; what still decodes is a well-formed batch."""
    data = bytearray(CORRUPTIBLE)
    for at, xor in flips:
        data[at % len(data)] ^= xor
    damaged = bytes(data[: len(data) - cut])
    try:
        decoded = decode_packed(damaged)
    except MalformedBatch as exc:
        assert exc.field.startswith("packed_batch")
    else:
        verify_batch(decoded, backend=BACKEND)
        assert decode_packed(encode_packed(decoded)).canonical_json() == \
            decoded.canonical_json()


CORRUPTIBLE = encode_packed(parse_batch(json.dumps(odd_shares(sample()))))

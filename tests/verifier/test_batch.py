"""Parsing proof batches: the JSON form, the packed form and structural faults."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from verifier.batch import MalformedBatch, load_batch, parse_batch
from verifier.packed import JOB_DTYPE, SHARE_DTYPE

JOB = {
    "job_id": "j1", "version": 536870912, "prevhash": "11" * 32, "coinb1": "aabb",
    "coinb2": "ccdd", "extranonce1": "01020304", "extranonce2_size": 4,
    "merkle_branch": ["22" * 32, "33" * 32], "nbits": 386089497, "ntime": 1767225600,
    "version_mask": 536862720, "share_difficulty": 65536,
}
SHARE = {"job_id": "j1", "extranonce2": "00000001", "ntime": 1767225601,
         "nonce": 2596996162, "version_bits": 0}


def batch(**top: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"jobs": [dict(JOB)], "shares": [dict(SHARE), dict(SHARE)]}
    doc.update(top)
    return doc


def test_record_layouts_match_the_kernel_structs():
    assert JOB_DTYPE.itemsize == 13 * 4 + 3 * 32 == 148
    assert SHARE_DTYPE.itemsize == 5 * 4 + 32 == 52


def test_parses_jobs_and_packs_shares():
    parsed = parse_batch(json.dumps(batch(coinbase_tag="aabb")))
    job = parsed.jobs[0]
    assert job.prevhash == b"\x11" * 32 and job.merkle_branch == (b"\x22" * 32, b"\x33" * 32)
    assert job.share_difficulty == Decimal(65536)
    packed = parsed.packed
    assert packed.shares.dtype == SHARE_DTYPE and len(packed) == 2
    assert packed.shares["job"].tolist() == [0, 0]
    assert bytes(packed.shares["extranonce2"][0][:4]) == b"\x00\x00\x00\x01"
    row = packed.jobs[0]
    assert bytes(packed.job_bytes[row["coinb2_off"]: row["coinb2_off"] + row["coinb2_len"]]) \
        == b"\xcc\xdd"
    assert packed.branches.shape == (2, 32)
    assert parsed.coinbase_tag == b"\xaa\xbb"


def test_round_trips_through_json_with_a_stable_digest():
    doc = batch(coinbase_tag="aabb")
    doc["jobs"][0]["share_difficulty"] = Decimal("0.001")
    doc["shares"].append(dict(SHARE, job_id="ghost", extranonce2="ff" * 40))
    parsed = parse_batch(doc)
    again = parse_batch(parsed.canonical_json())
    assert again.to_json_dict() == parsed.to_json_dict()
    assert again.digest() == parsed.digest()
    assert parsed.to_json_dict()["shares"][2] == dict(SHARE, job_id="ghost",
                                                       extranonce2="ff" * 40)
    changed = copy.deepcopy(doc)
    changed["shares"][0]["nonce"] += 1
    assert parse_batch(changed).digest() != parsed.digest()


def test_float_difficulty_in_json_text_is_read_exactly():
    text = json.dumps(batch()).replace('"share_difficulty": 65536', '"share_difficulty": 0.1')
    assert parse_batch(text).jobs[0].share_difficulty == Decimal("0.1")


def test_per_share_faults_are_not_structural():
    doc = batch()
    doc["shares"] = [dict(SHARE, job_id="unknown"), dict(SHARE, extranonce2="00"),
                     dict(SHARE, version_bits=1)]
    parsed = parse_batch(doc)
    assert parsed.packed.shares["job"].tolist() == [-1, 0, 0]
    assert parsed.share_job_id(0) == "unknown"


def mutate(path: str, value: Any, delete: bool = False) -> dict[str, Any]:
    doc = batch()
    parts = path.split(".")
    target: Any = doc
    for part in parts[:-1]:
        name, _, index = part.partition("[")
        target = target[name][int(index[:-1])] if index else target[name]
    if delete:
        del target[parts[-1]]
    else:
        target[parts[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"),
    [
        ("jobs[0].prevhash", "zz" * 32, "jobs[0].prevhash", "not valid hex"),
        ("jobs[0].prevhash", "11" * 31, "jobs[0].prevhash", "must be 32 bytes"),
        ("jobs[0].merkle_branch", ["22" * 33], "jobs[0].merkle_branch[0]", "must be 32 bytes"),
        ("jobs[0].coinb1", "abc", "jobs[0].coinb1", "not valid hex"),
        ("jobs[0].coinb2", "aa bb", "jobs[0].coinb2", "not valid hex"),
        ("jobs[0].share_difficulty", 0, "jobs[0].share_difficulty", "positive"),
        ("jobs[0].share_difficulty", -3, "jobs[0].share_difficulty", "positive"),
        ("jobs[0].share_difficulty", "NaN", "jobs[0].share_difficulty", "finite"),
        ("jobs[0].share_difficulty", "1e999999", "jobs[0].share_difficulty", "[2^-32, 2^64]"),
        ("jobs[0].share_difficulty", "9" * 5000, "jobs[0].share_difficulty", "at most 64"),
        ("jobs[0].share_difficulty", 2**64 + 1, "jobs[0].share_difficulty", "[2^-32, 2^64]"),
        ("jobs[0].share_difficulty", "2.3e-10", "jobs[0].share_difficulty", "[2^-32, 2^64]"),
        ("jobs[0].share_difficulty", 1e-300, "jobs[0].share_difficulty", "[2^-32, 2^64]"),
        ("jobs[0].nbits", 0x1D800000, "jobs[0].nbits", "sign bit"),
        ("jobs[0].version", 2**32, "jobs[0].version", "between 0 and"),
        ("jobs[0].extranonce2_size", 33, "jobs[0].extranonce2_size", "between 0 and 32"),
        ("jobs[0].job_id", "", "jobs[0].job_id", "non-empty"),
        ("shares[1].extranonce2", "0g000000", "shares[1].extranonce2", "not valid hex"),
        ("shares[1].nonce", True, "shares[1].nonce", "integer"),
        ("shares[1].nonce", 2**32, "shares[1].nonce", "between 0 and"),
        ("shares[0].ntime", "1767225601", "shares[0].ntime", "integer"),
        ("shares[0].version_bits", -1, "shares[0].version_bits", "between 0 and"),
        ("shares[0].job_id", 5, "shares[0].job_id", "string"),
        ("coinbase_tag", "xyz", "coinbase_tag", "not valid hex"),
    ],
)
def test_structural_faults_name_the_field(path, value, field, reason):
    with pytest.raises(MalformedBatch) as caught:
        parse_batch(mutate(path, value))
    assert caught.value.field == field
    assert reason in caught.value.reason


@pytest.mark.parametrize("path", ["jobs[0].nbits", "jobs[0].prevhash", "shares[1].nonce",
                                  "shares[0].extranonce2", "jobs"])
def test_missing_fields_are_named(path):
    with pytest.raises(MalformedBatch) as caught:
        parse_batch(mutate(path, None, delete=True))
    assert caught.value.field == path
    assert caught.value.reason == "is missing"


def test_too_many_shares_is_rejected_before_parsing_them():
    doc = batch()
    doc["shares"] = [dict(SHARE)] * 3 + ["not even an object"]
    with pytest.raises(MalformedBatch) as caught:
        parse_batch(doc, max_shares=3)
    assert caught.value.field == "shares" and "more than the maximum 3" in caught.value.reason


def test_default_maximum_is_a_million_shares():
    doc = {"jobs": [], "shares": [0] * 1_000_001}
    with pytest.raises(MalformedBatch, match="more than the maximum 1000000"):
        parse_batch(doc)


@pytest.mark.parametrize("text", ["", "{", "[]", '{"jobs": [], "shares": {}}',
                                  '{"jobs": [], "shares": [], "x": NaN}', '"str"'])
def test_undecodable_or_wrongly_shaped_documents(text):
    with pytest.raises(MalformedBatch):
        parse_batch(text)


def test_duplicate_job_ids_are_structural():
    doc = batch()
    doc["jobs"].append(dict(JOB))
    with pytest.raises(MalformedBatch) as caught:
        parse_batch(doc)
    assert caught.value.field == "jobs[1].job_id"


def test_load_batch_reports_unreadable_files(tmp_path):
    with pytest.raises(MalformedBatch) as caught:
        load_batch(tmp_path / "absent.json")
    assert caught.value.field == "file"
    path = tmp_path / "b.json"
    path.write_text(json.dumps(batch()))
    assert len(load_batch(path)) == 2


def test_empty_batch_packs_to_empty_arrays():
    parsed = parse_batch({"jobs": [], "shares": []})
    assert parsed.packed.jobs.shape == (0,) and parsed.packed.branches.shape == (0, 32)
    assert np.asarray(parsed.packed.shares).shape == (0,)


def test_share_difficulty_bounds_are_inclusive():
    for edge in (Fraction(1, 2**32), 2**64):
        value = str(Decimal(edge.numerator) / Decimal(edge.denominator)) \
            if isinstance(edge, Fraction) else edge
        doc = mutate("jobs[0].share_difficulty", value)
        assert parse_batch(doc).jobs[0].share_difficulty == Decimal(value)
    for absurd in ("1e999999999", "-1e999999999", "1e-999999999"):
        with pytest.raises(MalformedBatch):
            parse_batch(mutate("jobs[0].share_difficulty", absurd))

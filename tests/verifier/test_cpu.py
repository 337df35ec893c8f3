"""The CPU backend: worker processes give the same answer as the in-process path."""

from __future__ import annotations

import numpy as np

from tests.verifier.reference import bitcoin_headers, random_batch, reference_verify
from verifier.batch import parse_batch
from verifier.cpu import CpuBackend, hash_shares_inprocess, sha256d_rows
from verifier.target import nbits_to_target
from verifier.verdicts import Verdict
from verifier.verification import check_headers, verify_batch


def test_worker_processes_match_the_in_process_path_and_the_reference():
    doc = random_batch(seed=3, shares=600)
    parsed = parse_batch(doc)
    pooled = CpuBackend(workers=2, inprocess_threshold=1)
    single = hash_shares_inprocess(parsed.packed)
    multi = pooled.hash_shares(parsed.packed)
    assert np.array_equal(single.hashes, multi.hashes)
    assert np.array_equal(single.flags, multi.flags)
    result = verify_batch(parsed, backend=pooled)
    expected = reference_verify(doc)
    assert [Verdict(v).name for v in result.verdicts.tolist()] == [e[0] for e in expected]
    assert [bytes(h) for h in result.hashes] == [e[1] for e in expected]
    assert len(set(v for v, _, _ in expected)) >= 6  # the random batch hits most verdicts


def test_worker_processes_check_headers():
    vectors = bitcoin_headers()
    raw = b"".join(bytes.fromhex(v["header"]) for v in vectors) * 50
    headers = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 80)
    targets = [nbits_to_target(int(v["nbits"], 16)) for v in vectors] * 50
    hashes, ok = check_headers(headers, targets, CpuBackend(workers=2, inprocess_threshold=1))
    assert ok.all() and hashes.shape == (len(targets), 32)
    assert bytes(hashes[-1])[::-1].hex() == vectors[-1]["hash"]


def test_sha256d_rows_hashes_each_row():
    import hashlib

    rows = b"abc" * 4
    expected = b"".join(hashlib.sha256(hashlib.sha256(rows[i:i + 3]).digest()).digest()
                        for i in range(0, 12, 3))
    assert sha256d_rows(rows, 3) == expected

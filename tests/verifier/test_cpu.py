"""The CPU backend: worker processes give the same answer as the in-process path."""

from __future__ import annotations

import numpy as np
import pytest

from tests.pool_workers import kill_workers
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

    rows = np.frombuffer(b"abc\x00" * 3 + b"\x00\x00\x00\x00", dtype=np.uint8).reshape(4, 4)
    expected = [hashlib.sha256(hashlib.sha256(bytes(r)).digest()).digest() for r in rows]
    assert [bytes(d) for d in sha256d_rows(rows)] == expected  # trailing zero bytes kept
    assert [bytes(d) for d in sha256d_rows(rows[:, :0])] == [
        hashlib.sha256(hashlib.sha256(b"").digest()).digest()] * 4
    assert sha256d_rows(rows[:0]).shape == (0, 32)


def test_worker_processes_check_headers_of_uneven_chunks_through_shared_memory():
    import hashlib

    headers = np.frombuffer(np.random.default_rng(5).bytes(80 * 1001), dtype=np.uint8)
    headers = headers.reshape(1001, 80)
    expected = [hashlib.sha256(hashlib.sha256(bytes(h)).digest()).digest() for h in headers]
    for workers in (2, 3):
        hashes, ok = CpuBackend(workers=workers, inprocess_threshold=1).check_headers(
            headers, np.full(32, 0xFF, dtype=np.uint8))
        assert [bytes(h) for h in hashes] == expected
        assert ok.all()


def test_the_shared_arena_is_kept_grown_and_freed():
    import hashlib

    from verifier import cpu

    backend = CpuBackend(workers=2, inprocess_threshold=1)
    for n in (300, 200, 5000):  # kept for the smaller batch, grown for the larger one
        headers = np.frombuffer(np.random.default_rng(n).bytes(80 * n), dtype=np.uint8)
        headers = headers.reshape(n, 80)
        hashes, _ = backend.check_headers(headers, np.zeros(32, dtype=np.uint8))
        assert bytes(hashes[-1]) == hashlib.sha256(
            hashlib.sha256(bytes(headers[-1])).digest()).digest()
        block = cpu._ARENA.block
        assert block is not None and block.size >= n * (80 + 32 + 1)
        if n == 300:
            first = block.name
        if n == 200:
            assert block.name == first
    cpu.shutdown_pool()
    assert cpu._ARENA.block is None


class FailingRows:
    """Headers whose third chunk cannot be read (as a caller's array might fail midway)."""

    def __init__(self, headers: np.ndarray) -> None:
        self.headers, self.shape, self.reads = headers, headers.shape, 0

    def __getitem__(self, rows: slice) -> np.ndarray:
        self.reads += 1
        if self.reads == 3:
            raise MemoryError("the third chunk")
        return self.headers[rows]


def test_a_failed_header_check_leaves_no_worker_writing_into_the_arena(monkeypatch):
    """Chunks already sent are finished (or cancelled) before the error leaves the arena's
    lock, so the next call cannot read their late digests as its own."""
    import hashlib
    from concurrent.futures import wait as real_wait

    from verifier import cpu

    waited = []

    def checked_wait(futures):
        done = real_wait(futures)
        waited.append(all(f.done() for f in futures) and len(futures))
        return done

    monkeypatch.setattr(cpu, "wait", checked_wait)
    headers = np.frombuffer(np.random.default_rng(9).bytes(80 * 4000), dtype=np.uint8)
    headers = headers.reshape(4000, 80)
    backend = CpuBackend(workers=2, inprocess_threshold=1)
    with pytest.raises(MemoryError, match="third chunk"):
        backend.check_headers(FailingRows(headers), np.zeros(32, dtype=np.uint8))
    assert waited == [2]  # the two chunks sent were waited for
    hashes, _ = backend.check_headers(headers, np.zeros(32, dtype=np.uint8))
    assert [bytes(h) for h in hashes] == [
        hashlib.sha256(hashlib.sha256(bytes(h)).digest()).digest() for h in headers]


def test_a_batch_whose_workers_were_killed_is_hashed_in_process_and_later_on_new_ones(
        caplog, monkeypatch):
    # A worker killed (the kernel's OOM killer, a signal to the server's process group)
    # breaks the pool: that batch is still answered, the next ones too, in process for a
    # while, and then on fresh workers.
    from verifier import cpu, worker_pool

    backend = CpuBackend(workers=2, inprocess_threshold=1)
    doc = random_batch(seed=41, shares=300)
    expected = [bytes(e[1]) for e in reference_verify(doc)]
    parsed = parse_batch(doc)
    headers = np.frombuffer(np.random.default_rng(3).bytes(80 * 500), dtype=np.uint8)
    headers = headers.reshape(500, 80)
    try:
        assert [bytes(h) for h in verify_batch(parsed, backend=backend).hashes] == expected
        first = cpu._WORKERS.current
        assert first is not None
        kill_workers(first)
        assert [bytes(h) for h in verify_batch(parsed, backend=backend).hashes] == expected
        assert "share verifier workers ended" in caplog.text
        hashes, _ = backend.check_headers(headers, np.zeros(32, dtype=np.uint8))
        assert np.array_equal(hashes, sha256d_rows(headers))
        assert cpu._WORKERS.current is None  # paused: in this process
        monkeypatch.setattr(worker_pool, "PAUSE_AFTER_BREAK_SECONDS", 0.0)
        hashes, _ = backend.check_headers(headers, np.zeros(32, dtype=np.uint8))
        second = cpu._WORKERS.current
        assert second is not None and second is not first  # fresh workers
        assert np.array_equal(hashes, sha256d_rows(headers))
        kill_workers(second)
        hashes, _ = backend.check_headers(headers, np.zeros(32, dtype=np.uint8))
        assert np.array_equal(hashes, sha256d_rows(headers))
        assert cpu._WORKERS.current is None and cpu._ARENA.block is None  # no late writer shares it
    finally:
        cpu.shutdown_pool()


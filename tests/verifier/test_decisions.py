"""The array-generic verdicts and duplicate detection (verifier.decisions,
verifier.duplicates) against the previous per-submission NumPy implementation, kept here
as the reference; planted duplicates within and across submissions, earlier acceptances
as a set and as a batched query, and crafted 64-bit key collisions."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier.batch import ShareBatch, parse_batch
from verifier.decisions import ShareColumns
from verifier.duplicates import AlreadyAccepted, repeated_hashes, to_host
from verifier.packed import (
    HASH_FLAG_HASHED,
    HASH_FLAG_NETWORK,
    HASH_FLAG_SHARE,
    PackedBatch,
    ShareHashes,
    hashable_mask,
)
from verifier.verdicts import NTIME_WINDOW_SECONDS, Verdict
from verifier.verification import VerificationResult, concatenate, verify_batches
from verifier.work import WorkTally


def device_module() -> Any:
    """Returns CuPy when it imports and sees a CUDA device, else None."""
    try:
        import cupy

        return cupy if int(cupy.cuda.runtime.getDeviceCount()) > 0 else None
    except Exception:  # ImportError, no driver, no device
        return None


CUPY = device_module()
ON_GPU = pytest.param(CUPY, id="cupy", marks=[
    pytest.mark.gpu, pytest.mark.skipif(CUPY is None, reason="no CUDA device")])


# --- the previous implementation (per submission, NumPy only), as the reference ---------


def reference_decide(batch: ShareBatch, hashes: np.ndarray, flags: np.ndarray,
                     coinbase_tags: Sequence[bytes] | None, foreign_tags: Sequence[bytes],
                     inactive_ntime: Sequence[tuple[int, int]],
                     already_accepted: AlreadyAccepted | None) -> VerificationResult:
    packed = batch.packed
    n = len(packed)
    shares, jobs = packed.shares, packed.jobs
    tags = list(coinbase_tags) if coinbase_tags is not None else (
        [batch.coinbase_tag] if batch.coinbase_tag is not None else []
    )
    tagged = np.array(
        [not tags or any(job.has_tag(t) for t in tags) for job in batch.jobs], dtype=bool
    )
    foreign = np.array(
        [any(job.has_tag(t) for t in foreign_tags) for job in batch.jobs], dtype=bool
    )
    job = shares["job"]
    known = job >= 0
    safe = np.where(known, job, 0)
    hashable = hashable_mask(packed)
    verdicts = np.full(n, Verdict.ACCEPTED, dtype=np.uint8)
    if jobs.shape[0]:
        job_rows = jobs[safe]
        mask = job_rows["version_mask"]
        job_ntime = job_rows["ntime"].astype(np.int64)
        share_ntime = shares["ntime"].astype(np.int64)
        inactive = np.zeros(n, dtype=bool)
        for low, high in inactive_ntime:
            inactive |= (share_ntime >= low) & (share_ntime < high)
        verdicts[inactive] = Verdict.LICENCE_NOT_ACTIVE
        verdicts[(flags & HASH_FLAG_SHARE) == 0] = Verdict.LOW_DIFFICULTY
        verdicts[~tagged[safe]] = Verdict.UNTAGGED_COINBASE
        verdicts[foreign[safe]] = Verdict.FOREIGN_COINBASE_TAG
        ntime_bad = (share_ntime < job_ntime) | (share_ntime > job_ntime + NTIME_WINDOW_SECONDS)
        verdicts[ntime_bad] = Verdict.NTIME_OUT_OF_RANGE
        verdicts[(shares["version_bits"] & ~mask) != 0] = Verdict.BAD_VERSION_BITS
        verdicts[known & ~hashable] = Verdict.BAD_EXTRANONCE2_SIZE
    verdicts[~known] = Verdict.UNKNOWN_JOB
    reference_mark_duplicates(verdicts, hashes, already_accepted)
    block = ((flags & HASH_FLAG_NETWORK) != 0) & (
        (verdicts == Verdict.ACCEPTED) | (verdicts == Verdict.LOW_DIFFICULTY)
    )
    accepted = verdicts == Verdict.ACCEPTED
    per_job = np.bincount(job[accepted], minlength=jobs.shape[0]).tolist()
    works = [j.share_work for j in batch.jobs]
    tally = WorkTally(
        shares=int(accepted.sum()),
        work=sum(c * w for c, w in zip(per_job, works, strict=True)),
        work_squared=sum(c * w * w for c, w in zip(per_job, works, strict=True)),
    )
    return VerificationResult(batch, "reference", verdicts, hashes, block, tally)


def reference_mark_duplicates(verdicts: np.ndarray, hashes: np.ndarray,
                              already_accepted: AlreadyAccepted | None) -> None:
    candidates = np.nonzero(verdicts == Verdict.ACCEPTED)[0]
    if candidates.size == 0:
        return
    keys = np.ascontiguousarray(hashes[candidates]).view(np.dtype((np.void, 32))).ravel()
    _, first = np.unique(keys, return_index=True)
    repeat = np.ones(candidates.size, dtype=bool)
    repeat[first] = False
    verdicts[candidates[repeat]] = Verdict.DUPLICATE
    if already_accepted is None:
        return
    firsts = np.sort(first)
    unique_hashes = keys[firsts].tolist()
    if callable(already_accepted):
        seen_set = set(already_accepted(unique_hashes))
        again = np.fromiter(map(seen_set.__contains__, unique_hashes), dtype=bool,
                            count=len(unique_hashes))
    else:
        again = np.fromiter(map(already_accepted.__contains__, unique_hashes), dtype=bool,
                            count=len(unique_hashes))
    verdicts[candidates[firsts[again]]] = Verdict.DUPLICATE


# --- planted hashes ---------------------------------------------------------------------


def colliding_pool(seed: int, size: int) -> list[bytes]:
    """Returns hashes in families sharing their first 8 bytes (a crafted 64-bit key
    collision), some differing only in byte 0's low bits or only in the last byte."""
    rng = np.random.default_rng(seed)
    pool: list[bytes] = []
    while len(pool) < size:
        base = bytes(rng.integers(0, 256, 32, dtype=np.uint8))
        pool.append(base)
        pool.append(base[:8] + bytes(rng.integers(0, 256, 24, dtype=np.uint8)))
        pool.append(base[:31] + bytes([base[31] ^ 1]))
        pool.append(bytes([base[0] ^ 1]) + base[1:])
    return pool[:size]


class PlantedBackend:
    """A backend whose 'hashes' are drawn from a small pool (so they repeat and collide)
    and whose flags are random, with the HASHED bit where the share is hashable."""

    name = "planted"

    def __init__(self, seed: int, pool: list[bytes]) -> None:
        self.seed = seed
        self.pool = np.frombuffer(b"".join(pool), dtype=np.uint8).reshape(-1, 32)
        self.calls: list[str] = []

    def hash_shares(self, packed: PackedBatch) -> ShareHashes:
        self.calls.append("host")
        return self.planted(packed)

    def planted(self, packed: PackedBatch) -> ShareHashes:
        rng = np.random.default_rng(self.seed)
        n = len(packed)
        hashable = hashable_mask(packed)
        hashes = self.pool[rng.integers(0, self.pool.shape[0], n)].copy()
        hashes[~hashable] = 0
        share = np.where(rng.integers(0, 5, n) > 0, HASH_FLAG_SHARE, 0)  # mostly met
        bits = (share | np.where(rng.integers(0, 2, n) > 0, HASH_FLAG_NETWORK, 0)).astype(
            np.uint8)
        flags = np.where(hashable, bits | HASH_FLAG_HASHED, 0).astype(np.uint8)
        return ShareHashes(hashes, flags)


class DeviceBackend(PlantedBackend):
    """The same, through the device-resident entry point: NumPy or CuPy arrays."""

    def __init__(self, seed: int, pool: list[bytes], xp: Any) -> None:
        super().__init__(seed, pool)
        self.array_module = xp

    def hash_shares(self, packed: PackedBatch) -> ShareHashes:
        raise AssertionError("the device path must not ask for host hashes")

    def hash_shares_device(self, packed: PackedBatch
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        self.calls.append("device")
        computed = self.planted(packed)
        xp = self.array_module
        # Half of the calls hand back the uploaded records (read for the verdicts on
        # the device), half do not (the columns are then taken from the packed batch).
        records = (xp.asarray(packed.shares.view(np.uint8).reshape(len(packed), 52))
                   if len(self.calls) % 2 else None)
        return xp.asarray(computed.hashes), xp.asarray(computed.flags), records


# --- random submissions -------------------------------------------------------------------


@st.composite
def submissions(draw: st.DrawFn) -> ShareBatch:
    jobs: list[dict[str, Any]] = []
    for k in range(draw(st.integers(0, 3))):
        jobs.append({
            "job_id": f"j{k}",
            "version": 0x20000000,
            "prevhash": bytes(32).hex(),
            "coinb1": (b"x" if draw(st.integers(0, 3)) == 0 else b"TAG").hex(),
            "coinb2": (b"OTHER" if draw(st.integers(0, 3)) == 0 else b"").hex(),
            "extranonce1": "00",
            "extranonce2_size": draw(st.integers(0, 4)),
            "merkle_branch": [],
            "nbits": 0x207FFFFF,
            "ntime": draw(st.sampled_from([1, 1000, 2**32 - 8000])),
            "version_mask": draw(st.sampled_from([0x1FFFE000, 0])),
            "share_difficulty": str(draw(st.sampled_from([Decimal("3e-10"), Decimal(1)]))),
        })
    shares: list[dict[str, Any]] = []
    for _ in range(draw(st.sampled_from([0, 1, 2, 5, 16, 24]))):
        job = draw(st.sampled_from(jobs)) if jobs else None
        size = (job["extranonce2_size"] if job else 1) + draw(st.sampled_from([0, 0, 0, 0, 0, 1]))
        shares.append({
            "job_id": job["job_id"] if job and draw(st.integers(0, 9)) else "missing",
            "extranonce2": bytes(size).hex(),
            "ntime": (job["ntime"] if job else 5) + draw(st.sampled_from([0, 0, 0, 0, 7001, -1])),
            "nonce": 0,
            "version_bits": draw(st.sampled_from([0, 0, 0, 0, 0, 0x2000, 0x1])),
        })
    batch: dict[str, Any] = {"jobs": jobs, "shares": shares}
    if draw(st.booleans()):
        batch["coinbase_tag"] = b"TAG".hex()
    return parse_batch(batch)


@st.composite
def calls(draw: st.DrawFn) -> dict[str, Any]:
    batches = draw(st.lists(submissions(), min_size=1, max_size=4))
    pool = colliding_pool(draw(st.integers(0, 2**32 - 1)), draw(st.integers(1, 8)))
    seen_kinds = draw(st.lists(st.sampled_from(["none", "set", "query"]),
                               min_size=len(batches), max_size=len(batches)))
    return {
        "batches": batches,
        "seed": draw(st.integers(0, 2**32 - 1)),
        "pool": pool,
        "seen": [(kind, set(draw(st.lists(st.sampled_from(pool), max_size=4))))
                 for kind in seen_kinds],
        "tags": [draw(st.sampled_from([None, [b"TAG"], [b"OTHER", b"nope"]])) for _ in batches],
        "foreign": [draw(st.sampled_from([(), [b"OTHER"]])) for _ in batches],
        "inactive": [draw(st.sampled_from([(), [(0, 1000)], [(1000, 1001), (5, 7)]]))
                     for _ in batches],
    }


def already_accepted_of(spec: list[tuple[str, set[bytes]]], asked: list[list[bytes]]
                        ) -> list[AlreadyAccepted | None]:
    """Returns the per-submission earlier acceptances; queries record what they are
    asked."""
    def query(earlier: set[bytes]) -> AlreadyAccepted:
        def ask(hashes: Sequence[bytes]) -> list[bytes]:
            asked.append(list(hashes))
            return [h for h in hashes if h in earlier]
        return ask

    return [None if kind == "none" else earlier if kind == "set" else query(earlier)
            for kind, earlier in spec]


def assert_same(got: VerificationResult, expected: VerificationResult) -> None:
    assert got.verdicts.dtype == expected.verdicts.dtype == np.uint8
    assert got.verdicts.tolist() == expected.verdicts.tolist()
    assert np.array_equal(got.hashes, expected.hashes)
    assert got.block_candidates.dtype == expected.block_candidates.dtype
    assert got.block_candidates.tolist() == expected.block_candidates.tolist()
    assert got.tally == expected.tally


@pytest.mark.parametrize("device", [pytest.param(None, id="host"),
                                    pytest.param(np, id="device-numpy"), ON_GPU])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(call=calls())
def test_verify_batches_equals_the_previous_implementation_per_submission(
        device: Any, call: dict[str, Any]):
    """Planted repeats within a submission, the same hashes across submissions (never
    compared with each other), earlier acceptances as a set and as a query (asked the
    same hashes in the same order), and crafted 64-bit key collisions; the device entry
    point with NumPy as its array module gives the same."""
    batches = call["batches"]
    backend = (PlantedBackend(call["seed"], call["pool"]) if device is None
               else DeviceBackend(call["seed"], call["pool"], device))
    asked_new: list[list[bytes]] = []
    results = verify_batches(batches, coinbase_tags=call["tags"],
                             foreign_tags=call["foreign"], inactive_ntime=call["inactive"],
                             already_accepted=already_accepted_of(call["seen"], asked_new),
                             backend=cast(Any, backend))
    assert backend.calls == ["host" if device is None else "device"]

    combined, starts = concatenate([b.packed for b in batches])
    computed = PlantedBackend(call["seed"], call["pool"]).planted(combined)
    asked_old: list[list[bytes]] = []
    seen_old = already_accepted_of(call["seen"], asked_old)
    for k, batch in enumerate(batches):
        a, b = starts[k], starts[k + 1]
        expected = reference_decide(batch, computed.hashes[a:b].copy(),
                                    computed.flags[a:b].copy(), call["tags"][k],
                                    call["foreign"][k], call["inactive"][k], seen_old[k])
        assert_same(results[k], expected)
        assert results[k].backend == "planted"
    assert asked_new == asked_old


@st.composite
def candidate_sets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, list[int]]:
    pool = colliding_pool(draw(st.integers(0, 2**32 - 1)), draw(st.integers(1, 16)))
    n = draw(st.integers(0, 60))
    rows = [draw(st.sampled_from(pool)) for _ in range(n)]
    hashes = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(n, 32)
    candidates = np.array(sorted(draw(st.sets(st.integers(0, max(n - 1, 0)), max_size=n)))
                          if n else [], dtype=np.int64)
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
    return hashes, candidates, [0, *cuts, n]


@pytest.mark.parametrize("xp", [pytest.param(np, id="numpy"), ON_GPU])
@settings(max_examples=300, deadline=None)
@given(case=candidate_sets())
def test_repeats_are_exact_per_submission_even_when_64_bit_keys_collide(
        xp: Any, case: tuple[np.ndarray, np.ndarray, list[int]]):
    hashes, candidates, starts = case
    repeat = to_host(xp, repeated_hashes(xp, xp.asarray(hashes), xp.asarray(candidates),
                                         starts))
    seen: set[tuple[int, bytes]] = set()
    expected = []
    for index in candidates.tolist():
        submission = sum(1 for s in starts[1:-1] if s <= index)
        key = (submission, bytes(hashes[index]))
        expected.append(key in seen)
        seen.add(key)
    assert repeat.tolist() == expected


def test_a_crafted_64_bit_collision_is_not_a_duplicate_but_its_true_repeat_is():
    a = bytes(range(32))
    b = a[:8] + bytes(24)  # same first 8 bytes, different hash
    hashes = np.frombuffer(a + b + a + b + b, dtype=np.uint8).reshape(5, 32)
    repeat = repeated_hashes(np, hashes, np.arange(5), [0, 5])
    assert repeat.tolist() == [False, False, True, True, True]
    # In two submissions, the second's first occurrences are not repeats.
    repeat = repeated_hashes(np, hashes, np.arange(5), [0, 2, 5])
    assert repeat.tolist() == [False, False, False, False, True]


@pytest.mark.parametrize("xp", [pytest.param(np, id="numpy"), ON_GPU])
@settings(max_examples=40, deadline=None)
@given(batch=submissions())
def test_share_columns_from_raw_records_equal_those_from_the_packed_batch(
        xp: Any, batch: ShareBatch):
    shares = batch.packed.shares
    records = xp.asarray(np.ascontiguousarray(shares).view(np.uint8).reshape(-1, 52))
    from_records = ShareColumns.from_records(xp, records)
    expected = ShareColumns.of(np, batch.packed)
    for name in ("job", "ntime", "version_bits", "extranonce2_len"):
        got = to_host(xp, getattr(from_records, name))
        assert got.dtype == shares.dtype[name]
        assert got.tolist() == getattr(expected, name).tolist()

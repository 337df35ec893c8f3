"""A plain, readable reference verifier for tests: one share at a time, no NumPy.

It follows DESIGN.md §4 literally, with Python ints and Fractions, so the fast backends
can be compared against it.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

T1 = 0xFFFF * 2**208


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def target_from_difficulty(difficulty: Any) -> int:
    d = Fraction(Decimal(str(difficulty)))
    return min(int(Fraction(T1) / d), 2**256 - 1)  # int() of a positive Fraction floors


def target_from_nbits(nbits: int) -> int:
    exponent, mantissa = nbits >> 24, nbits & 0x7FFFFF
    return mantissa * 256 ** (exponent - 3) if exponent >= 3 else mantissa >> 8 * (3 - exponent)


def share_hash(job: dict[str, Any], share: dict[str, Any]) -> bytes:
    coinbase = (bytes.fromhex(job["coinb1"]) + bytes.fromhex(job["extranonce1"])
                + bytes.fromhex(share["extranonce2"]) + bytes.fromhex(job["coinb2"]))
    root = sha256d(coinbase)
    for branch in job["merkle_branch"]:
        root = sha256d(root + bytes.fromhex(branch))
    mask = job.get("version_mask", 0)
    version = (job["version"] & ~mask) | (share.get("version_bits", 0) & mask)
    header = (version.to_bytes(4, "little") + bytes.fromhex(job["prevhash"]) + root
              + share["ntime"].to_bytes(4, "little") + job["nbits"].to_bytes(4, "little")
              + share["nonce"].to_bytes(4, "little"))
    assert len(header) == 80
    return sha256d(header)


def reference_verify(
    batch: dict[str, Any], tags: list[bytes] | None = None, seen: set[bytes] | None = None
) -> list[tuple[str, bytes, bool]]:
    """Returns (verdict, hash or 32 zero bytes, block candidate) for every share."""
    jobs = {job["job_id"]: job for job in batch["jobs"]}
    if tags is None:
        tags = [bytes.fromhex(batch["coinbase_tag"])] if batch.get("coinbase_tag") else []
    accepted = set(seen or ())
    results = []
    for share in batch["shares"]:
        job = jobs.get(share["job_id"])
        if job is None:
            results.append(("UNKNOWN_JOB", bytes(32), False))
            continue
        if len(bytes.fromhex(share["extranonce2"])) != job["extranonce2_size"]:
            results.append(("BAD_EXTRANONCE2_SIZE", bytes(32), False))
            continue
        digest = share_hash(job, share)
        value = int.from_bytes(digest, "little")
        coinb = bytes.fromhex(job["coinb1"]), bytes.fromhex(job["coinb2"])
        is_block = value <= target_from_nbits(job["nbits"])
        if share.get("version_bits", 0) & ~job.get("version_mask", 0):
            verdict = "BAD_VERSION_BITS"
        elif not job["ntime"] <= share["ntime"] <= job["ntime"] + 7000:
            verdict = "NTIME_OUT_OF_RANGE"
        elif tags and not any(t in coinb[0] or t in coinb[1] for t in tags):
            verdict = "UNTAGGED_COINBASE"
        elif value > target_from_difficulty(job["share_difficulty"]):
            verdict = "LOW_DIFFICULTY"
        elif digest in accepted:
            verdict = "DUPLICATE"
        else:
            verdict = "ACCEPTED"
            accepted.add(digest)
        block = is_block and verdict in ("ACCEPTED", "LOW_DIFFICULTY")
        results.append((verdict, digest, block))
    return results


def vectors_dir() -> Path:
    """Returns the test-vector folder kept with the tests (real Bitcoin mainnet headers:
    public data, so a clone needs nothing beside it)."""
    return Path(__file__).resolve().parent / "vectors"


def bitcoin_headers() -> list[dict[str, Any]]:
    data = json.loads((vectors_dir() / "bitcoin-headers.json").read_text())
    headers: list[dict[str, Any]] = data["headers"]
    return headers


def random_batch(seed: int, shares: int, jobs: int = 4) -> dict[str, Any]:
    """Returns a random batch exercising every path: varied coinbase sizes (across SHA-256
    block boundaries), branch lengths, masks, difficulties, and faulty shares."""
    import random

    rng = random.Random(seed)
    job_list: list[dict[str, Any]] = []
    for k in range(jobs):
        size = rng.choice([0, 4, 8])
        job_list.append({
            "job_id": f"r{k}",
            "version": rng.getrandbits(32),
            "prevhash": rng.randbytes(32).hex(),
            "coinb1": rng.randbytes(rng.randint(0, 130)).hex(),
            "coinb2": rng.randbytes(rng.randint(0, 130)).hex(),
            "extranonce1": rng.randbytes(rng.randint(0, 8)).hex(),
            "extranonce2_size": size,
            "merkle_branch": [rng.randbytes(32).hex() for _ in range(rng.randint(0, 12))],
            "nbits": rng.choice([0x1D00FFFF, 0x207FFFFF, 0x2000FFFF]),
            "ntime": rng.randint(1, 2**31),
            "version_mask": rng.choice([0, 0x1FFFE000, 0xFFFFFFFF]),
            "share_difficulty": rng.choice(["2.4e-10", "3e-10", "7e-10", "1"]),  # ≥ 2^-32
        })
    share_list: list[dict[str, Any]] = []
    for _ in range(shares):
        job = rng.choice(job_list)
        size = job["extranonce2_size"] + (rng.choice([-1, 1]) if rng.random() < 0.05 else 0)
        share_list.append({
            "job_id": job["job_id"] if rng.random() > 0.03 else "gone",
            "extranonce2": rng.randbytes(max(size, 0)).hex(),
            "ntime": job["ntime"] + rng.choice([0, 5, 6999, 7001]),
            "nonce": rng.getrandbits(32),
            "version_bits": rng.choice([0, 0x2000, 1]),
        })
    return {"jobs": job_list, "shares": share_list}

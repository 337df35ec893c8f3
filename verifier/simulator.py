"""A share simulator that mines genuine Stratum shares with hashlib.

A miner of hashrate H working for T seconds at share difficulty D finds on average
``H * T / (D * 2**32)`` shares. The simulator draws that count from a Poisson
distribution and then really mines each share: it searches nonces until the header's
SHA256d meets the share target, so every share is a true proof of about D * 2**32 hashes.
The work done is therefore about H * T hashes in earnest; keep H * T small (tiny
difficulties such as 2**-24, about 256 hashes per share, and hashrates of a few H/s) and
the figures of reconciliation stay consistent with the physics.

Miners can be honest, run above their licensed capacity, withhold shares (submit only a
fraction of what they find), or hide output (report only a fraction of their blocks).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from hashlib import sha256
from typing import Any

import numpy as np

from verifier.target import (
    HASHES_PER_DIFFICULTY_1,
    T1,
    as_difficulty,
    nbits_to_target,
    share_target,
    target_to_nbits,
)

DEFAULT_SHARE_DIFFICULTY = Decimal(2) ** -24
"""About 256 hashes per share: cheap to mine, still a genuine proof."""
DEFAULT_VERSION = 0x20000000
DEFAULT_VERSION_MASK = 0x1FFFE000
"""BIP 320 general-purpose version bits, as ASIC boost rolls them."""
MAX_SIMULATED_SHARES = 200_000


class SimulationTooLarge(ValueError):
    """The requested hashrate, period and difficulty would need too many shares."""


def _sha256d(data: bytes) -> bytes:
    return sha256(sha256(data).digest()).digest()


@dataclass(frozen=True)
class SimulatedMiner:
    """A miner's true behaviour over a period."""

    hashrate: Decimal
    """True hashrate in H/s."""
    coinbase_tag: bytes
    share_difficulty: Decimal | tuple[Decimal, ...] = DEFAULT_SHARE_DIFFICULTY
    """One difficulty, or several that successive jobs cycle through (vardiff)."""
    share_submit_fraction: float = 1.0
    """Below 1 the miner withholds shares: each found share is submitted with this chance."""
    output_report_fraction: Decimal = Decimal(1)
    """Below 1 the miner hides output: it reports this fraction of its blocks' value."""
    extranonce1: bytes = b"\x08\x00\x00\x2a"
    extranonce2_size: int = 4

    @property
    def difficulties(self) -> tuple[Decimal, ...]:
        """Returns the share difficulties jobs cycle through."""
        d = self.share_difficulty
        return d if isinstance(d, tuple) else (d,)


def honest_miner(hashrate: Decimal, coinbase_tag: bytes, **kwargs: Any) -> SimulatedMiner:
    """Returns a miner that submits every share and reports all its output."""
    return SimulatedMiner(hashrate=hashrate, coinbase_tag=coinbase_tag, **kwargs)


def over_capacity_miner(
    licensed_hashrate: Decimal, factor: Decimal, coinbase_tag: bytes, **kwargs: Any
) -> SimulatedMiner:
    """Returns an honest-reporting miner running ``factor`` times its licensed hashrate."""
    return SimulatedMiner(hashrate=licensed_hashrate * factor, coinbase_tag=coinbase_tag,
                          **kwargs)


def withholding_miner(
    hashrate: Decimal, submit_fraction: float, coinbase_tag: bytes, **kwargs: Any
) -> SimulatedMiner:
    """Returns a miner that submits only a fraction of its shares (hiding hashrate) but
    reports all its output."""
    return SimulatedMiner(hashrate=hashrate, coinbase_tag=coinbase_tag,
                          share_submit_fraction=submit_fraction, **kwargs)


@dataclass(frozen=True)
class SimulatedPeriod:
    """What a simulated miner did in a period, and the proof batch it submits."""

    batch: dict[str, Any]
    """The proof batch in the JSON form of DESIGN.md §4 (bytes as hex strings)."""
    shares_found: int
    shares_submitted: int
    blocks_found: int
    """Found shares that also meet the network target (withheld ones included)."""
    hashes_tried: int
    """SHA256d evaluations actually spent mining: the real work behind the proofs."""
    network_difficulty: Fraction
    """T1 / network target, for the target that the jobs' nbits encode."""
    miner: SimulatedMiner = field(repr=False)

    def reported_output(self, reward_per_block: Decimal) -> Decimal:
        """Returns the output the miner reports for the period."""
        return self.blocks_found * reward_per_block * self.miner.output_report_fraction


def expected_shares(hashrate: Decimal, seconds: Decimal | int, difficulty: object) -> Fraction:
    """Returns H * T / (D * 2**32), the mean number of shares found."""
    return (
        Fraction(Decimal(hashrate)) * Fraction(Decimal(seconds))
        / (as_difficulty(difficulty) * HASHES_PER_DIFFICULTY_1)
    )


def hashrate_for_shares(shares: int | Decimal, seconds: int, difficulty: object) -> Decimal:
    """Returns the hashrate (H/s) that finds ``shares`` shares on average in ``seconds``."""
    value = Fraction(Decimal(shares)) * as_difficulty(difficulty) * HASHES_PER_DIFFICULTY_1
    value /= seconds
    return Decimal(value.numerator) / Decimal(value.denominator)


def network_nbits(network_difficulty: object) -> int:
    """Returns the nbits of the target floor(T1 / D) (rounded down to compact form)."""
    return target_to_nbits(share_target(network_difficulty))


def _coinbase_parts(tag: bytes, height: int, extranonce_size: int, payout: bytes
                    ) -> tuple[bytes, bytes]:
    """Returns (coinb1, coinb2) of a one-input, one-output coinbase transaction."""
    height_push = bytes([3]) + height.to_bytes(3, "little")
    tag_push = bytes([len(tag)]) + tag if len(tag) < 76 else b"\x4c" + bytes([len(tag)]) + tag
    script_len = len(height_push) + len(tag_push) + extranonce_size
    if script_len > 100:
        raise ValueError("coinbase tag too long for a coinbase script")
    coinb1 = (
        struct.pack("<I", 1) + b"\x01" + b"\x00" * 32 + b"\xff\xff\xff\xff"
        + bytes([script_len]) + height_push + tag_push
    )
    script_pubkey = b"\x76\xa9\x14" + payout + b"\x88\xac"
    coinb2 = (
        b"\xff\xff\xff\xff" + b"\x01" + struct.pack("<Q", 312_500_000)
        + bytes([len(script_pubkey)]) + script_pubkey + b"\x00\x00\x00\x00"
    )
    return coinb1, coinb2


def mine_period(
    miner: SimulatedMiner,
    *,
    start_time: int,
    seconds: int,
    network_difficulty: object,
    seed: int = 0,
    job_seconds: int = 600,
    branch_length: int = 3,
    profile: Sequence[tuple[int, Decimal]] | None = None,
    max_shares: int = MAX_SIMULATED_SHARES,
) -> SimulatedPeriod:
    """Returns a period of genuine mining by ``miner`` and its proof batch.

    ``profile`` splits the period into (seconds, hashrate) segments; by default the
    miner's hashrate holds for the whole period. A new job is issued every ``job_seconds``
    (with the next share difficulty of the miner's cycle). Deterministic for a seed.
    """
    if seconds <= 0 or job_seconds <= 0:
        raise ValueError("seconds and job_seconds must be positive")
    if job_seconds > 7000:
        raise ValueError("job_seconds must not exceed the 7000 s ntime window")
    segments = list(profile) if profile is not None else [(seconds, miner.hashrate)]
    if sum(s for s, _ in segments) != seconds:
        raise ValueError("profile segments must add up to the period")
    rng = np.random.default_rng(seed)
    nbits = network_nbits(network_difficulty)
    network_target = nbits_to_target(nbits)
    prevhash = rng.bytes(32)
    payout = rng.bytes(20)

    jobs: list[dict[str, Any]] = []
    shares: list[dict[str, Any]] = []
    found = blocks = tried = 0
    extranonce2 = 0
    job_start = 0
    while job_start < seconds:
        job_end = min(job_start + job_seconds, seconds)
        k = len(jobs)
        difficulty = miner.difficulties[k % len(miner.difficulties)]
        target = share_target(difficulty)
        coinb1, coinb2 = _coinbase_parts(
            miner.coinbase_tag, 900_000 + k,
            len(miner.extranonce1) + miner.extranonce2_size, payout,
        )
        branch = [rng.bytes(32) for _ in range(branch_length)]
        job_ntime = start_time + job_start
        job = {
            "job_id": f"{seed:x}-{k:x}",
            "version": DEFAULT_VERSION,
            "prevhash": prevhash.hex(),
            "coinb1": coinb1.hex(),
            "coinb2": coinb2.hex(),
            "extranonce1": miner.extranonce1.hex(),
            "extranonce2_size": miner.extranonce2_size,
            "merkle_branch": [b.hex() for b in branch],
            "nbits": nbits,
            "ntime": job_ntime,
            "version_mask": DEFAULT_VERSION_MASK,
            "share_difficulty": str(difficulty),
        }
        jobs.append(job)
        mean = _mean_shares(segments, job_start, job_end, difficulty)
        count = int(rng.poisson(float(mean)))
        if found + count > max_shares:
            raise SimulationTooLarge(
                f"about {float(mean):.0f} shares per job exceeds {max_shares}: raise the "
                "share difficulty or lower the hashrate or period"
            )
        times = np.sort(rng.uniform(job_start, job_end, size=count))
        for t in times.tolist():
            en2 = extranonce2.to_bytes(miner.extranonce2_size, "little")
            extranonce2 += 1
            version_bits = int(rng.integers(0, 2**32)) & DEFAULT_VERSION_MASK
            ntime = start_time + int(t)
            nonce, digest, hashes = _mine_share(
                coinb1 + miner.extranonce1 + en2 + coinb2, branch, prevhash,
                (DEFAULT_VERSION & ~DEFAULT_VERSION_MASK) | version_bits, ntime, nbits,
                target, int(rng.integers(0, 2**32)),
            )
            tried += hashes
            found += 1
            if int.from_bytes(digest, "little") <= network_target:
                blocks += 1
            if rng.random() < miner.share_submit_fraction:
                shares.append({
                    "job_id": job["job_id"],
                    "extranonce2": en2.hex(),
                    "ntime": ntime,
                    "nonce": nonce,
                    "version_bits": version_bits,
                })
        job_start = job_end
    batch = {"jobs": jobs, "shares": shares, "coinbase_tag": miner.coinbase_tag.hex()}
    return SimulatedPeriod(
        batch=batch,
        shares_found=found,
        shares_submitted=len(shares),
        blocks_found=blocks,
        hashes_tried=tried,
        network_difficulty=Fraction(T1, network_target),
        miner=miner,
    )


def _mean_shares(
    segments: Sequence[tuple[int, Decimal]], start: int, end: int, difficulty: Decimal
) -> Fraction:
    """Returns the mean share count over [start, end) of a piecewise-constant hashrate."""
    mean = Fraction(0)
    seg_start = 0
    for length, hashrate in segments:
        seg_end = seg_start + length
        overlap = min(end, seg_end) - max(start, seg_start)
        if overlap > 0:
            mean += expected_shares(hashrate, overlap, difficulty)
        seg_start = seg_end
    return mean


def _mine_share(
    coinbase: bytes, branch: Sequence[bytes], prevhash: bytes, version: int, ntime: int,
    nbits: int, target: int, nonce: int,
) -> tuple[int, bytes, int]:
    """Returns (nonce, hash, hashes tried): the first nonce from ``nonce`` on that meets
    the target, wrapping at 2**32."""
    root = _sha256d(coinbase)
    for b in branch:
        root = _sha256d(root + b)
    head = struct.pack("<I", version) + prevhash + root + struct.pack("<II", ntime, nbits)
    first = sha256(head[:64])  # the first block is the same for every nonce
    tail = head[64:]
    for tried in range(1, 2**32 + 1):
        h = first.copy()
        h.update(tail + nonce.to_bytes(4, "little"))
        digest = sha256(h.digest()).digest()
        if int.from_bytes(digest, "little") <= target:
            return nonce, digest, tried
        nonce = (nonce + 1) & 0xFFFFFFFF
    raise RuntimeError("no nonce meets the target")  # pragma: no cover - needs D >= 2**32

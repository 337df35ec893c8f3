"""Share verification: real Bitcoin headers, every verdict, version rolling, fractional
difficulty, duplicates, and a property test against the plain reference implementation."""

from __future__ import annotations

import copy
import hashlib
from decimal import Decimal
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.verifier.reference import (
    bitcoin_headers,
    reference_verify,
    sha256d,
    share_hash,
    target_from_nbits,
)
from verifier.batch import parse_batch
from verifier.cpu import CpuBackend
from verifier.simulator import hashrate_for_shares, honest_miner, mine_period
from verifier.target import T1, nbits_to_target, share_target, work_of_target
from verifier.verdicts import Verdict
from verifier.verification import (
    achieved_difficulty,
    check_headers,
    verify_batch,
    verify_batches,
)

CPU = CpuBackend(workers=1)
TAG = b"/valedger-test/"
START = 1_767_225_600

GENESIS_COINBASE = bytes.fromhex(
    "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04"
    "ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e20"
    "6272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01"
    "000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4c"
    "ef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000"
)


def headers_array() -> np.ndarray:
    raw = b"".join(bytes.fromhex(h["header"]) for h in bitcoin_headers())
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, 80).copy()


# --- real Bitcoin headers -------------------------------------------------------------

def test_real_headers_hash_to_their_published_hashes_and_meet_their_network_target():
    vectors = bitcoin_headers()
    targets = [nbits_to_target(int(h["nbits"], 16)) for h in vectors]
    hashes, ok = check_headers(headers_array(), targets, backend=CPU)
    for vector, digest in zip(vectors, hashes, strict=True):
        assert bytes(digest)[::-1].hex() == vector["hash"]
    assert ok.all()
    # The nbits in the header itself (bytes 72..76) is the one the vector names.
    for vector in vectors:
        header = bytes.fromhex(vector["header"])
        assert int.from_bytes(header[72:76], "little") == int(vector["nbits"], 16)


@pytest.mark.parametrize("index", range(len(bitcoin_headers())))
def test_real_header_valid_just_below_its_share_difficulty_invalid_just_above(index: int):
    vector = bitcoin_headers()[index]
    header = headers_array()[index : index + 1]
    difficulty = Decimal(str(vector["share_difficulty"]))  # rounded to 4 places
    below = share_target(difficulty - Decimal("0.0001"))
    above = share_target(difficulty + Decimal("0.0001"))
    assert check_headers(header, below, backend=CPU)[1].tolist() == [True]
    assert check_headers(header, above, backend=CPU)[1].tolist() == [False]
    digest = bytes(check_headers(header, below, backend=CPU)[0][0])
    assert abs(achieved_difficulty(digest) - float(difficulty)) < 0.0001


def test_flipping_any_nonce_bit_of_a_real_header_fails_its_target():
    vectors = bitcoin_headers()
    rows, targets = [], []
    for i, vector in enumerate(vectors):
        base = headers_array()[i]
        nonce = int.from_bytes(bytes(base[76:80]), "little")
        for bit in range(32):
            flipped = base.copy()
            flipped[76:80] = np.frombuffer((nonce ^ (1 << bit)).to_bytes(4, "little"), np.uint8)
            rows.append(flipped)
            targets.append(nbits_to_target(int(vector["nbits"], 16)))
    _, ok = check_headers(np.stack(rows), targets, backend=CPU)
    assert ok.shape == (32 * len(vectors),)
    assert not ok.any()


def genesis_batch(**share_overrides: Any) -> dict[str, Any]:
    """The genesis block as a Stratum job: its real coinbase split around 8 extranonce
    bytes, an empty merkle branch, and the share that found it."""
    genesis = bytes.fromhex(bitcoin_headers()[0]["header"])
    cut = 8 + 2 * 32  # inside the scriptSig
    job = {
        "job_id": "genesis", "version": 1, "prevhash": genesis[4:36].hex(),
        "coinb1": GENESIS_COINBASE[:cut].hex(),
        "extranonce1": GENESIS_COINBASE[cut : cut + 4].hex(),
        "extranonce2_size": 4,
        "coinb2": GENESIS_COINBASE[cut + 8 :].hex(),
        "merkle_branch": [], "nbits": int.from_bytes(genesis[72:76], "little"),
        "ntime": int.from_bytes(genesis[68:72], "little"), "version_mask": 0,
        "share_difficulty": 1,
    }
    share = {"job_id": "genesis", "extranonce2": GENESIS_COINBASE[cut + 4 : cut + 8].hex(),
             "ntime": job["ntime"], "nonce": int.from_bytes(genesis[76:80], "little"),
             "version_bits": 0}
    share.update(share_overrides)
    return {"jobs": [job], "shares": [share],
            "coinbase_tag": b"second bailout".hex()}


def test_genesis_block_verifies_through_the_whole_stratum_path_as_a_block_candidate():
    result = verify_batch(parse_batch(genesis_batch()), backend=CPU)
    share = result.share(0)
    assert share.verdict is Verdict.ACCEPTED
    assert share.hash_hex == bitcoin_headers()[0]["hash"]
    assert share.block_candidate
    assert result.accepted_work == work_of_target(T1) == 4295032833  # Bitcoin's block-0 work


def test_genesis_with_a_changed_extranonce2_is_a_low_difficulty_share():
    result = verify_batch(parse_batch(genesis_batch(extranonce2="00000000")), backend=CPU)
    assert result.share(0).verdict is Verdict.LOW_DIFFICULTY
    assert not result.share(0).block_candidate
    assert result.accepted_work == 0


# --- every verdict --------------------------------------------------------------------

@pytest.fixture(scope="module")
def mined() -> dict[str, Any]:
    miner = honest_miner(hashrate_for_shares(40, 3600, Decimal(2) ** -24), TAG)
    return mine_period(miner, start_time=START, seconds=3600, network_difficulty=Decimal(2)
                       ** -24 * 16, seed=7, job_seconds=1800).batch


def verdicts_of(batch: dict[str, Any], **kwargs: Any) -> list[str]:
    result = verify_batch(parse_batch(batch), backend=CPU, **kwargs)
    return [Verdict(v).name for v in result.verdicts.tolist()]


def test_mined_shares_are_all_accepted(mined):
    assert len(mined["shares"]) > 10
    assert set(verdicts_of(mined)) == {"ACCEPTED"}


def one_share(mined: dict[str, Any], **changes: Any) -> dict[str, Any]:
    batch = copy.deepcopy(mined)
    batch["shares"] = [dict(batch["shares"][0], **changes)]
    return batch


def test_unknown_job(mined):
    assert verdicts_of(one_share(mined, job_id="nope")) == ["UNKNOWN_JOB"]


def test_bad_extranonce2_size(mined):
    assert verdicts_of(one_share(mined, extranonce2="00112233aa")) == ["BAD_EXTRANONCE2_SIZE"]
    assert verdicts_of(one_share(mined, extranonce2="")) == ["BAD_EXTRANONCE2_SIZE"]
    assert verdicts_of(one_share(mined, extranonce2="ab" * 40)) == ["BAD_EXTRANONCE2_SIZE"]


def test_bad_version_bits(mined):
    share = mined["shares"][0]
    assert verdicts_of(one_share(mined, version_bits=share["version_bits"] | 1)) == [
        "BAD_VERSION_BITS"]


def test_ntime_out_of_range_on_both_sides(mined):
    job = next(j for j in mined["jobs"] if j["job_id"] == mined["shares"][0]["job_id"])
    assert verdicts_of(one_share(mined, ntime=job["ntime"] - 1)) == ["NTIME_OUT_OF_RANGE"]
    assert verdicts_of(one_share(mined, ntime=job["ntime"] + 7001)) == ["NTIME_OUT_OF_RANGE"]


def test_untagged_coinbase_against_the_licence_tags(mined):
    assert verdicts_of(mined, coinbase_tags=[b"/other-licence/"])[0] == "UNTAGGED_COINBASE"
    assert set(verdicts_of(mined, coinbase_tags=[b"/other/", TAG])) == {"ACCEPTED"}
    untagged = copy.deepcopy(mined)
    del untagged["coinbase_tag"]
    assert set(verdicts_of(untagged)) == {"ACCEPTED"}  # no tag required
    untagged["coinbase_tag"] = b"absent".hex()
    assert set(verdicts_of(untagged)) == {"UNTAGGED_COINBASE"}


def test_low_difficulty_when_the_nonce_changes(mined):
    share = mined["shares"][0]
    verdicts = [verdicts_of(one_share(mined, nonce=(share["nonce"] + k) % 2**32))[0]
                for k in range(1, 6)]
    assert "LOW_DIFFICULTY" in verdicts  # 5 random hashes each pass with p = 1/2**8


def test_duplicates_within_the_batch_and_against_earlier_acceptances(mined):
    batch = copy.deepcopy(mined)
    batch["shares"] = [*batch["shares"][:3], batch["shares"][1], batch["shares"][1]]
    assert verdicts_of(batch) == ["ACCEPTED"] * 3 + ["DUPLICATE"] * 2
    first = verify_batch(parse_batch(batch), backend=CPU)
    earlier = {first.accepted_hashes()[0]}
    assert verdicts_of(batch, already_accepted=earlier) == [
        "DUPLICATE", "ACCEPTED", "ACCEPTED", "DUPLICATE", "DUPLICATE"]
    asked: list[list[bytes]] = []

    def index(hashes):
        asked.append(list(hashes))
        return [h for h in hashes if h in earlier]

    assert verdicts_of(batch, already_accepted=index)[0] == "DUPLICATE"
    assert len(asked) == 1 and len(asked[0]) == 3  # one query, unique candidates only


def test_a_faulty_copy_does_not_make_the_good_share_a_duplicate(mined):
    batch = copy.deepcopy(mined)
    good = batch["shares"][0]
    batch["shares"] = [dict(good, version_bits=good["version_bits"] | 1), good]
    assert verdicts_of(batch) == ["BAD_VERSION_BITS", "ACCEPTED"]


def test_version_rolling_changes_the_header_and_is_honoured(mined):
    share = mined["shares"][0]
    job = next(j for j in mined["jobs"] if j["job_id"] == share["job_id"])
    assert share["version_bits"] & job["version_mask"]  # the simulator rolls bits
    result = verify_batch(parse_batch(one_share(mined)), backend=CPU)
    assert bytes(result.hashes[0]) == share_hash(job, share)
    unrolled = dict(share, version_bits=0)
    assert share_hash(job, unrolled) != share_hash(job, share)
    # The same share without the rolled bits is another header, almost surely too weak.
    assert verdicts_of(one_share(mined, version_bits=0)) in (["LOW_DIFFICULTY"], ["ACCEPTED"])
    assert bytes(verify_batch(parse_batch(one_share(mined, version_bits=0)),
                              backend=CPU).hashes[0]) == share_hash(job, unrolled)


def test_fractional_difficulty_is_compared_exactly(mined):
    share = mined["shares"][0]
    job_index = next(i for i, j in enumerate(mined["jobs"]) if j["job_id"] == share["job_id"])
    value = int.from_bytes(share_hash(mined["jobs"][job_index], share), "little")
    # The largest difficulty the share still meets is T1 / value; use 30 digits around it.
    exact = Decimal(T1) / Decimal(value)
    for difficulty, expected in ((exact * Decimal("0.999999999"), "ACCEPTED"),
                                 (exact * Decimal("1.000000001"), "LOW_DIFFICULTY")):
        batch = one_share(mined)
        batch["jobs"][job_index]["share_difficulty"] = str(difficulty)
        assert verdicts_of(batch) == [expected]
        assert share_target(difficulty) == (T1 * 10**40) // int(difficulty * 10**40)


def test_accepted_work_is_the_exact_sum_over_shares(mined):
    result = verify_batch(parse_batch(mined), backend=CPU)
    per_share = work_of_target(share_target(Decimal(2) ** -24))
    assert result.accepted_work == per_share * len(mined["shares"])
    assert result.tally.work_squared == per_share**2 * len(mined["shares"])
    assert per_share == 2**256 // (share_target(Decimal(2) ** -24) + 1)
    assert result.counts["ACCEPTED"] == len(mined["shares"])
    assert result.ntime_range == (min(s["ntime"] for s in mined["shares"]),
                                  max(s["ntime"] for s in mined["shares"]))


def test_block_candidates_are_the_shares_meeting_nbits(mined):
    result = verify_batch(parse_batch(mined), backend=CPU)
    network = target_from_nbits(mined["jobs"][0]["nbits"])
    expected = [int.from_bytes(bytes(h), "little") <= network for h in result.hashes]
    assert result.block_candidates.tolist() == expected
    assert any(expected)  # network difficulty 16x the share difficulty: ~1 in 16


def test_result_json_lists_every_share(mined):
    result = verify_batch(parse_batch(mined), backend=CPU)
    rows = [s.to_json_dict() for s in result.shares()]
    assert [r["verdict"] for r in rows] == ["ACCEPTED"] * len(mined["shares"])
    assert rows[0]["hash"] == bytes(result.hashes[0])[::-1].hex()
    assert rows[0]["work"] == work_of_target(share_target(Decimal(2) ** -24))
    assert result.summary()["accepted_work"] == result.accepted_work


# --- property test against the reference ------------------------------------------------

hex_bytes = st.binary(min_size=0, max_size=40).map(bytes.hex)


@st.composite
def random_batches(draw: st.DrawFn) -> dict[str, Any]:
    njobs = draw(st.integers(1, 3))
    jobs: list[dict[str, Any]] = []
    for k in range(njobs):
        jobs.append({
            "job_id": f"j{k}",
            "version": draw(st.integers(0, 2**32 - 1)),
            "prevhash": draw(st.binary(min_size=32, max_size=32)).hex(),
            "coinb1": draw(hex_bytes) + (b"TAG".hex() if draw(st.booleans()) else ""),
            "coinb2": draw(hex_bytes),
            "extranonce1": draw(st.binary(max_size=8)).hex(),
            "extranonce2_size": draw(st.integers(0, 8)),
            "merkle_branch": [b.hex() for b in draw(
                st.lists(st.binary(min_size=32, max_size=32), max_size=3))],
            "nbits": draw(st.sampled_from([0x1D00FFFF, 0x2000FFFF, 0x207FFFFF, 0x20010000])),
            "ntime": draw(st.integers(1, 2**32 - 8000)),
            "version_mask": draw(st.sampled_from([0, 0x1FFFE000, 0xFFFFFFFF])),
            "share_difficulty": str(draw(st.sampled_from(
                [Decimal("2.4e-10"), Decimal("3e-10"), Decimal("0.0000000007"), Decimal(1)]))),
        })
    shares: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 12))):
        job = draw(st.sampled_from(jobs))
        size = job["extranonce2_size"] + draw(st.sampled_from([0, 0, 0, 1, -1]))
        shares.append({
            "job_id": job["job_id"] if draw(st.integers(0, 9)) else "missing",
            "extranonce2": draw(st.binary(min_size=max(size, 0), max_size=max(size, 0))).hex(),
            "ntime": job["ntime"] + draw(st.sampled_from([0, 1, 7000, 7001, -1])),
            "nonce": draw(st.integers(0, 2**32 - 1)),
            "version_bits": draw(st.sampled_from([0, 0x2000, 0x1, 0x1FFFE000])),
        })
    repeat: bool = draw(st.booleans())
    if shares and repeat:
        shares.append(dict(shares[0]))
    batch: dict[str, Any] = {"jobs": jobs, "shares": shares}
    if draw(st.booleans()):
        batch["coinbase_tag"] = b"TAG".hex()
    return batch


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_batches())
def test_fast_path_matches_the_reference(batch: dict[str, Any]):
    result = verify_batch(parse_batch(batch), backend=CPU)
    expected = reference_verify(batch)
    got = [(Verdict(v).name, bytes(h), bool(b)) for v, h, b in
           zip(result.verdicts.tolist(), result.hashes, result.block_candidates, strict=True)]
    assert got == expected
    works = [work_of_target(share_target(batch["jobs"][int(j)]["share_difficulty"]))
             for j, v in zip(result.batch.packed.shares["job"].tolist(),
                             result.verdicts.tolist(), strict=True) if v == Verdict.ACCEPTED]
    assert result.accepted_work == sum(works)


def test_reference_agrees_with_hashlib_on_a_plain_header():
    header = bytes.fromhex(bitcoin_headers()[1]["header"])
    assert sha256d(header) == hashlib.sha256(hashlib.sha256(header).digest()).digest()


def test_batches_without_jobs_or_shares_verify_cleanly():
    empty = verify_batch(parse_batch({"jobs": [], "shares": []}), backend=CPU)
    assert empty.verdicts.shape == (0,) and empty.accepted_work == 0
    orphan = {"jobs": [], "shares": [{"job_id": "x", "extranonce2": "00", "ntime": 1,
                                      "nonce": 1}]}
    assert verdicts_of(orphan) == ["UNKNOWN_JOB"]


def test_several_submissions_in_one_call_equal_each_alone(mined):
    """verify_batches hashes every submission in one backend call; each result is what
    verify_batch gives that submission alone (its own tags, duplicates, earlier hashes)."""
    whole = parse_batch(mined)
    repeats = copy.deepcopy(mined)
    repeats["shares"] = [*mined["shares"][:4], mined["shares"][2], dict(mined["shares"][0],
                                                                         job_id="gone")]
    untagged = copy.deepcopy(mined)
    untagged["coinbase_tag"] = b"absent".hex()
    earlier = {verify_batch(whole, backend=CPU).accepted_hashes()[1]}
    batches = [whole, parse_batch(repeats), parse_batch(untagged), whole]
    tags = [None, [TAG], None, [b"/other/"]]
    seen = [None, earlier, None, earlier]
    calls: list[int] = []

    class Counting:
        name = "cpu"

        def hash_shares(self, packed):
            calls.append(len(packed))
            return CPU.hash_shares(packed)

    together = verify_batches(batches, coinbase_tags=tags, already_accepted=seen,
                              backend=cast(Any, Counting()))
    assert calls == [sum(len(b) for b in batches)]
    for batch, tag, before, result in zip(batches, tags, seen, together, strict=True):
        alone = verify_batch(batch, coinbase_tags=tag, already_accepted=before, backend=CPU)
        assert np.array_equal(result.verdicts, alone.verdicts)
        assert np.array_equal(result.hashes, alone.hashes)
        assert np.array_equal(result.block_candidates, alone.block_candidates)
        assert result.tally == alone.tally
    assert {Verdict(v).name for v in together[1].verdicts.tolist()} >= {"DUPLICATE",
                                                                         "UNKNOWN_JOB"}


def test_foreign_coinbase_tag_wins_over_the_licences_own(mined):
    # The coinbase carries TAG; as another licence's tag it is credited to nobody, even
    # when the licence's own tag is there too, and it takes precedence over UNTAGGED.
    assert set(verdicts_of(mined, coinbase_tags=[TAG], foreign_tags=[TAG[1:-1]])) == {
        "FOREIGN_COINBASE_TAG"}
    assert set(verdicts_of(mined, coinbase_tags=[b"/mine/"], foreign_tags=[TAG])) == {
        "FOREIGN_COINBASE_TAG"}
    assert set(verdicts_of(mined, coinbase_tags=[TAG], foreign_tags=[b"/absent/"])) == {
        "ACCEPTED"}


def test_licence_not_active_span_is_half_open(mined):
    ntimes = sorted({s["ntime"] for s in mined["shares"]})
    low, high = ntimes[1], ntimes[-2]
    verdicts = verdicts_of(mined, inactive_ntime=[(low, high)])
    for share, verdict in zip(mined["shares"], verdicts, strict=True):
        inside = low <= share["ntime"] < high
        assert verdict == ("LICENCE_NOT_ACTIVE" if inside else "ACCEPTED"), share["ntime"]
    assert "ACCEPTED" in verdicts and "LICENCE_NOT_ACTIVE" in verdicts
    # A faulty share inside the span keeps its own verdict.
    faulty = one_share(mined, job_id="no-such-job", ntime=low)
    assert verdicts_of(faulty, inactive_ntime=[(low, high)]) == ["UNKNOWN_JOB"]

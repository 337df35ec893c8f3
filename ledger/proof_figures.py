"""The figures of mining proofs: pure functions shared by the ledger and the audit replay.

The tally of a period, the licensed capacity over a period, the policy a reconciliation
reads and the reconciliation itself are computed here and nowhere else: the use cases
(``ledger.proofs``, ``ledger.reconciliations``) and the audit replay check
(``ledger.audit.proof_checks``) call the same code, so an auditor recomputes exactly what
the ledger recorded.

It is long because it is the single owner of every figure a reconciliation records (tallies,
inactive spans, capacity, network spans, pool terms): splitting it would give the ledger
and the audit replay two places to keep in step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import numpy as np

from ledger.domain.base import utc
from ledger.domain.licence import Capacity, MiningLicence
from ledger.domain.policy import PARAMETERS, Policy
from ledger.domain.pool import MiningPool
from ledger.domain.proof_batch import ProofBatch
from ledger.proof_hashes import AcceptedHashes
from ledger.proof_payloads import stored_packed
from verifier.batch import ShareBatch as ParsedBatch
from verifier.batch import parse_batch
from verifier.reconciliation import (
    HASHES_PER_TERAHASH,
    NetworkSpan,
    PayoutScheme,
    PoolTerms,
    ReconciliationPolicy,
    reconcile,
)
from verifier.reconciliation import ReconciliationResult as Computed
from verifier.verdicts import Verdict
from verifier.verification import VerificationResult
from verifier.wire_format import decode_packed
from verifier.work import WorkTally

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_SECOND = timedelta(seconds=1)
ONE_MICROSECOND = timedelta(microseconds=1)
DEFAULT_ASSET = "BTC"
"""The asset whose output reports a reconciliation counts (the shares are Bitcoin's)."""
STORED_BATCH_MAX_SHARES = 2**62
"""No share limit when re-reading a batch that was already accepted for the record."""

RECONCILIATION_PARAMETERS = (
    "capacity_tolerance",
    "efficiency_min_jth",
    "efficiency_max_jth",
    "mandatory_sale_share",
    "pool_output_tolerance",
)
"""The rules a reconciliation reads (in force at the period's last instant)."""
NETWORK_PARAMETERS = ("network_difficulty", "block_subsidy", "mean_fees")
"""The observed network figures, applied to the work done while each value held."""




NTIME_NEVER = 2**62
"""An ntime bound beyond any header time (ntime is 32 bits)."""


def inactive_spans(licence: MiningLicence) -> list[tuple[datetime, datetime | None]]:
    """Returns the spans [start, end) (None: open-ended) in which the licence was not
    active: before its validity, from its end of validity or revocation on, and each
    suspension. The one owner of "when did this licence not count"; relied on by
    ``ledger.proofs`` (LICENCE_NOT_ACTIVE), ``ledger.reconciliations`` (zero capacity
    and quota) and the audit replay."""
    spans: list[tuple[datetime, datetime | None]] = [(EPOCH, licence.valid_from),
                                                      (licence.valid_until, None)]
    if licence.revoked_at is not None:
        spans.append((licence.revoked_at, None))
    spans.extend(licence.suspensions.spans)
    return spans


def inactive_ntime_spans(licence: MiningLicence) -> list[tuple[int, int]]:
    """Returns the inactive spans as ntime bounds [low, high) in whole seconds."""
    return [(epoch_ceil(start), NTIME_NEVER if end is None else epoch_ceil(end))
            for start, end in inactive_spans(licence)]


def verdict_string(codes: np.ndarray) -> str:
    """Returns verdict codes (0-9) as one digit per share: the compact stored form."""
    return (codes.astype(np.uint8) + ord("0")).tobytes().decode("ascii")


def verdict_codes(text: str) -> np.ndarray:
    """Returns the verdict codes of the stored digit string."""
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8) - ord("0")


def tally_of(batch: ParsedBatch, mask: np.ndarray) -> WorkTally:
    """Returns the exact tally (count, Σwork, Σwork²) of the shares selected by ``mask``."""
    jobs = batch.packed.shares["job"][mask]
    per_job = np.bincount(jobs, minlength=len(batch.jobs)).tolist() if jobs.size else []
    works = [job.share_work for job in batch.jobs]
    return WorkTally(
        shares=int(mask.sum()),
        work=sum(c * w for c, w in zip(per_job, works, strict=False)),
        work_squared=sum(c * w * w for c, w in zip(per_job, works, strict=False)),
    )


@dataclass(frozen=True, eq=False)
class Outcome:
    """A batch's verification decided against the shares accepted before it."""

    verdicts: np.ndarray
    block_candidates: np.ndarray
    tally: WorkTally
    accepted_hashes: bytes
    ntime_range: tuple[int, int] | None

    @property
    def counts(self) -> dict[str, int]:
        """Returns the number of shares per verdict name (zeros included)."""
        counts = np.bincount(self.verdicts, minlength=len(Verdict))
        return {v.name: int(counts[v.value]) for v in Verdict}


def decide(result: VerificationResult,
           accepted_before: AcceptedHashes | AbstractSet[bytes]) -> Outcome:
    """Returns the outcome of a batch verified without ``already_accepted``, with every
    share whose hash was accepted earlier for any licence in the country marked
    DUPLICATE.

    Equal to ``verify_batch(..., already_accepted=accepted_before)`` without hashing
    again, so a writer that lost a race re-decides in milliseconds (the audit replay
    runs the full ``verify_batch`` and compares). The ledger's national index
    (``AcceptedHashes``) is asked about every candidate in one whole-array lookup.
    """
    verdicts = result.verdicts.copy()
    block = result.block_candidates.copy()
    candidates = np.nonzero(verdicts == Verdict.ACCEPTED)[0]
    if len(accepted_before) and candidates.size:
        rows = whole_or_part(result.hashes, candidates)
        if isinstance(accepted_before, AcceptedHashes):
            seen = accepted_before.contains(rows)
        else:
            # A set of bytes: a void view makes the keys in one C loop and map() asks
            # the set without a Python step per share.
            keys = rows.view(np.dtype((np.void, 32))).ravel().tolist()
            seen = np.fromiter(map(accepted_before.__contains__, keys), dtype=bool,
                               count=len(keys))
        again = candidates[seen]
        verdicts[again] = Verdict.DUPLICATE
        block[again] = False
    accepted = verdicts == Verdict.ACCEPTED
    ntime = result.batch.packed.shares["ntime"][accepted]
    return Outcome(
        verdicts=verdicts,
        block_candidates=block,
        tally=tally_of(result.batch, accepted),
        accepted_hashes=whole_or_part(result.hashes, accepted).tobytes(),
        ntime_range=(int(ntime.min()), int(ntime.max())) if ntime.size else None,
    )


def whole_or_part(rows: np.ndarray, selected: np.ndarray) -> np.ndarray:
    """Returns the rows selected (by indices or a mask) as a contiguous array: the rows
    themselves, not a copy, when every one is selected (a batch of genuine shares)."""
    every = (selected.size == rows.shape[0] and
             (bool(selected.all()) if selected.dtype == bool else
              rows.shape[0] == 0 or int(selected[-1]) == rows.shape[0] - 1))
    return np.ascontiguousarray(rows if every else rows[selected])


def stored_batch(batch: ProofBatch) -> ParsedBatch:
    """Returns the parsed jobs and shares of a recorded proof batch (packed or JSON, as
    it was submitted)."""
    packed = stored_packed(batch)
    if packed is not None:
        return decode_packed(packed, max_shares=STORED_BATCH_MAX_SHARES)
    return parse_batch(batch.submitted_json(), max_shares=STORED_BATCH_MAX_SHARES)


@dataclass(frozen=True, eq=False)
class AcceptedShares:
    """The accepted shares of one recorded batch: ntime and work of each, compactly, and
    the ntime of its shares refused as LICENCE_NOT_ACTIVE."""

    ntime: np.ndarray  # int64 per accepted share
    job: np.ndarray  # int64 index into ``works`` per accepted share
    works: tuple[int, ...]  # share work per job
    not_active: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    blocks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """ntime of each accepted share that is also a block candidate (a block found)."""

    @classmethod
    def of(cls, parsed: ParsedBatch, codes: np.ndarray,
           block_candidates: Sequence[int] = ()) -> AcceptedShares:
        """Returns the accepted shares of a parsed batch, its verdict codes and the
        indices of its block candidates."""
        accepted = codes == Verdict.ACCEPTED
        shares = parsed.packed.shares
        found = np.zeros(len(codes), dtype=bool)
        found[list(block_candidates)] = True
        return cls(shares["ntime"][accepted].astype(np.int64),
                   shares["job"][accepted].astype(np.int64),
                   tuple(job.share_work for job in parsed.jobs),
                   shares["ntime"][codes == Verdict.LICENCE_NOT_ACTIVE].astype(np.int64),
                   shares["ntime"][found & accepted].astype(np.int64))

    def tally(self, low: int, high: int,
              excluded: Sequence[tuple[int, int]] = ()) -> WorkTally:
        """Returns the tally of the accepted shares with low <= ntime < high outside
        every ``excluded`` span [a, b)."""
        inside = (self.ntime >= low) & (self.ntime < high) & ~_within(self.ntime, excluded)
        per_job = np.bincount(self.job[inside], minlength=len(self.works)).tolist() \
            if inside.any() else []
        return WorkTally(
            shares=int(inside.sum()),
            work=sum(c * w for c, w in zip(per_job, self.works, strict=False)),
            work_squared=sum(c * w * w for c, w in zip(per_job, self.works, strict=False)),
        )

    def credit(self, cuts: Sequence[int], excluded: Sequence[tuple[int, int]]
               ) -> Credit:
        """Returns the tally of each span [cuts[i], cuts[i+1]) less the ``excluded``
        ntime spans, how many shares of [cuts[0], cuts[-1]) were mined while the licence
        was not active (accepted ones inside ``excluded`` and those refused as
        LICENCE_NOT_ACTIVE), and the blocks found by the credited shares."""
        tallies = [self.tally(a, b, excluded) for a, b in pairwise(cuts)]
        low, high = cuts[0], cuts[-1]
        inside = (self.ntime >= low) & (self.ntime < high) & _within(self.ntime, excluded)
        refused = (self.not_active >= low) & (self.not_active < high)
        blocks = (self.blocks >= low) & (self.blocks < high) & ~_within(self.blocks, excluded)
        return Credit(tallies, int(inside.sum()) + int(refused.sum()), int(blocks.sum()))


@dataclass(frozen=True)
class Credit:
    """What a batch contributes to a period: a tally per network span, the shares mined
    while the licence was not active, and the blocks its credited shares found."""

    tallies: list[WorkTally]
    not_active: int
    blocks: int

    @property
    def counts(self) -> bool:
        """Returns True when the batch contributes anything to the period."""
        return bool(self.not_active or self.blocks or any(t.shares for t in self.tallies))


def _within(ntime: np.ndarray, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """Returns a mask of the ntimes inside any span [a, b)."""
    mask = np.zeros(ntime.shape, dtype=bool)
    for a, b in spans:
        mask |= (ntime >= a) & (ntime < b)
    return mask


def epoch_ceil(when: datetime) -> int:
    """Returns the smallest whole Unix second at or after ``when``."""
    seconds, rest = divmod(utc(when) - EPOCH, ONE_SECOND)
    return int(seconds) + (1 if rest else 0)


def ntime_bounds(start: datetime, end: datetime) -> tuple[int, int]:
    """Returns [low, high) in whole seconds: an integer ntime lies in [start, end) exactly
    when low <= ntime < high."""
    return epoch_ceil(start), epoch_ceil(end)


def prorated(value: Decimal, span: tuple[datetime, datetime],
             period: tuple[datetime, datetime]) -> Decimal | None:
    """Returns the part of ``value`` (spread evenly over ``span``) that falls in ``period``,
    ``value`` itself when the span lies inside, None when they do not overlap."""
    (s, e), (ps, pe) = span, period
    if s >= ps and e <= pe:
        return value
    overlap = min(e, pe) - max(s, ps)
    if overlap <= timedelta(0):
        return None
    return value * Decimal(overlap // ONE_MICROSECOND) / Decimal((e - s) // ONE_MICROSECOND)


def capacity_over(capacities: Sequence[Capacity], start: datetime, end: datetime
                  ) -> tuple[Decimal, Decimal]:
    """Returns (MW, J/TH) standing for the licensed capacity over [start, end).

    One capacity in force over the whole period is returned as it is. When an amendment
    takes effect inside the period, MW is the time-weighted mean power and J/TH is chosen
    so that MW × 10⁶ ÷ (J/TH) is the time-weighted mean hashrate cap: the energy quota
    and the capacity test then both follow the licence exactly.
    """
    mw, jth, _ = licensed_over(capacities, (), start, end)
    return mw, jth


def licensed_over(capacities: Sequence[Capacity],
                  inactive: Sequence[tuple[datetime, datetime | None]],
                  start: datetime, end: datetime) -> tuple[Decimal, Decimal, Decimal]:
    """Returns (MW, J/TH, hashrate cap TH/s) over [start, end), time-weighted over
    amendments, with zero power and zero cap inside the ``inactive`` spans (a suspended
    licence may neither mine nor draw power). Without inactive time it is
    :func:`capacity_over`'s (MW, J/TH) and their cap; a period entirely inactive has
    zero MW and cap and the declared J/TH in force at its start."""
    def off(when: datetime) -> bool:
        return any(a <= when and (b is None or when < b) for a, b in inactive)

    edges = {when for span in inactive for when in span if when is not None}
    cuts = sorted({start, end} | {w for w in edges if start < w < end})
    pieces = [(a, b) for a, b in pairwise(cuts) if not off(a)]
    if pieces == [(start, end)]:
        mw, jth = _weighted(capacities, start, end)
        return mw, jth, hashrate_cap(mw, jth)
    total = Decimal((end - start) // ONE_MICROSECOND)
    mw_sum, cap_sum = Decimal(0), Decimal(0)
    for a, b in pieces:
        length = Decimal((b - a) // ONE_MICROSECOND)
        piece_mw, piece_jth = _weighted(capacities, a, b)
        mw_sum += piece_mw * length
        cap_sum += hashrate_cap(piece_mw, piece_jth) * length
    mw, cap = mw_sum / total, cap_sum / total
    if cap == 0:
        return mw, _weighted(capacities, start, end)[1], cap
    return mw, mw * Decimal(1_000_000) / cap, cap


def hashrate_cap(mw: Decimal, jth: Decimal) -> Decimal:
    """Returns MW × 10⁶ ÷ (J/TH) in TH/s."""
    return mw * Decimal(1_000_000) / jth


def _weighted(capacities: Sequence[Capacity], start: datetime, end: datetime
              ) -> tuple[Decimal, Decimal]:
    """Returns capacity_over's (MW, J/TH) without inactive time."""
    def at(when: datetime) -> Capacity:
        current = capacities[0]
        for capacity in capacities:
            if capacity.effective_from <= when:
                current = capacity
        return current

    cuts = sorted({start, end} | {c.effective_from for c in capacities
                                  if start < c.effective_from < end})
    segments = [(at(a), Decimal((b - a) // ONE_MICROSECOND)) for a, b in pairwise(cuts)]
    if len({(c.power_mw, c.efficiency_jth) for c, _ in segments}) == 1:
        first = segments[0][0]
        return first.power_mw, first.efficiency_jth
    total = sum((length for _, length in segments), Decimal(0))
    mw = sum((c.power_mw * length for c, length in segments), Decimal(0)) / total
    cap_ths = sum((c.hashrate_cap_ths * length for c, length in segments), Decimal(0)) / total
    return mw, mw * Decimal(1_000_000) / cap_ths


def policy_inputs(policy: Policy | None, at: datetime, max_version: int | None = None,
                  names: Sequence[str] = RECONCILIATION_PARAMETERS) -> dict[str, Decimal]:
    """Returns the parameters ``names`` in force at ``at`` (defaults where never set),
    counting only policy events up to ``max_version`` when it is given."""
    values: dict[str, Decimal] = {}
    for name in names:
        current = PARAMETERS[name].default
        history = policy.history.get(name, []) if policy is not None else []
        for value in history:
            if value.effective_from <= at and (max_version is None
                                               or value.version <= max_version):
                current = value.value
        assert current is not None  # every reconciliation parameter has a default
        values[name] = Decimal(current)
    return values


@dataclass(frozen=True)
class NetworkWindow:
    """One stretch of a period in which the network figures did not change."""

    start: datetime
    end: datetime
    low: int  # ntime bounds [low, high)
    high: int
    figures: Mapping[str, Decimal]  # network_difficulty, block_subsidy, mean_fees


def network_windows(policy: Policy | None, start: datetime, end: datetime,
                    max_version: int | None = None) -> list[NetworkWindow]:
    """Returns [start, end) cut where any network figure changes, each stretch with the
    figures in force from its start (DESIGN §5: applied per share, not read at the
    period's last instant)."""
    changes: set[datetime] = set()
    if policy is not None:
        for name in NETWORK_PARAMETERS:
            changes.update(v.effective_from for v in policy.history.get(name, [])
                           if start < v.effective_from < end
                           and (max_version is None or v.version <= max_version))
    cuts = sorted({start, end} | changes)
    windows = []
    for a, b in pairwise(cuts):
        low, high = ntime_bounds(a, b)
        windows.append(NetworkWindow(a, b, low, high, policy_inputs(
            policy, a, max_version, NETWORK_PARAMETERS)))
    return windows


@dataclass(frozen=True)
class PeriodInputs:
    """Everything one reconciliation is computed from."""

    start: datetime
    end: datetime
    tally: WorkTally
    licensed_mw: Decimal
    declared_j_per_th: Decimal
    policy: Mapping[str, Decimal]
    reported_output: Decimal | None
    metered_kwh: Decimal | None
    capacity_ths: Decimal | None = None
    network: tuple[tuple[NetworkWindow, WorkTally], ...] = ()
    report_missing: bool = False
    pool: PoolTerms | None = None
    sold: Decimal | None = None
    shares_not_active: int = 0
    proved_blocks: int = 0

    @property
    def seconds(self) -> Decimal:
        """Returns the period's length T in seconds."""
        return Decimal((self.end - self.start) // ONE_MICROSECOND) / Decimal(1_000_000)


def compute(inputs: PeriodInputs) -> Computed:
    """Returns the verifier's reconciliation of the inputs (DESIGN.md §5)."""
    policy = inputs.policy
    return reconcile(
        tally=inputs.tally,
        seconds=inputs.seconds,
        licensed_mw=inputs.licensed_mw,
        declared_j_per_th=inputs.declared_j_per_th,
        licensed_capacity_ths=inputs.capacity_ths,
        network=[NetworkSpan(part.work, window.figures["network_difficulty"],
                             window.figures["block_subsidy"], window.figures["mean_fees"])
                 for window, part in inputs.network],
        reported_output=inputs.reported_output,
        report_missing=inputs.report_missing,
        metered_kwh=inputs.metered_kwh,
        pool=inputs.pool,
        sold_through_exchanges=inputs.sold,
        shares_not_active=inputs.shares_not_active,
        proved_blocks=inputs.proved_blocks,
        policy=ReconciliationPolicy(
            capacity_tolerance=policy["capacity_tolerance"],
            efficiency_min_j_per_th=policy["efficiency_min_jth"],
            efficiency_max_j_per_th=policy["efficiency_max_jth"],
            mandatory_sale_share=policy["mandatory_sale_share"],
            pool_output_tolerance=policy["pool_output_tolerance"],
        ),
    )


def pool_terms(pool: MiningPool | None) -> PoolTerms | None:
    """Returns the payout terms of a licence's accredited pool (None: solo)."""
    return None if pool is None else PoolTerms(PayoutScheme(pool.payout_scheme),
                                                Decimal(pool.fee))


def figures_of(inputs: PeriodInputs, computed: Computed) -> dict[str, str]:
    """Returns every figure of a reconciliation, name → decimal string."""
    proved = computed.proved
    quota = inputs.licensed_mw * inputs.seconds / Decimal(3600) * Decimal(1000)
    figures: dict[str, Decimal | int | None] = {
        "seconds": inputs.seconds,
        "shares": proved.shares,
        "effective_shares": proved.effective_shares,
        "proved_work": proved.work,
        "proved_work_squared": inputs.tally.work_squared,
        "hashrate_hs": proved.hashrate,
        "hashrate_low_hs": proved.low,
        "hashrate_high_hs": proved.high,
        "hashrate_ths": proved.hashrate / HASHES_PER_TERAHASH,
        "hashrate_low_ths": proved.low / HASHES_PER_TERAHASH,
        "hashrate_high_ths": proved.high / HASHES_PER_TERAHASH,
        "licensed_mw": inputs.licensed_mw,
        "declared_j_per_th": inputs.declared_j_per_th,
        "licensed_capacity_ths": computed.licensed_capacity_ths,
        "quota_kwh": quota,
        "reported_output": computed.reported_output,
        "metered_kwh": computed.metered_kwh,
        "implied_j_per_th": computed.implied_j_per_th,
        "confidence": computed.policy.confidence,
        "report_missing": int(inputs.report_missing),
        "sold_through_exchanges": inputs.sold,
        "shares_not_active": inputs.shares_not_active,
        "proved_blocks": inputs.proved_blocks,
        "pool_fee": None if inputs.pool is None else inputs.pool.fee,
        "network_spans": len(inputs.network),
    }
    figures.update(inputs.policy)
    for i, (window, part) in enumerate(inputs.network):
        figures[f"span_{i}_start_unix"] = window.low
        figures[f"span_{i}_proved_work"] = part.work
        figures.update({f"span_{i}_{k}": v for k, v in window.figures.items()})
    if computed.expected is not None:
        figures.update({
            "expected_blocks": computed.expected.expected_blocks,
            "expected_output": computed.expected.expected,
            "expected_output_low": computed.expected.low,
            "expected_output_high": computed.expected.high,
            "reward_per_block": computed.expected.reward_per_block,
        })
    return {name: str(value) for name, value in figures.items() if value is not None}


def checks_of(computed: Computed) -> list[dict[str, Any]]:
    """Returns each evaluated check as stored: verdict, triggered, figures, p-value."""
    return [{
        "verdict": check.verdict.value,
        "triggered": check.triggered,
        "figures": {k: str(v) for k, v in check.figures.items()},
        "p_value": None if check.p_value is None else str(check.p_value),
        "detail": check.detail,
    } for check in computed.checks]



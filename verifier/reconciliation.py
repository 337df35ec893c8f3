"""Reconciliation of proved work against licensed capacity, reported output and energy.

Pure functions over plain numbers (ints, Decimals, a :class:`WorkTally`), returning frozen
dataclasses; the statistics come from scipy. DESIGN.md §5 defines the figures:

- proved work W (exact hashes) and hashrate Ĥ = W / T, with an exact (Garwood) 95%
  Poisson interval from Gamma quantiles on the effective share count
  N_eff = (ΣW)² / ΣW², scaled by Ĥ / N_eff;
- licensed capacity H_lic = MW × 10⁶ ÷ (J/TH), in TH/s;
- expected output = Σ over the spans between network changes of work ÷ (network
  difficulty × 2³²) × (subsidy + mean fees) in force then (:class:`NetworkSpan`), with
  the central Poisson interval on the number of blocks that much work finds;
- pool miners (:class:`PoolTerms`) are compared with that expected value net of the
  pool's fee (PPS pays the subsidy only) within a policy tolerance; solo miners with the
  exact Poisson tails of the blocks they report;
- implied efficiency J/TH = kWh × 3.6·10⁶ ÷ (Ĥ · T / 10¹²), judged on its interval.

Every check that is a statistical test fires exactly when its recorded p-value is below
the policy tail (1 − confidence) / 2, so the number and the verdict always agree.

Shares prove a lower bound on work: a miner who withholds shares only lowers Ĥ, which
makes its reported output and its energy use look larger than its work supports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from types import ModuleType

from verifier.target import HASHES_PER_DIFFICULTY_1, as_difficulty
from verifier.work import WorkTally


def _stats() -> ModuleType:
    """Returns ``scipy.stats``, imported on first use.

    Importing it takes about 0.6 s of CPU, which every process that imports the ledger
    (each ``valedger`` command, each server and its workers) would otherwise pay at start,
    whether or not it ever reconciles; after the first call this is a lookup in
    ``sys.modules``. tests/verifier/test_reconciliation.py checks the import stays lazy."""
    from scipy import stats
    return stats


def _special() -> ModuleType:
    """Returns ``scipy.special``, imported on first use (as :func:`_stats`)."""
    from scipy import special
    return special


JOULES_PER_KWH = Decimal(3_600_000)
HASHES_PER_TERAHASH = Decimal(10) ** 12


class ReconciliationVerdict(Enum):
    """The findings of DESIGN.md §5."""

    OVER_CAPACITY = "OVER_CAPACITY"
    OUTPUT_UNDER_REPORTED = "OUTPUT_UNDER_REPORTED"
    OUTPUT_OVER_REPORTED = "OUTPUT_OVER_REPORTED"
    ENERGY_OVER_QUOTA = "ENERGY_OVER_QUOTA"
    IMPLAUSIBLE_EFFICIENCY = "IMPLAUSIBLE_EFFICIENCY"
    REPORT_MISSING = "REPORT_MISSING"
    SALE_SHARE_SHORTFALL = "SALE_SHARE_SHORTFALL"
    MINED_WHILE_NOT_ACTIVE = "MINED_WHILE_NOT_ACTIVE"


class PayoutScheme(Enum):
    """How a pool pays its miners: per share (PPS: the subsidy only; FPPS: subsidy and
    fees) or by the last N shares (PPLNS: block rewards as the pool finds them)."""

    PPS = "PPS"
    FPPS = "FPPS"
    PPLNS = "PPLNS"


@dataclass(frozen=True)
class PoolTerms:
    """The accredited pool a licence mines in: its payout scheme and fee (a fraction)."""

    scheme: PayoutScheme
    fee: Decimal

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.fee < Decimal(1):
            raise ValueError("pool fee must be at least 0 and below 1")


@dataclass(frozen=True)
class NetworkSpan:
    """Proved work done while one network difficulty, subsidy and mean fees held."""

    work: int
    network_difficulty: object
    subsidy: Decimal
    mean_fees: Decimal = Decimal(0)


@dataclass(frozen=True)
class ReconciliationPolicy:
    """The thresholds reconciliation applies (each is policy, recorded as events)."""

    confidence: Decimal = Decimal("0.95")
    capacity_tolerance: Decimal = Decimal("0.05")
    efficiency_min_j_per_th: Decimal = Decimal(12)
    efficiency_max_j_per_th: Decimal = Decimal(40)
    pool_output_tolerance: Decimal = Decimal("0.05")
    mandatory_sale_share: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if not Decimal(0) < self.confidence < Decimal(1):
            raise ValueError("confidence must be between 0 and 1")
        if self.capacity_tolerance < 0:
            raise ValueError("capacity_tolerance must not be negative")
        if not Decimal(0) < self.pool_output_tolerance < Decimal(1):
            raise ValueError("pool_output_tolerance must be between 0 and 1")
        if not Decimal(0) <= self.mandatory_sale_share <= Decimal(1):
            raise ValueError("mandatory_sale_share must be between 0 and 1")
        if not Decimal(0) < self.efficiency_min_j_per_th <= self.efficiency_max_j_per_th:
            raise ValueError("efficiency bounds must satisfy 0 < min <= max")

    @property
    def tail(self) -> float:
        """Returns the probability in each tail of a central interval: (1 - confidence) / 2."""
        return float((1 - self.confidence) / 2)


def _dec(value: float | Fraction | int) -> Decimal:
    """Returns a Decimal for a float (through its repr), a Fraction or an int."""
    if isinstance(value, Fraction):
        return Decimal(value.numerator) / Decimal(value.denominator)
    if isinstance(value, float):
        if math.isinf(value):
            return Decimal("Infinity") if value > 0 else Decimal("-Infinity")
        return Decimal(repr(value))
    return Decimal(value)


def poisson_interval(count: float | Fraction | int, confidence: float = 0.95
                     ) -> tuple[float, float]:
    """Returns the exact (Garwood) central interval for a Poisson mean, given ``count``.

    low = Gamma(count).ppf(α/2) (0 for a zero count), high = Gamma(count + 1).ppf(1 - α/2);
    a non-integer count (an effective share count) uses the same Gamma quantiles.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    tail = (1 - confidence) / 2
    n = float(count)
    low = 0.0 if n == 0 else float(_stats().gamma.ppf(tail, n))
    high = float(_stats().gamma.ppf(1 - tail, n + 1))
    return low, high


def p_at_least(count: float, mean: float) -> float:
    """Returns P(Poisson(mean) >= count), continued to real counts: P(Gamma(count) <= mean)."""
    if count <= 0:
        return 1.0
    return float(_special().gammainc(count, mean))


def p_at_most(count: float, mean: float) -> float:
    """Returns P(Poisson(mean) <= count), continued to real counts: Q(count + 1, mean)."""
    if count < 0:
        return 0.0
    return float(_special().gammaincc(count + 1, mean))


@dataclass(frozen=True)
class ProvedHashrate:
    """Proved work over a period and the hashrate it implies (H/s), with its interval."""

    shares: int
    effective_shares: Decimal
    work: int
    seconds: Decimal
    hashrate: Decimal
    low: Decimal
    high: Decimal
    """Infinity when no share was proved: zero shares bound nothing from above."""

    @property
    def terahash_per_second(self) -> Decimal:
        """Returns the point estimate in TH/s."""
        return self.hashrate / HASHES_PER_TERAHASH


def proved_hashrate(tally: WorkTally, seconds: Decimal | int, confidence: float = 0.95
                    ) -> ProvedHashrate:
    """Returns Ĥ = W / T with its exact Poisson interval on N_eff."""
    period = Decimal(seconds)
    if period <= 0:
        raise ValueError("period must be positive")
    n_eff = tally.effective_shares
    rate = Decimal(tally.work) / period
    if n_eff == 0:
        low, high = Decimal(0), Decimal("Infinity")
    else:
        q_low, q_high = poisson_interval(n_eff, confidence)
        per_share = rate / _dec(n_eff)
        low, high = per_share * _dec(q_low), per_share * _dec(q_high)
    return ProvedHashrate(
        shares=tally.shares,
        effective_shares=_dec(n_eff),
        work=tally.work,
        seconds=period,
        hashrate=rate,
        low=low,
        high=high,
    )


def licensed_capacity(licensed_mw: Decimal, j_per_th: Decimal) -> Decimal:
    """Returns the licensed hashrate cap in TH/s: MW × 10⁶ ÷ (J/TH)."""
    if licensed_mw < 0 or j_per_th <= 0:
        raise ValueError("licensed MW must be non-negative and J/TH positive")
    return Decimal(licensed_mw) * Decimal(1_000_000) / Decimal(j_per_th)


@dataclass(frozen=True)
class ExpectedOutput:
    """The output that proved work finds on average, with its Poisson interval."""

    expected_blocks: Decimal
    reward_per_block: Decimal
    expected: Decimal
    low: Decimal
    high: Decimal
    low_blocks: int
    high_blocks: int


def expected_output(
    work: int,
    network_difficulty: object,
    subsidy: Decimal,
    mean_fees: Decimal = Decimal(0),
    confidence: float = 0.95,
) -> ExpectedOutput:
    """Returns W ÷ (network difficulty × 2³²) blocks' worth of (subsidy + mean fees),
    with the central Poisson interval on the block count."""
    difficulty = as_difficulty(network_difficulty)
    blocks = Fraction(work) / (difficulty * HASHES_PER_DIFFICULTY_1)
    reward = Decimal(subsidy) + Decimal(mean_fees)
    tail = (1 - confidence) / 2
    lam = float(blocks)
    low_blocks = int(_stats().poisson.ppf(tail, lam)) if lam > 0 else 0
    high_blocks = int(_stats().poisson.ppf(1 - tail, lam)) if lam > 0 else 0
    expected_blocks = _dec(blocks)
    return ExpectedOutput(
        expected_blocks=expected_blocks,
        reward_per_block=reward,
        expected=expected_blocks * reward,
        low=low_blocks * reward,
        high=high_blocks * reward,
        low_blocks=low_blocks,
        high_blocks=high_blocks,
    )


def expected_output_over(spans: Sequence[NetworkSpan], confidence: float = 0.95,
                         pool: PoolTerms | None = None) -> ExpectedOutput:
    """Returns the expected output of work done across network changes: Σ work ÷
    (difficulty × 2³²) blocks, each worth the subsidy plus mean fees in force when the
    work was done (PPS pools: the subsidy alone), with the Poisson interval on the
    total block count; the reward per block is the mean over the blocks."""
    blocks = Fraction(0)
    value = Decimal(0)
    for span in spans:
        found = Fraction(span.work) / (as_difficulty(span.network_difficulty)
                                       * HASHES_PER_DIFFICULTY_1)
        per_block = Decimal(span.subsidy) + (
            Decimal(0) if pool is not None and pool.scheme is PayoutScheme.PPS
            else Decimal(span.mean_fees))
        blocks += found
        value += _dec(found) * per_block
    expected_blocks = _dec(blocks)
    reward = value / expected_blocks if blocks else (
        Decimal(spans[-1].subsidy) + Decimal(spans[-1].mean_fees) if spans else Decimal(0))
    tail = (1 - confidence) / 2
    lam = float(blocks)
    low_blocks = int(_stats().poisson.ppf(tail, lam)) if lam > 0 else 0
    high_blocks = int(_stats().poisson.ppf(1 - tail, lam)) if lam > 0 else 0
    return ExpectedOutput(
        expected_blocks=expected_blocks,
        reward_per_block=reward,
        expected=value,
        low=low_blocks * reward,
        high=high_blocks * reward,
        low_blocks=low_blocks,
        high_blocks=high_blocks,
    )


def implied_efficiency(metered_kwh: Decimal, hashrate: Decimal, seconds: Decimal | int
                       ) -> Decimal:
    """Returns J/TH = kWh × 3.6·10⁶ ÷ (Ĥ · T / 10¹²); Infinity when no work is proved."""
    terahashes = Decimal(hashrate) * Decimal(seconds) / HASHES_PER_TERAHASH
    if terahashes == 0:
        return Decimal("Infinity") if metered_kwh > 0 else Decimal(0)
    return Decimal(metered_kwh) * JOULES_PER_KWH / terahashes


@dataclass(frozen=True)
class Check:
    """One verdict's test: whether it fired, its figures, and its p-value if a test."""

    verdict: ReconciliationVerdict
    triggered: bool
    figures: Mapping[str, Decimal] = field(default_factory=dict)
    p_value: Decimal | None = None
    detail: str = ""


@dataclass(frozen=True)
class ReconciliationResult:
    """The reconciliation of one licence over one period."""

    proved: ProvedHashrate
    licensed_capacity_ths: Decimal
    expected: ExpectedOutput | None
    reported_output: Decimal | None
    metered_kwh: Decimal | None
    implied_j_per_th: Decimal | None
    checks: tuple[Check, ...]
    policy: ReconciliationPolicy
    pool: PoolTerms | None = None

    @property
    def verdicts(self) -> tuple[ReconciliationVerdict, ...]:
        """Returns the verdicts that fired, in check order."""
        return tuple(c.verdict for c in self.checks if c.triggered)

    def check(self, verdict: ReconciliationVerdict) -> Check | None:
        """Returns the check of one verdict, or None when it was not evaluated."""
        return next((c for c in self.checks if c.verdict is verdict), None)


def reconcile(
    *,
    tally: WorkTally,
    seconds: Decimal | int,
    licensed_mw: Decimal,
    declared_j_per_th: Decimal,
    network_difficulty: object | None = None,
    subsidy: Decimal | None = None,
    mean_fees: Decimal = Decimal(0),
    reported_output: Decimal | None = None,
    metered_kwh: Decimal | None = None,
    policy: ReconciliationPolicy | None = None,
    network: Sequence[NetworkSpan] | None = None,
    licensed_capacity_ths: Decimal | None = None,
    pool: PoolTerms | None = None,
    report_missing: bool = False,
    sold_through_exchanges: Decimal | None = None,
    shares_not_active: int = 0,
    proved_blocks: int = 0,
) -> ReconciliationResult:
    """Returns the figures and verdicts of one licence over one period.

    ``network`` splits the proved work by the network figures in force when it was done
    (else one span of ``network_difficulty``, ``subsidy`` and ``mean_fees``).
    ``licensed_capacity_ths`` overrides MW × 10⁶ ÷ (J/TH) (zero inside suspensions).
    ``report_missing``: no output report covers the period; it is reconciled as zero
    reported (REPORT_MISSING fires and the output checks still run).
    ``sold_through_exchanges``: what the ledger's trades show the miner sold; checked
    against the policy share of the reported output (of the expected output when the
    report is missing). ``shares_not_active``: shares mined while the licence was not
    active (MINED_WHILE_NOT_ACTIVE). ``proved_blocks``: blocks the credited shares
    themselves found (block candidates); a solo miner reporting less than their subsidy
    is OUTPUT_UNDER_REPORTED whatever the Poisson interval says. Checks without their
    inputs are left out.
    """
    policy = policy or ReconciliationPolicy()
    confidence = float(policy.confidence)
    period = Decimal(seconds)
    proved = proved_hashrate(tally, period, confidence)
    capacity_ths = (licensed_capacity(licensed_mw, declared_j_per_th)
                    if licensed_capacity_ths is None else Decimal(licensed_capacity_ths))
    n_eff = float(proved.effective_shares)
    checks = [_over_capacity(proved, capacity_ths, policy, n_eff)]

    if network is None and network_difficulty is not None and subsidy is not None:
        network = [NetworkSpan(tally.work, network_difficulty, Decimal(subsidy),
                               Decimal(mean_fees))]
    reported = Decimal(0) if report_missing and reported_output is None else reported_output
    if report_missing:
        checks.append(Check(ReconciliationVerdict.REPORT_MISSING, True,
                            {"reported_output": Decimal(0)}, None,
                            "no output report covers the period: reconciled as zero"))
    expected = None
    if network:
        expected = expected_output_over(network, confidence, pool)
        if reported is not None:
            if pool is None:
                floor = proved_blocks * min(Decimal(span.subsidy) for span in network)
                checks.extend(_output_checks(expected, Decimal(reported), policy,
                                             proved_blocks, floor))
            else:
                checks.extend(_pool_output_checks(expected, Decimal(reported), pool, policy))
    if sold_through_exchanges is not None and policy.mandatory_sale_share > 0:
        base = (Decimal(reported) if reported is not None and not report_missing
                else (_net(expected, pool) if expected is not None else None))
        if base is not None:
            checks.append(_sale_share_check(Decimal(sold_through_exchanges), base,
                                            policy.mandatory_sale_share))
    if shares_not_active:
        checks.append(Check(
            ReconciliationVerdict.MINED_WHILE_NOT_ACTIVE, True,
            {"shares_not_active": Decimal(shares_not_active)}, None,
            f"{shares_not_active} shares were mined while the licence was not active; "
            "they are not credited"))

    implied = None
    if metered_kwh is not None:
        kwh = Decimal(metered_kwh)
        quota = Decimal(licensed_mw) * period / Decimal(3600) * Decimal(1000)
        checks.append(Check(
            ReconciliationVerdict.ENERGY_OVER_QUOTA,
            kwh > quota,
            {"metered_kwh": kwh, "quota_kwh": quota, "licensed_mw": Decimal(licensed_mw),
             "hours": period / Decimal(3600)},
            None,
            f"metered {kwh} kWh against a quota of {quota} kWh",
        ))
        implied = implied_efficiency(kwh, proved.hashrate, period)
        checks.append(_efficiency_check(kwh, implied, proved, period, policy, n_eff))

    return ReconciliationResult(
        proved=proved,
        licensed_capacity_ths=capacity_ths,
        expected=expected,
        reported_output=None if reported is None else Decimal(reported),
        metered_kwh=None if metered_kwh is None else Decimal(metered_kwh),
        implied_j_per_th=implied,
        checks=tuple(checks),
        policy=policy,
        pool=pool,
    )


def _net(expected: ExpectedOutput, pool: PoolTerms | None) -> Decimal:
    """Returns the expected output net of the pool's fee (the gross one when solo)."""
    return expected.expected if pool is None else expected.expected * (1 - pool.fee)


def _over_capacity(proved: ProvedHashrate, capacity_ths: Decimal,
                   policy: ReconciliationPolicy, n_eff: float) -> Check:
    """OVER_CAPACITY: the interval's lower bound exceeds H_lic × (1 + tolerance).

    The p-value is P(at least N_eff shares | true hashrate at that limit), which is below
    α/2 exactly when the lower bound exceeds the limit. A zero limit (a fully suspended
    period) with any proved share fires with p = 0.
    """
    limit = capacity_ths * HASHES_PER_TERAHASH * (1 + policy.capacity_tolerance)
    if n_eff > 0 and limit > 0:
        mean_at_limit = n_eff * float(limit / proved.hashrate)
        p_value = p_at_least(n_eff, mean_at_limit)
    else:
        p_value = 1.0 if n_eff == 0 else 0.0
    return Check(
        ReconciliationVerdict.OVER_CAPACITY,
        proved.low > limit or (limit == 0 and n_eff > 0),
        {
            "hashrate_ths": proved.hashrate / HASHES_PER_TERAHASH,
            "hashrate_low_ths": proved.low / HASHES_PER_TERAHASH,
            "hashrate_high_ths": proved.high / HASHES_PER_TERAHASH,
            "licensed_capacity_ths": capacity_ths,
            "limit_ths": limit / HASHES_PER_TERAHASH,
            "effective_shares": proved.effective_shares,
        },
        _dec(p_value),
        f"proved hashrate at least {proved.low / HASHES_PER_TERAHASH:.6g} TH/s "
        f"against a limit of {limit / HASHES_PER_TERAHASH:.6g} TH/s",
    )


def _output_checks(expected: ExpectedOutput, reported: Decimal,
                   policy: ReconciliationPolicy, proved_blocks: int = 0,
                   proved_floor: Decimal = Decimal(0)) -> list[Check]:
    """OUTPUT_UNDER_REPORTED / OUTPUT_OVER_REPORTED for a solo miner: the exact Poisson
    tails of the reported block count (reported ÷ mean reward, continued to real values)
    at the expected count; each fires when its tail is below α/2 (for a whole number of
    blocks, exactly when the report lies outside the central interval).

    Blocks the miner's own shares prove it found are certain output: a report below
    their subsidy (``proved_floor``) is OUTPUT_UNDER_REPORTED with p = 0, however small
    the expected count (where the Poisson interval alone reaches down to zero)."""
    lam = float(expected.expected_blocks)
    reward = expected.reward_per_block
    blocks = float(reported / reward) if reward > 0 else 0.0
    figures = {
        "reported_output": reported,
        "expected_output": expected.expected,
        "expected_low": expected.low,
        "expected_high": expected.high,
        "expected_blocks": expected.expected_blocks,
        "reported_blocks": _dec(blocks),
        "reward_per_block": reward,
        "proved_blocks": Decimal(proved_blocks),
        "proved_blocks_output": proved_floor,
    }
    if lam > 0:
        p_under, p_over = p_at_most(blocks, lam), p_at_least(blocks, lam)
    else:
        p_under, p_over = 1.0, (1.0 if blocks == 0 else 0.0)
    if reported < proved_floor:
        p_under = 0.0
    tail = policy.tail
    return [
        Check(ReconciliationVerdict.OUTPUT_UNDER_REPORTED, p_under < tail, figures,
              _dec(p_under),
              f"reported {reported} against at least {expected.low} expected"),
        Check(ReconciliationVerdict.OUTPUT_OVER_REPORTED, p_over < tail, figures,
              _dec(p_over),
              f"reported {reported} against at most {expected.high} expected"),
    ]


def _pool_output_checks(expected: ExpectedOutput, reported: Decimal, pool: PoolTerms,
                        policy: ReconciliationPolicy) -> list[Check]:
    """OUTPUT_UNDER_REPORTED / OUTPUT_OVER_REPORTED for a pool miner: the pool pays the
    expected value of the proved work net of its fee, so the report must lie within
    ± tolerance of it. The p-values read the tolerance band as the central
    ``confidence`` interval of a normal spread around the net expected value (σ =
    tolerance × net ÷ z), so each falls below α/2 exactly when the report leaves the
    band."""
    net = _net(expected, pool)
    tolerance = policy.pool_output_tolerance
    low, high = net * (1 - tolerance), net * (1 + tolerance)
    figures = {
        "reported_output": reported,
        "expected_output": expected.expected,
        "expected_net_output": net,
        "expected_low": low,
        "expected_high": high,
        "pool_fee": pool.fee,
        "pool_output_tolerance": tolerance,
    }
    if net > 0:
        z = float(_stats().norm.ppf(1 - policy.tail))
        score = float((reported - net) / (tolerance * net)) * z
        p_under, p_over = float(_stats().norm.cdf(score)), float(_stats().norm.sf(score))
    else:
        p_under, p_over = 1.0, (1.0 if reported == 0 else 0.0)
    scheme = pool.scheme.value
    return [
        Check(ReconciliationVerdict.OUTPUT_UNDER_REPORTED, reported < low, figures,
              _dec(p_under),
              f"reported {reported} against at least {low} ({scheme}, net of the pool fee)"),
        Check(ReconciliationVerdict.OUTPUT_OVER_REPORTED, reported > high, figures,
              _dec(p_over),
              f"reported {reported} against at most {high} ({scheme}, net of the pool fee)"),
    ]


def _sale_share_check(sold: Decimal, output: Decimal, share: Decimal) -> Check:
    """SALE_SHARE_SHORTFALL: sold through licensed exchanges below the policy share."""
    required = output * share
    return Check(
        ReconciliationVerdict.SALE_SHARE_SHORTFALL, sold < required,
        {"sold_through_exchanges": sold, "output": output, "mandatory_sale_share": share,
         "required_sale": required},
        None, f"sold {sold} through licensed exchanges against {required} required")


def _efficiency_check(kwh: Decimal, implied: Decimal, proved: ProvedHashrate,
                      period: Decimal, policy: ReconciliationPolicy, n_eff: float) -> Check:
    """IMPLAUSIBLE_EFFICIENCY: the implied J/TH's interval lies entirely outside the
    policy bounds (not its point estimate: an honest fleet near a bound proves few shares
    by chance).

    The p-value is the chance of proving as few (or as many) shares as observed if the
    fleet ran exactly at the violated bound on the metered energy; it is below α/2
    exactly when the interval clears the bound. Energy with no proved work at all fires
    with p = 0 (withheld shares only hurt the miner).
    """
    low_bound, high_bound = policy.efficiency_min_j_per_th, policy.efficiency_max_j_per_th
    terahashes_low = proved.low * period / HASHES_PER_TERAHASH
    terahashes_high = proved.high * period / HASHES_PER_TERAHASH
    implied_low = (kwh * JOULES_PER_KWH / terahashes_high
                   if terahashes_high > 0 else Decimal(0))
    implied_high = (kwh * JOULES_PER_KWH / terahashes_low
                    if terahashes_low > 0 else Decimal("Infinity"))
    p_value: Decimal | None = None
    if n_eff > 0:
        triggered = implied_low > high_bound or implied_high < low_bound
        side_high = implied > high_bound
        bound = high_bound if side_high else low_bound
        hashrate_at_bound = kwh * JOULES_PER_KWH / bound * HASHES_PER_TERAHASH / period
        mean = n_eff * float(hashrate_at_bound / proved.hashrate)
        p_value = _dec(p_at_most(n_eff, mean) if side_high else p_at_least(n_eff, mean))
    else:
        triggered = kwh > 0
        p_value = Decimal(0) if triggered else None
    figures = {
        "implied_j_per_th": implied,
        "implied_low_j_per_th": implied_low,
        "implied_high_j_per_th": implied_high,
        "min_j_per_th": low_bound,
        "max_j_per_th": high_bound,
        "metered_kwh": kwh,
    }
    return Check(ReconciliationVerdict.IMPLAUSIBLE_EFFICIENCY, triggered, figures, p_value,
                 f"implied {implied:.6g} J/TH (interval {implied_low:.6g} to "
                 f"{implied_high:.6g}) against bounds {low_bound}-{high_bound}")

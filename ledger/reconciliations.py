"""Reconciliations: closing a licence's period against its proved work (DESIGN §5).

Why withheld shares only hurt the miner is explained in ``ledger.proofs``; the figures
are computed by ``ledger.proof_figures`` (shared with the audit replay).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import cast
from uuid import UUID

from ledger.clock import Clock
from ledger.commands import UseCase
from ledger.domain.alert import Alert
from ledger.domain.base import utc
from ledger.domain.licence import MiningLicence
from ledger.domain.policy import POLICY_ID, Policy
from ledger.domain.pool import MiningPool
from ledger.domain.proof_batch import ProofBatch
from ledger.domain.reconciliation import Reconciliation
from ledger.errors import InvalidRequest, RuleViolation
from ledger.proof_figures import (
    DEFAULT_ASSET,
    NTIME_NEVER,
    ONE_MICROSECOND,
    AcceptedShares,
    PeriodInputs,
    checks_of,
    compute,
    epoch_ceil,
    figures_of,
    inactive_spans,
    licensed_over,
    network_windows,
    policy_inputs,
    pool_terms,
    stored_batch,
    verdict_codes,
)
from ledger.proof_index import LicenceProofs, ProofIndex, period_sum
from ledger.receipts import Receipt
from ledger.requests import REGULATOR
from ledger.store import LedgerStore
from ledger.validation import check_after, check_request_id, check_text
from ledger.windows import WindowKind
from verifier.reconciliation import ReconciliationVerdict
from verifier.work import WorkTally


class Reconciliations(UseCase):
    """Closes reconciliations: one per licence and period, with an alert per failing
    verdict, in one save."""

    def __init__(self, store: LedgerStore, clock: Clock, index: ProofIndex) -> None:
        super().__init__(store, clock)
        self.index = index

    def close(self, request_id: str, licence_id: UUID, period_start: datetime,
              period_end: datetime, at: datetime | None = None,
              asset: str = DEFAULT_ASSET) -> Receipt:
        """Computes and records ``Reconciliation.Closed`` with its alerts; see
        ``Ledger.close_reconciliation``.

        Only accepted shares count as work, so proved work is a lower bound: withholding
        shares can at most hide OVER_CAPACITY, and it makes OUTPUT_OVER_REPORTED and
        IMPLAUSIBLE_EFFICIENCY fire against the miner (see the module docstring).
        """
        check_request_id(request_id)
        if not isinstance(licence_id, UUID):
            raise InvalidRequest("licence_id", "must be a UUID")
        for name, value in (("period.start_time", period_start), ("period.end_time", period_end)):
            if not isinstance(value, datetime):
                raise InvalidRequest(name, "must be a datetime")
        start, end = utc(period_start), utc(period_end)
        check_after("period.end_time", end, start)
        check_text("asset", asset, 20)
        stamp, when = self.begin("CloseReconciliation", REGULATOR, request_id, at,
                                 WindowKind.REGULATOR, licence_id=licence_id,
                                 period_start=start, period_end=end, asset=asset)
        recorded_at = stamp.recorded_at
        recon_id = Reconciliation.create_id(licence_id, start, end)
        ledger = self.store

        def attempt() -> Receipt:
            existing = ledger.find(recon_id)
            if isinstance(existing, Reconciliation):
                if existing.created_by(REGULATOR, request_id, stamp.digest):
                    return Receipt(recon_id, 1, replayed=True)
                raise RuleViolation(
                    "RECONCILIATION_ALREADY_CLOSED",
                    f"licence {licence_id} was already reconciled for {start.isoformat()} to "
                    f"{end.isoformat()} (reconciliation {recon_id})",
                    {"reconciliation": recon_id})
            licence = ledger.get_typed(licence_id, MiningLicence, "mining licence")
            if end > recorded_at:
                raise RuleViolation(
                    "PERIOD_NOT_ENDED",
                    f"the period ends {end.isoformat()}, after {recorded_at.isoformat()}",
                    {"period_end": end.isoformat(), "recorded_at": recorded_at.isoformat()})
            policy = cast(Policy | None, ledger.find(POLICY_ID))
            entry = self.index.snapshot(licence_id)
            inputs, evidence = self.gather(licence, entry, policy, start, end, asset)
            computed = compute(inputs)
            figures = figures_of(inputs, computed)
            refs = [ref for kind in evidence.values() for ref in kind]
            # A missing report is a verdict of the reconciliation (its output counts as
            # zero), but its alert belongs to the supervisory calendar, which raises
            # REPORT_MISSING once at the report's deadline (``ledger.supervision``).
            alerts = [Alert(
                request_id=request_id, at=when, kind=check.verdict.value, subject_id=recon_id,
                participant_id=licence.participant_id,
                message=f"reconciliation of licence {licence_id} for {start.isoformat()} to "
                        f"{end.isoformat()}: {check.detail}",
                evidence=refs,
                figures={k: str(v) for k, v in check.figures.items()}
                | ({} if check.p_value is None else {"p_value": str(check.p_value)}),
            ) for check in computed.checks
                if check.triggered and check.verdict is not ReconciliationVerdict.REPORT_MISSING]
            recon = Reconciliation(
                request_id=request_id, at=when, licence_id=licence_id,
                participant_id=licence.participant_id, period_start=start, period_end=end,
                asset=asset, licence_version=licence.version,
                policy_version=policy.version if policy is not None else 0,
                batches_read=len(entry.batches), figures=figures, checks=checks_of(computed),
                verdicts=[v.value for v in computed.verdicts], evidence=evidence,
                alert_ids=[str(a.id) for a in alerts])
            ledger.save(recon, *alerts)
            return Receipt(recon_id, 1)

        return self.run(stamp, attempt)

    def gather(self, licence: MiningLicence, entry: LicenceProofs, policy: Policy | None,
               start: datetime, end: datetime, asset: str
               ) -> tuple[PeriodInputs, dict[str, list[str]]]:
        """Returns the inputs of a reconciliation and the evidence references they came
        from: accepted shares with ntime in [start, end) outside the licence's inactive
        spans, split by the network figures in force when they were mined; output
        reports of ``asset`` and meter readings prorated to the period; the pool's
        terms; the trades of ``asset`` the holder sold through licensed exchanges."""
        spans = inactive_spans(licence)
        excluded = [(epoch_ceil(a), NTIME_NEVER if b is None else epoch_ceil(b))
                    for a, b in spans]
        windows = network_windows(policy, start, end)
        cuts = [w.low for w in windows] + [windows[-1].high]
        low, high = cuts[0], cuts[-1]
        parts = [WorkTally() for _ in windows]
        not_active = blocks = 0
        batch_refs: list[str] = []
        for batch in entry.batches:
            ranges = [r for r in (batch.ntime_range, batch.not_active_range) if r]
            if not any(a < high and b >= low for a, b in ranges):
                continue
            whole = next((i for i, w in enumerate(windows) if batch.ntime_range
                          and w.low <= batch.ntime_range[0]
                          and batch.ntime_range[1] < w.high), None)
            if whole is not None and batch.not_active_range is None and not any(
                    a <= batch.ntime_range[1] and batch.ntime_range[0] < b  # type: ignore[index]
                    for a, b in excluded):
                parts[whole] += batch.tally
                blocks += batch.blocks
                counted = bool(batch.tally.shares or batch.blocks)
            else:
                stored = self.store.get_typed(batch.batch_id, ProofBatch, "proof batch")
                credit = AcceptedShares.of(stored_batch(stored), verdict_codes(stored.verdicts),
                                           stored.block_candidates).credit(cuts, excluded)
                for i, part in enumerate(credit.tallies):
                    parts[i] += part
                not_active += credit.not_active
                blocks += credit.blocks
                counted = credit.counts
            if counted:
                batch_refs.append(f"{batch.batch_id}:1")
        tally = sum(parts, WorkTally())
        reports = [r for r in entry.reports if r.asset == asset]
        reported, report_refs = period_sum(reports, start, end)
        metered, reading_refs = period_sum(entry.readings, start, end)
        mw, jth, cap = licensed_over(licence.capacities, spans, start, end)
        pool = None if licence.pool_id is None else self.store.get_typed(
            licence.pool_id, MiningPool, "mining pool")
        sales = self.index.sales(licence.participant_id, start, end, asset)
        inputs = PeriodInputs(
            start, end, tally, mw, jth, policy_inputs(policy, end - ONE_MICROSECOND),
            reported, metered, capacity_ths=cap,
            network=tuple(zip(windows, parts, strict=True)),
            report_missing=reported is None, pool=pool_terms(pool),
            sold=sum((s.quantity for s in sales), Decimal(0)), shares_not_active=not_active,
            proved_blocks=blocks)
        evidence = {"proof_batches": batch_refs, "output_reports": report_refs,
                    "meter_readings": reading_refs, "trades": [s.ref for s in sales]}
        return inputs, evidence

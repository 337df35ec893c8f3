"""Reconciliations: closing a licence's period against its proved work (DESIGN §5).

Why withheld shares only hurt the miner is explained in ``ledger.proofs``; the figures
are computed by ``ledger.proof_figures`` (shared with the audit replay).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast
from uuid import UUID

from ledger.clock import Clock
from ledger.commands import UseCase
from ledger.domain.alert import Alert
from ledger.domain.base import utc
from ledger.domain.licence import MiningLicence
from ledger.domain.policy import POLICY_ID, Policy
from ledger.domain.proof_batch import ProofBatch
from ledger.domain.reconciliation import Reconciliation
from ledger.errors import InvalidRequest, RuleViolation
from ledger.proof_figures import (
    DEFAULT_ASSET,
    ONE_MICROSECOND,
    AcceptedShares,
    PeriodInputs,
    capacity_over,
    checks_of,
    compute,
    figures_of,
    ntime_bounds,
    policy_inputs,
    stored_batch,
    verdict_codes,
)
from ledger.proof_index import LicenceProofs, ProofIndex, period_sum
from ledger.receipts import Receipt
from ledger.requests import REGULATOR
from ledger.store import LedgerStore
from ledger.validation import check_after, check_request_id, check_text
from ledger.windows import WindowKind
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
            alerts = [Alert(
                request_id=request_id, at=when, kind=check.verdict.value, subject_id=recon_id,
                participant_id=licence.participant_id,
                message=f"reconciliation of licence {licence_id} for {start.isoformat()} to "
                        f"{end.isoformat()}: {check.detail}",
                evidence=refs,
                figures={k: str(v) for k, v in check.figures.items()}
                | ({} if check.p_value is None else {"p_value": str(check.p_value)}),
            ) for check in computed.checks if check.triggered]
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
        from: accepted shares with ntime in [start, end), output reports of ``asset`` and
        meter readings prorated to the period."""
        low, high = ntime_bounds(start, end)
        tally = WorkTally()
        batch_refs: list[str] = []
        for batch in entry.batches:
            if batch.ntime_min is None or batch.ntime_max is None:
                continue
            if batch.ntime_max < low or batch.ntime_min >= high:
                continue
            if low <= batch.ntime_min and batch.ntime_max < high:
                part = batch.tally
            else:
                stored = self.store.get_typed(batch.batch_id, ProofBatch, "proof batch")
                part = AcceptedShares.of(stored_batch(stored),
                                         verdict_codes(stored.verdicts)).tally(low, high)
            if part.shares:
                tally += part
                batch_refs.append(f"{batch.batch_id}:1")
        reported, report_refs = period_sum(
            (r for r in entry.reports if r.asset == asset), start, end)
        metered, reading_refs = period_sum(entry.readings, start, end)
        mw, jth = capacity_over(licence.capacities, start, end)
        inputs = PeriodInputs(start, end, tally, mw, jth,
                              policy_inputs(policy, end - ONE_MICROSECOND),
                              reported, metered)
        evidence = {"proof_batches": batch_refs, "output_reports": report_refs,
                    "meter_readings": reading_refs}
        return inputs, evidence



"""Reconciliation: one licence's proved work set against its capacity, output and energy.

``Closed`` records every figure of DESIGN.md §5 (name → decimal string, as the API shows
them), the inputs they came from (the policy and licence versions read, and the event
references of the proof batches, output reports and meter readings counted), and each
verdict's check with its figures and p-value, so an auditor can recompute it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate, derived_id

EVIDENCE_KINDS = ("proof_batches", "output_reports", "meter_readings", "trades")
"""Keys of ``evidence``: event references ``aggregate_id:version`` of each kind."""


class Reconciliation(LedgerAggregate):
    """The reconciliation of one mining licence over one period [start, end).

    ``batches_read`` is how many of the licence's proof batches (sequence numbers 0 to
    ``batches_read - 1``) were read: it pins the evidence exactly even when a batch is
    recorded concurrently with the close. One reconciliation per licence and period.
    """

    @staticmethod
    def create_id(licence_id: UUID, period_start: datetime, period_end: datetime) -> UUID:
        return derived_id("Reconciliation", licence_id, period_start.isoformat(),
                          period_end.isoformat())

    @event("Closed")
    def __init__(
        self,
        request_id: str,
        at: datetime,
        licence_id: UUID,
        participant_id: UUID,
        period_start: datetime,
        period_end: datetime,
        asset: str,
        licence_version: int,
        policy_version: int,
        batches_read: int,
        figures: dict[str, str],
        checks: list[dict[str, Any]],
        verdicts: list[str],
        evidence: dict[str, list[str]],
        alert_ids: list[str],
    ) -> None:
        self.request_id = request_id
        self.closed_at = at
        self.licence_id = licence_id
        self.participant_id = participant_id
        self.period_start = period_start
        self.period_end = period_end
        self.asset = asset
        self.licence_version = licence_version
        self.policy_version = policy_version
        self.batches_read = batches_read
        self.figures = dict(figures)
        self.checks = [dict(c) for c in checks]
        self.verdicts = list(verdicts)
        self.evidence = {k: list(v) for k, v in evidence.items()}
        self.alert_ids = [UUID(a) for a in alert_ids]

    def figure(self, name: str) -> Decimal | None:
        """Returns a recorded figure, or None when it was not computed."""
        value = self.figures.get(name)
        return None if value is None else Decimal(value)

    @property
    def proved_work(self) -> int:
        """Returns the proved work W in hashes (exact)."""
        return int(self.figures["proved_work"])

    @property
    def hashrate_ths(self) -> Decimal:
        """Returns the proved hashrate Ĥ in TH/s."""
        return Decimal(self.figures["hashrate_ths"])

    @property
    def hashrate_interval_ths(self) -> tuple[Decimal, Decimal]:
        """Returns the 95% interval of the proved hashrate in TH/s (high is Infinity when
        no share was proved)."""
        return Decimal(self.figures["hashrate_low_ths"]), Decimal(self.figures["hashrate_high_ths"])

    @property
    def licensed_capacity_ths(self) -> Decimal:
        """Returns the licensed hashrate cap H_lic in TH/s (time-weighted over the period)."""
        return Decimal(self.figures["licensed_capacity_ths"])

    @property
    def expected_output(self) -> Decimal | None:
        """Returns the output the proved work finds on average."""
        return self.figure("expected_output")

    @property
    def expected_output_interval(self) -> tuple[Decimal, Decimal] | None:
        """Returns the 95% interval of the expected output, or None."""
        low, high = self.figure("expected_output_low"), self.figure("expected_output_high")
        return None if low is None or high is None else (low, high)

    @property
    def reported_output(self) -> Decimal | None:
        """Returns the output the licence reported for the period, or None."""
        return self.figure("reported_output")

    @property
    def metered_kwh(self) -> Decimal | None:
        """Returns the metered energy of the period, or None."""
        return self.figure("metered_kwh")

    @property
    def quota_kwh(self) -> Decimal:
        """Returns the energy the licensed power allows over the period."""
        return Decimal(self.figures["quota_kwh"])

    @property
    def implied_j_per_th(self) -> Decimal | None:
        """Returns the implied efficiency, or None without a meter reading."""
        return self.figure("implied_j_per_th")

    def check(self, verdict: str) -> dict[str, Any] | None:
        """Returns the recorded check of one verdict, or None when it was not evaluated."""
        return next((c for c in self.checks if c["verdict"] == verdict), None)

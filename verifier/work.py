"""Proved work: the exact tally of accepted shares that reconciliation starts from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class WorkTally:
    """Count, total work and total squared work of accepted unique shares (exact ints).

    Work per share is 2**256 // (target + 1) hashes; the squared sum gives the effective
    number of shares (ΣW)² / ΣW² when share difficulty varies.
    """

    shares: int = 0
    work: int = 0
    work_squared: int = 0

    @classmethod
    def of(cls, works: Iterable[int]) -> WorkTally:
        """Returns the tally of individual share works."""
        shares = work = squared = 0
        for w in works:
            shares += 1
            work += w
            squared += w * w
        return cls(shares, work, squared)

    def __add__(self, other: WorkTally) -> WorkTally:
        return WorkTally(
            self.shares + other.shares,
            self.work + other.work,
            self.work_squared + other.work_squared,
        )

    @property
    def effective_shares(self) -> Fraction:
        """Returns N_eff = (ΣW)² / ΣW² (equal to the share count at constant difficulty)."""
        if self.work_squared == 0:
            return Fraction(0)
        return Fraction(self.work * self.work, self.work_squared)

"""Per-share verdicts of DESIGN.md §4."""

from __future__ import annotations

from enum import IntEnum


class Verdict(IntEnum):
    """The outcome for one share; the integer is its code in packed result arrays.

    When several faults apply, the first in this order wins: UNKNOWN_JOB,
    BAD_EXTRANONCE2_SIZE, BAD_VERSION_BITS, NTIME_OUT_OF_RANGE, UNTAGGED_COINBASE,
    LOW_DIFFICULTY, DUPLICATE; a share with none is ACCEPTED.
    """

    ACCEPTED = 0
    LOW_DIFFICULTY = 1
    DUPLICATE = 2
    UNKNOWN_JOB = 3
    BAD_EXTRANONCE2_SIZE = 4
    BAD_VERSION_BITS = 5
    NTIME_OUT_OF_RANGE = 6
    UNTAGGED_COINBASE = 7


NTIME_WINDOW_SECONDS = 7000
"""A share's ntime may be at most this many seconds after its job's ntime."""

"""Per-share verdicts of DESIGN.md §4."""

from __future__ import annotations

from enum import IntEnum


class Verdict(IntEnum):
    """The outcome for one share; the integer is its code in packed result arrays.

    When several faults apply, the first in this order wins: UNKNOWN_JOB,
    BAD_EXTRANONCE2_SIZE, BAD_VERSION_BITS, NTIME_OUT_OF_RANGE, FOREIGN_COINBASE_TAG,
    UNTAGGED_COINBASE, LOW_DIFFICULTY, LICENCE_NOT_ACTIVE, DUPLICATE; a share with none is
    ACCEPTED.

    FOREIGN_COINBASE_TAG: the coinbase carries another licence's tag (alone or beside the
    licence's own), so the work may belong to someone else and is credited to nobody.
    LICENCE_NOT_ACTIVE: the share's ntime falls where the licence was not active
    (suspended, revoked, expired or not yet valid), so it is not credited.
    """

    ACCEPTED = 0
    LOW_DIFFICULTY = 1
    DUPLICATE = 2
    UNKNOWN_JOB = 3
    BAD_EXTRANONCE2_SIZE = 4
    BAD_VERSION_BITS = 5
    NTIME_OUT_OF_RANGE = 6
    UNTAGGED_COINBASE = 7
    FOREIGN_COINBASE_TAG = 8
    LICENCE_NOT_ACTIVE = 9


NTIME_WINDOW_SECONDS = 7000
"""A share's ntime may be at most this many seconds after its job's ntime."""

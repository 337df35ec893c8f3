"""Share and network targets, difficulty and work, all in exact integer arithmetic.

A hash is read as a little-endian 256-bit integer and meets a target when it is at most
that target. Difficulty D maps to the share target ``floor(T1 / D)`` with
``T1 = 0xFFFF * 2**208`` (the "bdiff" convention of Bitcoin pools); D may be fractional
and is handled as an exact rational, never as a float.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction

T1 = 0xFFFF * 2**208
"""The difficulty-1 target (bdiff)."""

MAX_TARGET = 2**256 - 1
"""The largest 256-bit target; difficulties so small that T1 / D exceeds it clamp here."""

HASHES_PER_DIFFICULTY_1 = 2**32
"""The conventional expected number of hashes per share at difficulty 1."""


class InvalidDifficulty(ValueError):
    """A difficulty that is not a finite positive number."""


class InvalidNBits(ValueError):
    """A compact target (nBits) that is negative, zero or overflows 256 bits."""


def as_difficulty(value: object) -> Fraction:
    """Returns a difficulty given as int, Decimal, Fraction or decimal string, exactly.

    Floats are accepted through their shortest decimal repr, so ``0.001`` means exactly
    1/1000; bools are refused.
    """
    if isinstance(value, bool):
        raise InvalidDifficulty("difficulty must be a number, not a boolean")
    try:
        if isinstance(value, int | Fraction):
            result = Fraction(value)
        elif isinstance(value, Decimal):
            if not value.is_finite():
                raise InvalidDifficulty(f"difficulty must be finite, got {value}")
            result = Fraction(value)
        elif isinstance(value, float | str):
            dec = Decimal(repr(value) if isinstance(value, float) else value.strip())
            if not dec.is_finite():
                raise InvalidDifficulty(f"difficulty must be finite, got {value!r}")
            result = Fraction(dec)
        else:
            raise InvalidDifficulty(f"difficulty must be a number, got {type(value).__name__}")
    except (InvalidOperation, ValueError) as exc:
        if isinstance(exc, InvalidDifficulty):
            raise
        raise InvalidDifficulty(f"difficulty is not a decimal number: {value!r}") from exc
    if result <= 0:
        raise InvalidDifficulty(f"difficulty must be positive, got {value}")
    return result


def share_target(difficulty: object) -> int:
    """Returns floor(T1 / D), clamped to 2**256 - 1, for an exact difficulty D."""
    d = as_difficulty(difficulty)
    target = (T1 * d.denominator) // d.numerator
    return min(target, MAX_TARGET)


def work_of_target(target: int) -> int:
    """Returns the expected number of hashes to meet a target: 2**256 // (target + 1).

    This is Bitcoin Core's ``GetBlockProof`` and is kept as an exact integer; for
    difficulty D it is within one hash of D * 2**256 / (T1 + D), i.e. about D * 2**32.
    """
    if not 0 <= target <= MAX_TARGET:
        raise ValueError(f"target out of range: {target}")
    return 2**256 // (target + 1)


def difficulty_of_target(target: int) -> Fraction:
    """Returns T1 / target as an exact fraction (the difficulty whose target this is)."""
    if target <= 0:
        raise ValueError("target must be positive")
    return Fraction(T1, target)


def nbits_to_target(nbits: int) -> int:
    """Returns the 256-bit target encoded by a compact nBits value.

    Raises InvalidNBits for the sign bit set, a zero target, or an overflow, which Bitcoin
    Core also refuses as a proof-of-work limit.
    """
    if not 0 <= nbits <= 0xFFFFFFFF:
        raise InvalidNBits(f"nbits must be a 32-bit unsigned integer, got {nbits}")
    exponent = nbits >> 24
    mantissa = nbits & 0x007FFFFF
    if nbits & 0x00800000:
        raise InvalidNBits(f"nbits {nbits:#010x} has the sign bit set")
    target = mantissa >> 8 * (3 - exponent) if exponent <= 3 else mantissa << 8 * (exponent - 3)
    if target == 0:
        raise InvalidNBits(f"nbits {nbits:#010x} encodes a zero target")
    if target > MAX_TARGET:
        raise InvalidNBits(f"nbits {nbits:#010x} overflows 256 bits")
    return target


def target_to_nbits(target: int) -> int:
    """Returns the compact nBits encoding of a target (rounded down, as Bitcoin Core does)."""
    if not 0 < target <= MAX_TARGET:
        raise ValueError(f"target out of range: {target}")
    size = (target.bit_length() + 7) // 8
    mantissa = target << 8 * (3 - size) if size <= 3 else target >> 8 * (size - 3)
    if mantissa & 0x00800000:
        mantissa >>= 8
        size += 1
    return (size << 24) | mantissa


def target_le_bytes(target: int) -> bytes:
    """Returns a target as 32 little-endian bytes, the order hashes are compared in."""
    return target.to_bytes(32, "little")

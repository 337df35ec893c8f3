"""The typed errors of the transparency-log primitives."""

from __future__ import annotations


class TlogError(ValueError):
    """Base of every error raised by ``tlog``: malformed input or a failed check."""


class ProofError(TlogError):
    """A proof that does not verify, or arguments that admit no proof."""

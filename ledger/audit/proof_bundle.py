"""Proof bundles of ledger records: a C2SP tlog-proof bundle (``tlog.proof_bundle``)
whose ``extra`` data is the version-1 leaf data of one stored record (see leaf.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.audit.leaf import LeafRecord, decode_leaf
from tlog.checkpoint import SignedCheckpoint
from tlog.cosignature import Cosignature
from tlog.keys import NoteVerifier
from tlog.proof_bundle import (
    ProofBundle,
    ProofBundleError,
    UnwitnessedBundleError,
    verify_proof_bundle,
)

__all__ = [
    "ProofBundle",
    "ProofBundleError",
    "UnwitnessedBundleError",
    "VerifiedBundle",
    "verify_bundle",
]


@dataclass(frozen=True)
class VerifiedBundle:
    """What a verified bundle proves: this record is leaf ``index`` of the signed tree."""

    record: LeafRecord
    index: int
    checkpoint: SignedCheckpoint
    cosignatures: tuple[Cosignature, ...] = ()


def verify_bundle(
    bundle: ProofBundle | str | bytes,
    verifier: NoteVerifier | Sequence[NoteVerifier],
    origin: str | None = None,
    witnesses: Sequence[NoteVerifier] = (),
    quorum: int = 0,
) -> VerifiedBundle:
    """Returns the proven record; raises ProofBundleError if any check fails (see
    :func:`tlog.proof_bundle.verify_proof_bundle`) or the record is malformed."""
    if not isinstance(bundle, ProofBundle):
        bundle = ProofBundle.from_text(bundle)
    try:
        record = decode_leaf(bundle.leaf_data)
    except ValueError as e:
        raise ProofBundleError(f"record in the bundle is malformed: {e}") from None
    proven = verify_proof_bundle(bundle, verifier, origin, witnesses, quorum)
    return VerifiedBundle(record, proven.index, proven.checkpoint, proven.cosignatures)

"""Self-contained proof that one record is in the signed log (modelled on C2SP tlog-proof).

Format (c2sp.org/tlog-proof@v1, with the record as the ``extra`` data)::

    c2sp.org/tlog-proof@v1
    extra <base64 of the version-1 leaf data of the record>
    index <leaf index, decimal>
    <base64 inclusion proof hash, one per line, leaf's sibling first>

    <signed checkpoint note, verbatim>

Anyone holding the regulator's verifier key can check it offline: the leaf hash is
recomputed from the ``extra`` bytes, the checkpoint signature and origin are checked, and
the inclusion proof must lead from the leaf to the checkpoint's root.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.audit.checkpoint import SignedCheckpoint, open_checkpoint
from ledger.audit.leaf import LeafRecord, decode_leaf
from ledger.audit.merkle import HASH_SIZE, leaf_hash, verify_inclusion
from ledger.audit.note import NoteError, NoteVerifier

HEADER = "c2sp.org/tlog-proof@v1"
MAX_PROOF_HASHES = 64


class ProofBundleError(ValueError):
    """A proof bundle that is malformed or does not verify."""


@dataclass(frozen=True)
class ProofBundle:
    """A record's leaf data, its leaf index, an inclusion proof and a signed checkpoint."""

    leaf_data: bytes
    index: int
    proof: tuple[bytes, ...]
    checkpoint_note: str

    def to_text(self) -> str:
        """Returns the bundle in tlog-proof text form."""
        lines = [
            HEADER,
            "extra " + base64.b64encode(self.leaf_data).decode(),
            f"index {self.index}",
            *(base64.b64encode(h).decode() for h in self.proof),
            "",
        ]
        return "\n".join(lines) + "\n" + self.checkpoint_note

    @classmethod
    def from_text(cls, text: str | bytes) -> ProofBundle:
        """Returns the bundle parsed from tlog-proof text (nothing verified yet)."""
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise ProofBundleError("proof bundle is not valid UTF-8") from None
        head, sep, note = text.partition("\n\n")
        if not sep:
            raise ProofBundleError("proof bundle has no blank line before the checkpoint")
        lines = head.split("\n")
        if lines[0] != HEADER:
            raise ProofBundleError(f"proof bundle must start with {HEADER!r}")
        if len(lines) < 3 or not lines[1].startswith("extra "):
            raise ProofBundleError("proof bundle has no 'extra' line carrying the record")
        leaf_data = _b64(lines[1][len("extra ") :], "extra data")
        index_line = lines[2]
        if not index_line.startswith("index "):
            raise ProofBundleError("proof bundle has no 'index' line")
        index_text = index_line[len("index ") :]
        if (
            not index_text.isascii()
            or not index_text.isdigit()
            or (len(index_text) > 1 and index_text[0] == "0")
            or len(index_text) > 20
        ):
            raise ProofBundleError(f"bad leaf index {index_text!r}")
        hashes = lines[3:]
        if len(hashes) > MAX_PROOF_HASHES:
            raise ProofBundleError("inclusion proof is too long")
        proof = tuple(_b64(h, "proof hash") for h in hashes)
        if any(len(h) != HASH_SIZE for h in proof):
            raise ProofBundleError("every proof hash must have 32 bytes")
        return cls(leaf_data, int(index_text), proof, note)


@dataclass(frozen=True)
class VerifiedBundle:
    """What a verified bundle proves: this record is leaf ``index`` of the signed tree."""

    record: LeafRecord
    index: int
    checkpoint: SignedCheckpoint


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ProofBundleError(f"{what} is not valid base64") from None


def verify_bundle(
    bundle: ProofBundle | str | bytes,
    verifier: NoteVerifier | Sequence[NoteVerifier],
    origin: str | None = None,
) -> VerifiedBundle:
    """Returns the proven record; raises ProofBundleError if any check fails.

    ``verifier`` is the trusted key, or several (any one of them may have signed the
    checkpoint, e.g. across a key rotation)."""
    if not isinstance(bundle, ProofBundle):
        bundle = ProofBundle.from_text(bundle)
    try:
        record = decode_leaf(bundle.leaf_data)
    except ValueError as e:
        raise ProofBundleError(f"record in the bundle is malformed: {e}") from None
    try:
        signed = open_checkpoint(bundle.checkpoint_note, verifier, origin)
    except NoteError as e:
        raise ProofBundleError(f"checkpoint does not verify: {e}") from None
    try:
        verify_inclusion(
            bundle.index, signed.size, leaf_hash(bundle.leaf_data), bundle.proof,
            signed.root_hash,
        )
    except ValueError as e:
        raise ProofBundleError(f"inclusion proof does not verify: {e}") from None
    return VerifiedBundle(record, bundle.index, signed)

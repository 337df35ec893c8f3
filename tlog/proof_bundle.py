"""Self-contained proof that one entry is in a signed log (C2SP tlog-proof@v1).

Format::

    c2sp.org/tlog-proof@v1
    extra <base64 of the entry's leaf data>
    index <leaf index, decimal>
    <base64 inclusion proof hash, one per line, leaf's sibling first>

    <signed checkpoint note, verbatim, with any witness cosignature lines>

Anyone holding the log's verifier key (and, for a quorum, the witnesses' keys) can check
it offline: the leaf hash is SHA-256(0x00 ‖ extra), the checkpoint's signature and origin
are checked, the cosignatures are counted, and the inclusion proof must lead from the
leaf to the checkpoint's root. What the ``extra`` bytes mean is up to the log.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from tlog.checkpoint import SignedCheckpoint, open_checkpoint
from tlog.cosignature import Cosignature, QuorumError, require_quorum
from tlog.errors import TlogError
from tlog.hashes import HASH_SIZE, leaf_hash
from tlog.inclusion import verify_inclusion
from tlog.keys import NoteError, NoteVerifier

HEADER = "c2sp.org/tlog-proof@v1"
MAX_PROOF_HASHES = 64


class ProofBundleError(TlogError):
    """A proof bundle that is malformed or does not verify."""


class UnwitnessedBundleError(ProofBundleError):
    """A bundle whose checkpoint has fewer witness cosignatures than the quorum."""


@dataclass(frozen=True)
class ProofBundle:
    """An entry's leaf data, its leaf index, an inclusion proof and a signed checkpoint."""

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
class VerifiedProof:
    """What a verified bundle proves: ``leaf_data`` is leaf ``index`` of the signed tree,
    which the listed witnesses cosigned."""

    leaf_data: bytes
    index: int
    checkpoint: SignedCheckpoint
    cosignatures: tuple[Cosignature, ...] = ()


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ProofBundleError(f"{what} is not valid base64") from None


def verify_proof_bundle(
    bundle: ProofBundle | str | bytes,
    verifier: NoteVerifier | Sequence[NoteVerifier],
    origin: str | None = None,
    witnesses: Sequence[NoteVerifier] = (),
    quorum: int = 0,
) -> VerifiedProof:
    """Returns what the bundle proves; raises ProofBundleError if any check fails
    (UnwitnessedBundleError when fewer than ``quorum`` of ``witnesses`` cosigned).

    ``verifier`` is the log's trusted key, or several (any one of them may have signed the
    checkpoint, e.g. across a key rotation)."""
    if not isinstance(bundle, ProofBundle):
        bundle = ProofBundle.from_text(bundle)
    try:
        signed = open_checkpoint(bundle.checkpoint_note, verifier, origin)
    except NoteError as e:
        raise ProofBundleError(f"checkpoint does not verify: {e}") from None
    try:
        check = require_quorum(bundle.checkpoint_note, witnesses, quorum)
    except QuorumError as e:
        raise UnwitnessedBundleError(f"checkpoint is not witnessed: {e}") from None
    except NoteError as e:
        raise ProofBundleError(f"checkpoint cosignatures unreadable: {e}") from None
    try:
        verify_inclusion(
            bundle.index, signed.size, leaf_hash(bundle.leaf_data), bundle.proof,
            signed.root_hash,
        )
    except TlogError as e:
        raise ProofBundleError(f"inclusion proof does not verify: {e}") from None
    return VerifiedProof(bundle.leaf_data, bundle.index, signed, check.valid)

"""tlog-proof bundles: build from a real tree, verify, and reject every kind of tampering."""

from __future__ import annotations

from uuid import uuid4

import pytest

from ledger.audit.leaf import decode_leaf, encode_leaf
from ledger.audit.proof_bundle import ProofBundle, ProofBundleError, verify_bundle
from tlog.checkpoint import Checkpoint, sign_checkpoint
from tlog.compact_range import CompactRange
from tlog.hashes import leaf_hash
from tlog.inclusion import inclusion_proof
from tlog.note import NoteSigner

ORIGIN = "valedger.test/log"


@pytest.fixture
def setup():
    signer = NoteSigner.generate(ORIGIN)
    ids = [uuid4() for _ in range(11)]
    leaves = [encode_leaf(i, 1, "topic:Created", f"state {n}".encode()) for n, i in enumerate(ids)]
    cr, nodes = CompactRange(), {}
    for data in leaves:
        for level, index, h in cr.append(leaf_hash(data)):
            nodes[(level, index)] = h
    signed = sign_checkpoint(Checkpoint(ORIGIN, cr.size, cr.root()), signer)

    def bundle(i):
        proof = inclusion_proof(i, cr.size, lambda want: {n: nodes[n] for n in want})
        return ProofBundle(leaves[i], i, tuple(proof), signed.note)

    return signer, ids, bundle


def test_bundle_text_roundtrip_and_verifies(setup):
    signer, ids, bundle = setup
    for i in (0, 5, 10):
        text = bundle(i).to_text()
        assert text.startswith("c2sp.org/tlog-proof@v1\nextra ")
        assert ProofBundle.from_text(text) == bundle(i)
        result = verify_bundle(text, signer.verifier)
        assert result.index == i
        assert result.record.originator_id == ids[i]
        assert result.checkpoint.size == 11


def test_tampered_bundles_fail(setup):
    signer, _, bundle = setup
    b = bundle(3)
    other = NoteSigner.generate(ORIGIN)
    changed = encode_leaf(decode_leaf(b.leaf_data).originator_id, 1, "topic:Created", b"state X")
    cases = [
        ProofBundle(changed, b.index, b.proof, b.checkpoint_note),
        ProofBundle(b.leaf_data, 4, b.proof, b.checkpoint_note),
        ProofBundle(b.leaf_data, b.index, b.proof[:-1], b.checkpoint_note),
        ProofBundle(b.leaf_data, b.index, b.proof, b.checkpoint_note.replace("\n11\n", "\n12\n")),
        ProofBundle(b.leaf_data[:-1], b.index, b.proof, b.checkpoint_note),
    ]
    for case in cases:
        with pytest.raises(ProofBundleError):
            verify_bundle(case.to_text(), signer.verifier)
    with pytest.raises(ProofBundleError):
        verify_bundle(b.to_text(), other.verifier)


@pytest.mark.parametrize(
    "text",
    ["", "c2sp.org/tlog-proof@v1\n", "wrong\nextra AA==\nindex 0\n\nx\n",
     "c2sp.org/tlog-proof@v1\nindex 0\n\nx\n",
     "c2sp.org/tlog-proof@v1\nextra AA==\nindex 01\n\nx\n",
     "c2sp.org/tlog-proof@v1\nextra AA==\nindex 0\nAAAA\n\nx\n",
     "c2sp.org/tlog-proof@v1\nextra !!\nindex 0\n\nx\n", b"\xff\xfe"],
)
def test_malformed_bundles_are_typed_errors(text):
    with pytest.raises(ProofBundleError):
        ProofBundle.from_text(text)

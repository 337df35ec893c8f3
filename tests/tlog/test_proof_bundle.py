"""tlog-proof bundles of arbitrary entries, with witness cosignatures and a quorum."""

from __future__ import annotations

import pytest

from tlog.checkpoint import Checkpoint, sign_checkpoint
from tlog.compact_range import CompactRange
from tlog.cosignature import add_signatures, cosign
from tlog.hashes import leaf_hash
from tlog.inclusion import inclusion_proof
from tlog.keys import SIG_TYPE_COSIGNATURE_V1, NoteSigner
from tlog.note import parse_note
from tlog.proof_bundle import (
    ProofBundle,
    ProofBundleError,
    UnwitnessedBundleError,
    verify_proof_bundle,
)


@pytest.fixture
def bundle():
    entries = [f"entry {i}".encode() for i in range(7)]
    hashes = [leaf_hash(e) for e in entries]
    compact = CompactRange()
    nodes = {}
    for h in hashes:
        nodes.update({(lvl, i): x for lvl, i, x in compact.append(h)})
    log = NoteSigner.generate("log.test")
    note = sign_checkpoint(Checkpoint("log.test", 7, compact.root()), log).note
    w1 = NoteSigner.generate("w1.test", SIG_TYPE_COSIGNATURE_V1)
    w2 = NoteSigner.generate("w2.test", SIG_TYPE_COSIGNATURE_V1)
    text = parse_note(note).text
    cosigned = add_signatures(note, [cosign(text, w1, 10), cosign(text, w2, 11)])
    proof = inclusion_proof(3, 7, lambda ids: {i: nodes[i] for i in ids})
    return log, [w1.verifier, w2.verifier], entries[3], proof, note, cosigned


def test_bundle_with_cosignatures_meets_quorum(bundle):
    log, witnesses, entry, proof, _note, cosigned = bundle
    text = ProofBundle(entry, 3, tuple(proof), cosigned).to_text()
    proven = verify_proof_bundle(text, log.verifier, witnesses=witnesses, quorum=2)
    assert proven.leaf_data == entry and proven.index == 3
    assert {c.witness for c in proven.cosignatures} == {w.label for w in witnesses}


def test_bundle_short_of_quorum_is_unwitnessed(bundle):
    log, witnesses, entry, proof, note, _ = bundle
    text = ProofBundle(entry, 3, tuple(proof), note).to_text()
    verify_proof_bundle(text, log.verifier)  # no quorum asked: fine
    with pytest.raises(UnwitnessedBundleError):
        verify_proof_bundle(text, log.verifier, witnesses=witnesses, quorum=1)


def test_bundle_of_other_entry_fails(bundle):
    log, _witnesses, _entry, proof, _note, cosigned = bundle
    with pytest.raises(ProofBundleError):
        verify_proof_bundle(ProofBundle(b"entry 4", 3, tuple(proof), cosigned), log.verifier)

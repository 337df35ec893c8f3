"""RFC 9162 consistency proofs: proofgen vectors, probes, every small tree, tampering."""

from __future__ import annotations

import pytest

from tests.tlog.rfc6962 import (
    CONSISTENCY_PROOFS,
    LEAF_INPUTS,
    ROOTS,
    all_nodes,
    b64,
    getter,
    load_probes,
    rfc_mth,
)
from tlog.consistency import consistency_proof, verify_consistency
from tlog.errors import ProofError
from tlog.hashes import EMPTY_ROOT, leaf_hash, root_hash
from tlog.inclusion import inclusion_proof, root_from_inclusion_proof, verify_inclusion


@pytest.mark.parametrize(("size1", "size2", "want"), CONSISTENCY_PROOFS)
def test_consistency_proofs_match_proofgen(size1, size2, want):
    hashes = [leaf_hash(x) for x in LEAF_INPUTS]
    proof = consistency_proof(size1, size2, getter(all_nodes(hashes[:size2])))
    assert [p.hex() for p in proof] == want
    verify_consistency(size1, size2, ROOTS[size1], ROOTS[size2], proof)


@pytest.mark.parametrize("probe", load_probes("consistency"))
def test_consistency_probes(probe):
    proof = [b64(p) for p in (probe["proof"] or [])]
    args = (probe["size1"], probe["size2"], b64(probe["root1"]), b64(probe["root2"]), proof)
    if probe["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_every_proof_in_small_trees_verifies_and_matches_the_rfc_recursion():
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(40)]
    nodes = all_nodes(hashes)
    get = getter(nodes)
    roots = [rfc_mth(hashes[:n]) for n in range(41)]
    for n in range(41):
        assert root_hash(hashes[:n]) == roots[n]
    for n in range(1, 41):
        for i in range(n):
            proof = inclusion_proof(i, n, get)
            assert root_from_inclusion_proof(i, n, hashes[i], proof) == roots[n]
        for m in range(1, n + 1):
            verify_consistency(m, n, roots[m], roots[n], consistency_proof(m, n, get))


def test_tampered_proofs_fail():
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(13)]
    get = getter(all_nodes(hashes))
    root = root_hash(hashes)
    proof = inclusion_proof(5, 13, get)
    bad = [*proof]
    bad[1] = bytes([bad[1][0] ^ 1]) + bad[1][1:]
    with pytest.raises(ProofError):
        verify_inclusion(5, 13, hashes[5], bad, root)
    with pytest.raises(ProofError):
        verify_inclusion(6, 13, hashes[5], proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(5, 13, hashes[5], proof[:-1], root)
    cons = consistency_proof(7, 13, get)
    with pytest.raises(ProofError):
        verify_consistency(7, 13, root_hash(hashes[:7]), root_hash(hashes[:12]), cons)


def test_bad_arguments_are_typed_errors():
    with pytest.raises(ProofError):
        inclusion_proof(3, 3, lambda ids: {})
    with pytest.raises(ProofError):
        consistency_proof(4, 3, lambda ids: {})
    with pytest.raises(ProofError):
        inclusion_proof(0, 2, lambda ids: {})  # node not stored
    with pytest.raises(ProofError):
        verify_inclusion(0, 1, b"short", [], EMPTY_ROOT)

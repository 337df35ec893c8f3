"""RFC 9162 inclusion proofs: proofgen vectors, probes, every small tree, tampering."""

from __future__ import annotations

import pytest

from tests.tlog.rfc6962 import (
    INCLUSION_PROOFS,
    LEAF_INPUTS,
    ROOTS,
    all_nodes,
    b64,
    getter,
    load_probes,
)
from tlog.errors import ProofError
from tlog.hashes import leaf_hash
from tlog.inclusion import inclusion_proof, verify_inclusion


@pytest.mark.parametrize(("one_based", "size", "want"), INCLUSION_PROOFS)
def test_inclusion_proofs_match_proofgen(one_based, size, want):
    hashes = [leaf_hash(x) for x in LEAF_INPUTS]
    proof = inclusion_proof(one_based - 1, size, getter(all_nodes(hashes[:size])))
    assert [p.hex() for p in proof] == want
    verify_inclusion(one_based - 1, size, hashes[one_based - 1], proof, ROOTS[size])


@pytest.mark.parametrize("probe", load_probes("inclusion"))
def test_inclusion_probes(probe):
    proof = [b64(p) for p in (probe["proof"] or [])]
    args = (probe["leafIdx"], probe["treeSize"], b64(probe["leafHash"]), proof,
            b64(probe["root"]))
    if probe["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)

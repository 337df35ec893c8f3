"""RFC 9162 hashing and proofs, checked against transparency-dev/merkle's published vectors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ledger.audit.merkle import (
    EMPTY_ROOT,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).parent / "vectors"

# Reference tree of transparency-dev/merkle (testonly/constants.go, commit
# 417fb0c314750d94e53942e9f92e79b6d35915db): the RFC 6962 test leaves and their roots.
LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f"]
]
ROOTS = [
    bytes.fromhex(h)
    for h in [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]

# cmd/proofgen/main.go of the same commit: (1-based leaf index, tree size, proof).
INCLUSION_PROOFS = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY_PROOFS = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]


def all_nodes(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every perfect subtree hash of a tree, computed naively level by level."""
    nodes = {(0, i): h for i, h in enumerate(leaves)}
    level, row = 0, list(leaves)
    while len(row) > 1:
        row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)]
        level += 1
        nodes.update({(level, i): h for i, h in enumerate(row)})
    return nodes


def getter(nodes):
    return lambda ids: {i: nodes[i] for i in ids}


def rfc_mth(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 §2.1.1 writes it (recursive), to cross-check root_hash."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(rfc_mth(leaves[:k]), rfc_mth(leaves[k:]))


def test_hashes_match_rfc6962_vectors():
    # transparency-dev/merkle rfc6962/rfc6962_test.go
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert leaf_hash(b"L123456").hex() == (
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56")
    assert node_hash(b"N123", b"N456").hex() == (
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb")


def test_roots_of_reference_tree():
    hashes = [leaf_hash(x) for x in LEAF_INPUTS]
    for size, want in enumerate(ROOTS):
        assert root_hash(hashes[:size]) == want, size


@pytest.mark.parametrize(("one_based", "size", "want"), INCLUSION_PROOFS)
def test_inclusion_proofs_match_proofgen(one_based, size, want):
    hashes = [leaf_hash(x) for x in LEAF_INPUTS]
    proof = inclusion_proof(one_based - 1, size, getter(all_nodes(hashes[:size])))
    assert [p.hex() for p in proof] == want
    verify_inclusion(one_based - 1, size, hashes[one_based - 1], proof, ROOTS[size])


@pytest.mark.parametrize(("size1", "size2", "want"), CONSISTENCY_PROOFS)
def test_consistency_proofs_match_proofgen(size1, size2, want):
    hashes = [leaf_hash(x) for x in LEAF_INPUTS]
    proof = consistency_proof(size1, size2, getter(all_nodes(hashes[:size2])))
    assert [p.hex() for p in proof] == want
    verify_consistency(size1, size2, ROOTS[size1], ROOTS[size2], proof)


def _b64(v):
    return base64.b64decode(v) if v else b""


def _load(kind):
    data = json.loads((VECTORS / f"{kind}_probes.json").read_text())
    return [pytest.param(p, id=p["source"]) for p in data["probes"]]


@pytest.mark.parametrize("probe", _load("inclusion"))
def test_inclusion_probes(probe):
    proof = [_b64(p) for p in (probe["proof"] or [])]
    args = (probe["leafIdx"], probe["treeSize"], _b64(probe["leafHash"]), proof,
            _b64(probe["root"]))
    if probe["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("probe", _load("consistency"))
def test_consistency_probes(probe):
    proof = [_b64(p) for p in (probe["proof"] or [])]
    args = (probe["size1"], probe["size2"], _b64(probe["root1"]), _b64(probe["root2"]), proof)
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

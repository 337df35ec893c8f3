"""RFC 9162 hashing and roots, checked against transparency-dev/merkle's published vectors."""

from __future__ import annotations

from tests.tlog.rfc6962 import (
    LEAF_INPUTS,
    ROOTS,
)
from tlog.hashes import EMPTY_ROOT, leaf_hash, node_hash, root_hash


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

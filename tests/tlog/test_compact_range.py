"""Compact range appends: roots, completed nodes and serialization."""

from __future__ import annotations

import pytest

from tests.tlog.rfc6962 import LEAF_INPUTS, ROOTS, all_nodes
from tlog.compact_range import CompactRange, CompactRangeError
from tlog.hashes import leaf_hash, root_hash


def test_root_after_each_append_matches_reference_roots():
    cr = CompactRange()
    assert cr.root() == ROOTS[0]
    for i, data in enumerate(LEAF_INPUTS):
        cr.append(leaf_hash(data))
        assert cr.size == i + 1
        assert cr.root() == ROOTS[i + 1]


def test_completed_nodes_are_exactly_the_perfect_subtrees():
    hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(37)]
    cr = CompactRange()
    seen = {}
    for h in hashes:
        for level, index, node in cr.append(h):
            assert (level, index) not in seen
            seen[(level, index)] = node
    assert seen == all_nodes(hashes)
    assert cr.root() == root_hash(hashes)
    assert [seen[n] for n in cr.node_ids()] == cr.hashes


def test_extend_equals_append_and_roundtrips_bytes():
    hashes = [leaf_hash(bytes([i])) for i in range(100)]
    a, b = CompactRange(), CompactRange()
    for h in hashes:
        a.append(h)
    b.extend(hashes)
    assert a == b
    assert CompactRange.from_bytes(a.to_bytes()) == a
    c = a.copy()
    c.append(hashes[0])
    assert c != a


def test_malformed_ranges_are_rejected():
    with pytest.raises(CompactRangeError):
        CompactRange(3, [b"\x00" * 32])
    with pytest.raises(CompactRangeError):
        CompactRange.from_bytes(b"\x00" * 7)
    with pytest.raises(CompactRangeError):
        CompactRange.from_bytes((5).to_bytes(8, "big") + b"\x00" * 32)

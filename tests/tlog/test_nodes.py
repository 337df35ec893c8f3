"""Node ids and proof plans: which perfect subtrees tile a range."""

from __future__ import annotations

import pytest

from tlog.errors import ProofError
from tlog.nodes import build_proof, compact_range_nodes, plan_node_ids, range_nodes


@pytest.mark.parametrize(
    ("begin", "end", "want"),
    [(0, 0, []), (0, 1, [(0, 0)]), (0, 7, [(2, 0), (1, 2), (0, 6)]), (8, 12, [(2, 2)]),
     (4, 7, [(1, 2), (0, 6)])],
)
def test_range_nodes(begin, end, want):
    assert range_nodes(begin, end) == want


def test_compact_range_nodes_follow_the_bits_of_the_size():
    assert compact_range_nodes(13) == [(3, 0), (2, 2), (0, 12)]
    assert len(compact_range_nodes(2**20 - 1)) == 20


def test_plan_ids_and_missing_node():
    plan = [[(1, 0)], [(0, 2), (0, 3)]]
    assert plan_node_ids(plan) == {(1, 0), (0, 2), (0, 3)}
    with pytest.raises(ProofError, match=r"\(0, 3\)"):
        build_proof(plan, {(1, 0): b"a" * 32, (0, 2): b"b" * 32})

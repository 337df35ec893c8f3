"""Node ids and proof plans: which stored perfect subtrees make up each proof hash.

Trees are addressed by node ids ``(level, index)``: the perfect subtree at ``level``
covering leaves ``[index << level, (index + 1) << level)``. A proof *plan* says which
perfect subtrees each proof element is made of, so a store can fetch every node of a proof
in one read and the proof is built from O(log n) stored hashes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from tlog.errors import ProofError
from tlog.hashes import fold_right

NodeID = tuple[int, int]
"""``(level, index)`` of a perfect subtree."""

ProofPlan = list[list[NodeID]]
"""One entry per proof hash: the perfect subtrees (left to right) that make it up."""

NodeReader = Callable[[Iterable[NodeID]], Mapping[NodeID, bytes]]
"""Returns the stored hashes of the node ids asked for (missing ones left out)."""


def largest_power_of_two_below(n: int) -> int:
    """Returns the largest power of two strictly less than ``n``. Precondition: n >= 2."""
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(begin: int, end: int) -> list[NodeID]:
    """Returns the perfect subtrees, left to right, whose fold is MTH(D[begin:end]).

    Precondition: ``begin`` is a multiple of the smallest power of two >= ``end - begin``,
    as every subtree the RFC's recursion visits is.
    """
    nodes: list[NodeID] = []
    size = end - begin
    while size > 0:
        level = size.bit_length() - 1
        nodes.append((level, begin >> level))
        begin += 1 << level
        size -= 1 << level
    return nodes


def compact_range_nodes(size: int) -> list[NodeID]:
    """Returns the perfect subtrees (left to right) whose fold is the root at ``size``."""
    return range_nodes(0, size)


def plan_node_ids(plan: ProofPlan) -> set[NodeID]:
    """Returns every node id a plan reads."""
    return {node for group in plan for node in group}


def build_proof(plan: ProofPlan, nodes: Mapping[NodeID, bytes]) -> list[bytes]:
    """Returns the proof hashes of a plan, given the hashes of its nodes; raises
    ProofError naming the first node that is missing."""
    try:
        return [fold_right([nodes[n] for n in group]) for group in plan]
    except KeyError as e:
        raise ProofError(f"tree node {e.args[0]} is not stored") from None

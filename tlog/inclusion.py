"""RFC 9162 §2.1.3 inclusion proofs: generation from stored nodes, and verification."""

from __future__ import annotations

from collections.abc import Sequence

from tlog.errors import ProofError
from tlog.hashes import check_hash, node_hash
from tlog.nodes import (
    NodeReader,
    ProofPlan,
    build_proof,
    largest_power_of_two_below,
    plan_node_ids,
    range_nodes,
)


def _check_sizes(index: int, size: int) -> None:
    if index < 0 or size < 0:
        raise ProofError(f"negative index or size: {index}, {size}")
    if index >= size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")


def inclusion_plan(index: int, size: int) -> ProofPlan:
    """Returns the plan of PATH(index, D[0:size]) (RFC 9162 §2.1.3.1), leaf end first.

    Precondition: 0 <= index < size (else ProofError).
    """
    _check_sizes(index, size)
    siblings: list[tuple[int, int]] = []
    begin, end, m = 0, size, index
    while end - begin > 1:
        k = largest_power_of_two_below(end - begin)
        if m < k:
            siblings.append((begin + k, end))
            end = begin + k
        else:
            siblings.append((begin, begin + k))
            begin, m = begin + k, m - k
    return [range_nodes(a, b) for a, b in reversed(siblings)]


def inclusion_proof(index: int, size: int, get_nodes: NodeReader) -> list[bytes]:
    """Returns the inclusion proof of leaf ``index`` in the tree of ``size`` leaves.

    ``get_nodes`` reads stored subtree hashes; a missing one raises ProofError.
    """
    plan = inclusion_plan(index, size)
    return build_proof(plan, get_nodes(plan_node_ids(plan)))


def root_from_inclusion_proof(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes]
) -> bytes:
    """Returns the root that ``proof`` implies for leaf hash ``leaf`` (RFC 9162 §2.1.3.2).

    Preconditions: 0 <= index < size, every hash has 32 bytes, the proof has exactly the
    length the sizes imply (each violation raises ProofError).
    """
    _check_sizes(index, size)
    check_hash("leaf hash", leaf)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        check_hash("proof hash", p)
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Returns None when leaf hash ``leaf`` is leaf ``index`` of the tree with ``root``;
    raises ProofError otherwise."""
    check_hash("root", root)
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError("inclusion proof does not lead to the root")

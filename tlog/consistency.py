"""RFC 9162 §2.1.4 consistency proofs: generation from stored nodes, and verification."""

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


def consistency_plan(old_size: int, new_size: int) -> ProofPlan:
    """Returns the plan of PROOF(old_size, D[0:new_size]) (RFC 9162 §2.1.4.1).

    Precondition: 0 <= old_size <= new_size (else ProofError). The plan is empty when
    old_size is 0 or equals new_size.
    """
    if old_size < 0 or new_size < old_size:
        raise ProofError(f"no consistency proof from size {old_size} to {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    out: list[tuple[int, int]] = []
    begin, end, m, complete = 0, new_size, old_size, True
    tail: list[tuple[int, int]] = []
    while m != end - begin:
        k = largest_power_of_two_below(end - begin)
        if m <= k:
            tail.append((begin + k, end))
            end = begin + k
        else:
            tail.append((begin, begin + k))
            begin, m, complete = begin + k, m - k, False
    if not complete:
        out.append((begin, end))
    out.extend(reversed(tail))
    return [range_nodes(a, b) for a, b in out]


def consistency_proof(old_size: int, new_size: int, get_nodes: NodeReader) -> list[bytes]:
    """Returns the consistency proof from ``old_size`` to ``new_size``.

    ``get_nodes`` reads stored subtree hashes; a missing one raises ProofError.
    """
    plan = consistency_plan(old_size, new_size)
    return build_proof(plan, get_nodes(plan_node_ids(plan)))


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Returns None when the tree (new_size, new_root) extends (old_size, old_root);
    raises ProofError otherwise.

    Follows RFC 9162 §2.1.4.2. As in transparency-dev/merkle, a proof from the empty tree is
    refused as meaningless; callers treat size 0 as consistent with everything. Equal sizes
    need an empty proof and equal roots.
    """
    if new_size < old_size:
        raise ProofError(f"second size {new_size} is smaller than first size {old_size}")
    if old_size <= 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if old_size == new_size:
        if proof:
            raise ProofError("sizes are equal but the proof is not empty")
        if old_root != new_root:
            raise ProofError("sizes are equal but the roots differ")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    check_hash("first root", old_root)
    check_hash("second root", new_root)
    for p in proof:
        check_hash("proof hash", p)
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != old_root:
        raise ProofError("consistency proof does not lead to the first root")
    if sr != new_root:
        raise ProofError("consistency proof does not lead to the second root")

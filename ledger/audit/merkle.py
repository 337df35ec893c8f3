"""RFC 9162 §2.1 Merkle tree hashing, inclusion and consistency proofs (SHA-256).

Trees are addressed by node ids ``(level, index)``: the perfect subtree at ``level`` covering
leaves ``[index << level, (index + 1) << level)``. Proof *plans* say which perfect subtrees
each proof element is made of, so a store can fetch every node of a proof in one read and
the proof is built from O(log n) stored hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

HASH_SIZE = 32
"""Bytes in a SHA-256 hash."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}): the root hash of the empty tree (RFC 9162 §2.1.1)."""

NodeID = tuple[int, int]
"""``(level, index)`` of a perfect subtree."""

ProofPlan = list[list[NodeID]]
"""One entry per proof hash: the perfect subtrees (left to right) that make it up."""

_sha256 = hashlib.sha256


class ProofError(ValueError):
    """A proof that does not verify, or arguments that admit no proof."""


def leaf_hash(data: bytes) -> bytes:
    """Returns SHA-256(0x00 ‖ data), the hash of one leaf."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Returns SHA-256(0x01 ‖ left ‖ right), the hash of an interior node."""
    return _sha256(b"\x01" + left + right).digest()


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """Returns the root over perfect subtrees given left to right (sizes decreasing)."""
    result = hashes[-1]
    for h in reversed(hashes[:-1]):
        result = node_hash(h, result)
    return result


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """Returns MTH over the given leaf hashes (EMPTY_ROOT for none)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level: list[bytes] = list(leaf_hashes)
    # Pair up left to right; an odd last node is carried up unchanged. This equals the
    # RFC's recursive split at the largest power of two below n.
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def _largest_power_of_two_below(n: int) -> int:
    """Returns the largest power of two strictly less than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(begin: int, end: int) -> list[NodeID]:
    """Returns the perfect subtrees, left to right, whose fold is MTH(D[begin:end]).

    ``begin`` must be a multiple of the smallest power of two >= ``end - begin``, as every
    subtree the RFC's recursion visits is.
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


def _check_sizes(index: int, size: int) -> None:
    if index < 0 or size < 0:
        raise ProofError(f"negative index or size: {index}, {size}")
    if index >= size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")


def inclusion_plan(index: int, size: int) -> ProofPlan:
    """Returns the plan of PATH(index, D[0:size]) (RFC 9162 §2.1.3.1), leaf end first."""
    _check_sizes(index, size)
    siblings: list[tuple[int, int]] = []
    begin, end, m = 0, size, index
    while end - begin > 1:
        k = _largest_power_of_two_below(end - begin)
        if m < k:
            siblings.append((begin + k, end))
            end = begin + k
        else:
            siblings.append((begin, begin + k))
            begin, m = begin + k, m - k
    return [range_nodes(a, b) for a, b in reversed(siblings)]


def consistency_plan(old_size: int, new_size: int) -> ProofPlan:
    """Returns the plan of PROOF(old_size, D[0:new_size]) (RFC 9162 §2.1.4.1)."""
    if old_size < 0 or new_size < old_size:
        raise ProofError(f"no consistency proof from size {old_size} to {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    out: list[tuple[int, int]] = []
    begin, end, m, complete = 0, new_size, old_size, True
    tail: list[tuple[int, int]] = []
    while m != end - begin:
        k = _largest_power_of_two_below(end - begin)
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


def plan_node_ids(plan: ProofPlan) -> set[NodeID]:
    """Returns every node id a plan reads."""
    return {node for group in plan for node in group}


def build_proof(plan: ProofPlan, nodes: Mapping[NodeID, bytes]) -> list[bytes]:
    """Returns the proof hashes of a plan, given the hashes of its nodes."""
    try:
        return [fold_right([nodes[n] for n in group]) for group in plan]
    except KeyError as e:
        raise ProofError(f"tree node {e.args[0]} is not stored") from None


def inclusion_proof(
    index: int, size: int, get_nodes: Callable[[Iterable[NodeID]], Mapping[NodeID, bytes]]
) -> list[bytes]:
    """Returns the inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
    plan = inclusion_plan(index, size)
    return build_proof(plan, get_nodes(plan_node_ids(plan)))


def consistency_proof(
    old_size: int, new_size: int, get_nodes: Callable[[Iterable[NodeID]], Mapping[NodeID, bytes]]
) -> list[bytes]:
    """Returns the consistency proof from ``old_size`` to ``new_size``."""
    plan = consistency_plan(old_size, new_size)
    return build_proof(plan, get_nodes(plan_node_ids(plan)))


def _check_hash(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{name} has {len(value)} bytes, expected {HASH_SIZE}")


def root_from_inclusion_proof(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes]
) -> bytes:
    """Returns the root that ``proof`` implies for leaf hash ``leaf`` (RFC 9162 §2.1.3.2)."""
    _check_sizes(index, size)
    _check_hash("leaf hash", leaf)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        _check_hash("proof hash", p)
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
    """Checks that leaf hash ``leaf`` is leaf ``index`` of the tree with ``root``."""
    _check_hash("root", root)
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Checks that the tree (new_size, new_root) extends (old_size, old_root).

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
    _check_hash("first root", old_root)
    _check_hash("second root", new_root)
    for p in proof:
        _check_hash("proof hash", p)
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

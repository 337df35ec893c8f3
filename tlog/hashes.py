"""RFC 9162 §2.1 Merkle tree hashing with SHA-256: leaves, interior nodes and roots."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from tlog.errors import ProofError

HASH_SIZE = 32
"""Bytes in a SHA-256 hash."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}): the root hash of the empty tree (RFC 9162 §2.1.1)."""

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """Returns SHA-256(0x00 ‖ data), the hash of one leaf."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Returns SHA-256(0x01 ‖ left ‖ right), the hash of an interior node."""
    return _sha256(b"\x01" + left + right).digest()


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """Returns the root over perfect subtrees given left to right (sizes decreasing).

    Precondition: ``hashes`` is not empty.
    """
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


def check_hash(name: str, value: bytes) -> None:
    """Raises ProofError unless ``value`` has HASH_SIZE bytes."""
    if len(value) != HASH_SIZE:
        raise ProofError(f"{name} has {len(value)} bytes, expected {HASH_SIZE}")

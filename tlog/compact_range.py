"""Compact range: the right edge of a growing Merkle tree, for O(log n) appends.

For a tree of ``size`` leaves the range holds one hash per set bit of ``size``: the roots of
the perfect subtrees that tile ``[0, size)``, largest (leftmost) first. Appending a leaf
merges equal-sized subtrees, and every merge completes a perfect subtree that a tree store
keeps so proofs can be served later.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from tlog.errors import TlogError
from tlog.hashes import EMPTY_ROOT, HASH_SIZE, node_hash
from tlog.nodes import NodeID, compact_range_nodes


class CompactRangeError(TlogError):
    """A serialized compact range that cannot be read."""


class CompactRange:
    """The perfect-subtree roots that tile leaves ``[0, size)``."""

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self._size = size
        self._hashes = list(hashes)
        if size < 0 or len(self._hashes) != size.bit_count():
            raise CompactRangeError(
                f"a range of size {size} needs {max(size, 0).bit_count()} hashes, "
                f"got {len(self._hashes)}"
            )
        if any(len(h) != HASH_SIZE for h in self._hashes):
            raise CompactRangeError("every hash of a compact range has 32 bytes")

    @property
    def size(self) -> int:
        """Returns the number of leaves covered."""
        return self._size

    @property
    def hashes(self) -> list[bytes]:
        """Returns a copy of the subtree roots, leftmost (largest) first."""
        return list(self._hashes)

    def node_ids(self) -> list[NodeID]:
        """Returns the node ids of the held hashes, leftmost first."""
        return compact_range_nodes(self._size)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Appends one leaf hash; returns the completed nodes as (level, index, hash).

        The first returned node is the leaf itself (level 0), then each parent it completed.
        """
        index = self._size
        completed = [(0, index, leaf)]
        h = leaf
        level = 0
        hashes = self._hashes
        # Each trailing one bit of the old size is a left sibling waiting for this subtree.
        while (index >> level) & 1:
            h = node_hash(hashes.pop(), h)
            level += 1
            completed.append((level, index >> level, h))
        hashes.append(h)
        self._size = index + 1
        return completed

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Appends many leaf hashes, discarding the completed nodes."""
        hashes = self._hashes
        size = self._size
        for leaf in leaves:
            h = leaf
            s = size
            while s & 1:
                h = node_hash(hashes.pop(), h)
                s >>= 1
            hashes.append(h)
            size += 1
        self._size = size

    def root(self) -> bytes:
        """Returns MTH of the covered leaves."""
        if not self._hashes:
            return EMPTY_ROOT
        r = self._hashes[-1]
        for h in reversed(self._hashes[:-1]):
            r = node_hash(h, r)
        return r

    def copy(self) -> CompactRange:
        """Returns an independent copy."""
        return CompactRange(self._size, self._hashes)

    def to_bytes(self) -> bytes:
        """Returns the range as u64 size followed by its hashes."""
        return struct.pack(">Q", self._size) + b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> CompactRange:
        """Returns the range serialized by :meth:`to_bytes`."""
        if len(data) < 8 or (len(data) - 8) % HASH_SIZE:
            raise CompactRangeError(f"serialized compact range has bad length {len(data)}")
        (size,) = struct.unpack(">Q", data[:8])
        body = data[8:]
        hashes = [body[i : i + HASH_SIZE] for i in range(0, len(body), HASH_SIZE)]
        return cls(size, hashes)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, CompactRange)
            and self._size == other._size
            and self._hashes == other._hashes
        )

    def __hash__(self) -> int:
        return hash((self._size, tuple(self._hashes)))

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()[:16]}…)"

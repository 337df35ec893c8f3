"""The upper levels of the audit tree kept in memory, so a proof reads only its low nodes.

A stored node (level ≥ 1) is the hash of a completed perfect subtree: it never changes
once written (the follower only appends). Every inclusion or consistency proof needs one
node per level; the upper levels are few (2^17 nodes at most here) and shared by all
proofs, the lower ones many and each read rarely. :class:`HotNodes` loads every node at
or above a floor level (chosen from the tree size so that at most :data:`CAPACITY` nodes
qualify) in one range scan the first time, keeps the ones read later (subtrees completed
since), and hands the store only the nodes below the floor and the leaf. The proof code
(ledger/audit/log.py) is its one user; the follower never reads through it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from ledger.audit.store import AuditTransaction
from tlog.nodes import NodeID

CAPACITY = 1 << 17
"""Most nodes kept (about 20 MB of Python objects)."""


def floor_level(tree_size: int, capacity: int = CAPACITY) -> int:
    """Returns the lowest level whose nodes, with all above, number at most ``capacity``
    in a tree of ``tree_size`` leaves (never the leaves: level 1 at least)."""
    level = 1
    while sum(tree_size >> above for above in range(level, tree_size.bit_length())) > capacity:
        level += 1
    return level


class HotNodes:
    """Node hashes at or above a floor level, loaded once and kept (thread-safe)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.floor: int | None = None
        self.hashes: dict[NodeID, bytes] = {}
        self._lock = threading.Lock()

    def get_nodes(self, tx: AuditTransaction, ids: Iterable[NodeID],
                  tree_size: int) -> dict[NodeID, bytes]:
        """Returns the stored hashes of ``ids`` (as ``tx.get_nodes`` does): those at or
        above the floor from memory, the rest from the store in one query."""
        floor = floor_level(tree_size, self.capacity)
        with self._lock:
            if self.floor is None or floor > self.floor + 1 or floor < self.floor:
                self.hashes = tx.upper_nodes(floor)  # (re)load: first use or much growth
                self.floor = floor
            floor = self.floor
            found = {i: h for i in ids if (h := self.hashes.get(i)) is not None}
        wanted = [i for i in ids if i not in found]
        if not wanted:
            return found
        read = tx.get_nodes(wanted)
        with self._lock:
            for node, value in read.items():
                if node[0] >= floor and len(self.hashes) < self.capacity:
                    self.hashes[node] = value
        found.update(read)
        return found

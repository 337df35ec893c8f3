"""Duplicate shares: repeats of a hash within one submission, and hashes accepted before.

Array-module generic: ``xp`` is NumPy, or CuPy when the hashes live on the GPU; only
operations that both implement alike are used (elementwise ops, ``where``, ``nonzero``,
``argsort``, ``searchsorted``, fancy indexing), never a Python loop per share and never a
sort of 32-byte keys. Only the first occurrences of hashes whose submission has an
``already_accepted`` index come to the host, as bytes, for the index's one batched query.

Owner of the DUPLICATE rule; ``verifier.decisions`` applies it after every other verdict
(DUPLICATE has the lowest precedence), ``ledger.proof_figures`` relies on each
submission's duplicates being its own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from collections.abc import Set as AbstractSet
from types import ModuleType
from typing import Any

import numpy as np

AlreadyAccepted = AbstractSet[bytes] | Callable[[Sequence[bytes]], Collection[bytes]]
"""Hashes accepted earlier for the same licence: a set, or a function that is given the
candidate hashes (internal byte order) and returns those among them already accepted, so
a persistent index can answer one batched query."""

Array = Any
"""A NumPy or CuPy array (CuPy is optional and untyped)."""


PINNED_DOWNLOAD_BYTES = 1 << 20
"""Device arrays at least this large come back through pinned host memory (two to four
times the bandwidth of a pageable copy; smaller ones are not worth the allocation)."""


def to_host(xp: ModuleType, array: Array) -> np.ndarray:
    """Returns the array as a NumPy array (the array itself when ``xp`` is NumPy; large
    device arrays land in pinned host memory)."""
    if xp is np:
        return np.asarray(array)
    if int(array.nbytes) < PINNED_DOWNLOAD_BYTES:
        return np.asarray(xp.asnumpy(array))
    import cupyx

    source = xp.ascontiguousarray(array)
    out = cupyx.empty_pinned(source.shape, dtype=source.dtype)
    source.get(out=out)
    return out


def repeated_hashes(xp: ModuleType, hashes: Array, candidates: Array,
                    starts: Sequence[int]) -> Array:
    """Returns an ``xp`` bool array over ``candidates``: True where the candidate's hash
    occurred at a lower-indexed candidate of the same submission.

    ``hashes`` is (N, 32) uint8; ``candidates`` are share indices, ascending; submission
    k holds the shares ``starts[k]:starts[k+1]``. Exact for any hashes: one sort of a
    64-bit key (the hash's first 8 bytes with their low bits replaced by the candidate's
    position, so every key is distinct and the sort's order is the same on every array
    module), full 32-byte comparison of neighbours, and an exact re-sort of the rare runs
    where equal key prefixes hide different hashes (which an attacker can craft).
    """
    m = int(candidates.shape[0])
    repeat = xp.zeros(m, dtype=bool)
    if m < 2:
        return repeat
    words = xp.ascontiguousarray(hashes).view(xp.uint64)  # (N, 4)
    shift = xp.uint64(max(1, (m - 1).bit_length()))
    position = xp.arange(m, dtype=xp.uint64)
    keys = ((words[candidates, 0] >> shift) << shift) | position
    order = xp.argsort(keys)
    prefix = keys[order] >> shift
    if len(starts) > 2:
        inner = xp.asarray(np.asarray(starts[1:-1], dtype=np.int64))
        submission = xp.searchsorted(inner, candidates, side="right")
    else:
        submission = xp.zeros(m, dtype=xp.int64)
    # Neighbours in sorted order with equal prefixes: within such a run the positions
    # ascend, so a submission's members of the run are contiguous.
    pairs = xp.nonzero(prefix[1:] == prefix[:-1])[0]
    if int(pairs.shape[0]) == 0:
        return repeat
    left, right = order[pairs], order[pairs + 1]
    same_hash = xp.all(words[candidates[left]] == words[candidates[right]], axis=1)
    same = same_hash & (submission[left] == submission[right])
    repeat[right[same]] = True
    if bool(xp.all(same_hash)):
        return repeat
    # Runs holding different hashes: compare those candidates by their full hash.
    run = xp.cumsum(xp.concatenate([xp.ones(1, dtype=xp.int64),
                                     (prefix[1:] != prefix[:-1]).astype(xp.int64)])) - 1
    mixed = xp.zeros(int(run[-1]) + 1, dtype=bool)
    mixed[run[pairs[~same_hash]]] = True
    members = xp.sort(order[xp.nonzero(mixed[run])[0]])
    full = words[candidates[members]]
    exact = xp.arange(int(members.shape[0]))
    for column in (full[:, 3], full[:, 2], full[:, 1], full[:, 0], submission[members]):
        exact = exact[_stable_argsort(xp, column[exact])]
    ranked = members[exact]
    equal = xp.all(full[exact[1:]] == full[exact[:-1]], axis=1) & (
        submission[ranked[1:]] == submission[ranked[:-1]])
    repeat[ranked[1:][equal]] = True
    return repeat


def _stable_argsort(xp: ModuleType, values: Array) -> Array:
    """Returns the indices that sort ``values``, equal values in index order (CuPy's
    sorts are always stable and older CuPy takes no ``kind``)."""
    return np.argsort(values, kind="stable") if xp is np else xp.argsort(values)


def accepted_before(xp: ModuleType, hashes: Array, firsts: Array, starts: Sequence[int],
                    already_accepted: Sequence[AlreadyAccepted | None]) -> np.ndarray:
    """Returns the share indices (host int64, ascending) among ``firsts`` whose hash the
    submission's ``already_accepted`` holds.

    ``firsts`` are the first occurrences of each hash per submission (``xp`` indices,
    ascending); submission k holds shares ``starts[k]:starts[k+1]``. Each index is asked
    once, with that submission's first-occurrence hashes in share order, and only when
    there is at least one; only those rows are copied to the host.
    """
    if all(seen is None for seen in already_accepted) or int(firsts.shape[0]) == 0:
        return np.zeros(0, dtype=np.int64)
    first_host = to_host(xp, firsts).astype(np.int64)
    rows = np.ascontiguousarray(to_host(xp, hashes[firsts]), dtype=np.uint8)
    keys = rows.view(np.dtype((np.void, 32))).ravel()
    bounds = np.searchsorted(first_host, np.asarray(starts, dtype=np.int64))
    found: list[np.ndarray] = []
    for seen, low, high in zip(already_accepted, bounds[:-1], bounds[1:], strict=True):
        if seen is None or low == high:
            continue
        unique_hashes = keys[low:high].tolist()  # bytes objects, made in one C loop
        lookup = set(seen(unique_hashes)) if callable(seen) else seen
        again = np.fromiter(map(lookup.__contains__, unique_hashes), dtype=bool,
                            count=len(unique_hashes))
        found.append(first_host[low:high][again])
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)

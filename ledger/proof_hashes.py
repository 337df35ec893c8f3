"""The national index of accepted share hashes as whole arrays: hash → licence, append-only.

A share hash credited to one licence anywhere in the country is a DUPLICATE for every
later batch (DESIGN §4, §5). ``ledger.proof_index`` keeps this index from the log and
``ledger.proof_figures.decide`` asks it about every accepted candidate of a batch; both
go through whole-array NumPy, never a Python step per share: a 100,000-share batch is
added in under ten milliseconds and looked up in about three, where a ``dict[bytes, UUID]``
spent about a microsecond a share making bytes objects and hashing them.

Layout: the 32-byte hashes as rows of four ``uint64`` words in arrival order, in chunks of
``CHUNK`` rows that are never moved, with the licence of each row; and an open-addressing
table (linear probing, at most a third full) of one ``uint64`` a slot: a 32-bit
fingerprint of the hash (from its second word) above its row number + 1 (0: empty). A
share hash is uniformly random in its first 128 bits (internal byte order: the low bits
of the number, which the share target leaves free); its first word, mixed once more,
picks its slot, so probes stay short, and every fingerprint match is confirmed on all 32
bytes. 60 to 90 bytes a hash in all.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from uuid import UUID

import numpy as np

HASH_SIZE = 32
"""Bytes of a share hash."""
WORDS = HASH_SIZE // 8
MIX = np.uint64(0x9E3779B97F4A7C15)
"""Fibonacci hashing multiplier: spreads the first word over the table's slots."""
MIN_BITS = 10
"""The smallest table has 2**MIN_BITS slots."""
LOAD_INVERSE = 3
"""The table has at least this many slots per hash (at most a third full)."""
CHUNK_BITS = 16
CHUNK = 1 << CHUNK_BITS
"""Rows per storage chunk (2 MiB): growing never copies the rows already held."""
MAX_ROWS = 2**32 - 1
"""Row numbers + 1 fit the low 32 bits of a slot."""
FINGERPRINT_SHIFT = np.uint64(32)
LOW = np.uint64(2**32 - 1)


def hash_rows(hashes: bytes | np.ndarray) -> np.ndarray:
    """Returns hashes (concatenated bytes, or an (n, 32) uint8 array) as an (n, 4) uint64
    array (a view when possible); ValueError when they are not whole 32-byte hashes."""
    if isinstance(hashes, bytes | bytearray | memoryview):
        if len(hashes) % HASH_SIZE:
            raise ValueError(f"hashes must be {HASH_SIZE} bytes each")
        return np.frombuffer(hashes, dtype=np.uint64).reshape(-1, WORDS)
    if hashes.ndim != 2 or hashes.shape[1] != HASH_SIZE or hashes.dtype != np.uint8:
        raise ValueError(f"hashes must be an (n, {HASH_SIZE}) uint8 array")
    return np.ascontiguousarray(hashes).view(np.uint64)


class AcceptedHashes(Mapping[bytes, UUID]):
    """Accepted share hashes and the licence each was credited to; thread-safe.

    ``add`` never replaces: a hash added again keeps its first licence (the ledger never
    accepts a hash twice, so this only matters to a damaged log). As a Mapping it answers
    ``hash in index`` and ``index[hash]`` one hash at a time; ``contains`` and ``add`` take
    whole batches.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: list[np.ndarray] = []  # (CHUNK, 4) uint64 rows each
        self._chunk_owners: list[np.ndarray] = []  # (CHUNK,) int32 owner number per row
        self._size = 0  # rows held (a row added twice is held but not in the table)
        self._count = 0  # distinct hashes: rows in the table
        self._dropped: list[np.ndarray] = []  # numbers of the rows held but not in it
        self._owners: list[UUID] = []
        self._owner_numbers: dict[UUID, int] = {}
        self._bits = MIN_BITS
        self._slots = np.zeros(1 << MIN_BITS, dtype=np.uint64)  # fingerprint, row + 1

    # ----------------------------------------------------------------- whole batches

    def contains(self, hashes: bytes | np.ndarray) -> np.ndarray:
        """Returns, per hash (concatenated bytes or an (n, 32) uint8 array), whether it
        was added."""
        rows = hash_rows(hashes)
        with self._lock:
            return self._find(rows) >= 0

    def add(self, hashes: bytes | np.ndarray, owner: UUID) -> None:
        """Adds hashes credited to ``owner`` (those already present keep their licence)."""
        rows = hash_rows(hashes)
        if not rows.shape[0]:
            return
        with self._lock:
            number = self._owner_numbers.get(owner)
            if number is None:
                number = self._owner_numbers[owner] = len(self._owners)
                self._owners.append(owner)
            if LOAD_INVERSE * (self._count + rows.shape[0]) > self._slots.shape[0]:
                self._grow_table(self._count + rows.shape[0])
            first = self._append_rows(rows, number)
            self._count += self._insert(
                np.arange(first, first + rows.shape[0], dtype=np.int64),
                np.ascontiguousarray(rows[:, 0]), np.ascontiguousarray(rows[:, 1]))

    # ------------------------------------------------------------------ one at a time

    def __getitem__(self, key: bytes) -> UUID:
        if not isinstance(key, bytes | bytearray) or len(key) != HASH_SIZE:
            raise KeyError(key)
        with self._lock:
            row = int(self._find(hash_rows(bytes(key)))[0])
            if row < 0:
                raise KeyError(key)
            owner = self._chunk_owners[row >> CHUNK_BITS][row & (CHUNK - 1)]
            return self._owners[int(owner)]

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, bytes | bytearray) or len(key) != HASH_SIZE:
            return False
        return bool(self.contains(bytes(key))[0])

    def __iter__(self) -> Iterator[bytes]:
        with self._lock:
            found = self._rows_at(self._table_rows()).tobytes()
        return (found[i:i + HASH_SIZE] for i in range(0, len(found), HASH_SIZE))

    def __len__(self) -> int:
        return self._count

    # ------------------------------------------------------------------------ inside

    def _homes(self, first_words: np.ndarray) -> np.ndarray:
        """Returns the home slot of each first word."""
        return ((first_words * MIX) >> np.uint64(64 - self._bits)).astype(np.int64)

    def _rows_at(self, numbers: np.ndarray) -> np.ndarray:
        """Returns the rows of those row numbers, as an (n, 4) uint64 array."""
        chunk = numbers >> CHUNK_BITS
        offset = numbers & (CHUNK - 1)
        if numbers.size and chunk.min() == chunk.max():
            return np.take(self._chunks[int(chunk[0])], offset, axis=0)
        out = np.empty((numbers.size, WORDS), dtype=np.uint64)
        for c in np.unique(chunk).tolist():
            at = chunk == c
            out[at] = np.take(self._chunks[c], offset[at], axis=0)
        return out

    def _equal_rows(self, numbers: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Returns, per pair, whether the row held at ``numbers[i]`` equals ``rows[i]``."""
        equal = self._rows_at(numbers) == rows
        return equal[:, 0] & equal[:, 1] & equal[:, 2] & equal[:, 3]

    def _find(self, rows: np.ndarray) -> np.ndarray:
        """Returns the row number of each hash, -1 where absent (lock held)."""
        found = np.full(rows.shape[0], -1, dtype=np.int64)
        if not self._count or not rows.shape[0]:
            return found
        mask = self._slots.shape[0] - 1
        prints = rows[:, 1] & LOW
        active = np.arange(rows.shape[0])
        slot = self._homes(rows[:, 0])
        while active.size:
            held = self._slots[slot]
            occupied = held != 0
            same = occupied & ((held >> FINGERPRINT_SHIFT) == prints[active])
            if same.any():
                at = np.nonzero(same)[0]
                number = (held[at] & LOW).astype(np.int64) - 1
                whole = self._equal_rows(number, rows[active[at]])
                found[active[at[whole]]] = number[whole]
                occupied[at[whole]] = False  # found: stop probing
            active, slot = active[occupied], (slot[occupied] + 1) & mask
        return found

    def _insert(self, numbers: np.ndarray, first_words: np.ndarray,
                second_words: np.ndarray) -> int:
        """Puts held rows (their numbers, first and second words) into the table unless
        an equal hash is there; returns how many went in (lock held)."""
        mask = self._slots.shape[0] - 1
        slot = self._homes(first_words)
        # In slot order the table is written front to back, not at random.
        order = np.argsort(slot)
        numbers, slot = numbers[order], slot[order]
        values = ((second_words[order] & LOW) << FINGERPRINT_SHIFT) | \
            (numbers + 1).astype(np.uint64)
        placed = 0
        while numbers.size:
            held = self._slots[slot]
            empty = held == 0
            # Claim empty slots; of several rows claiming one slot the last write wins:
            # read back which.
            claimed = slot[empty]
            self._slots[claimed] = values[empty]
            won = np.zeros(numbers.size, dtype=bool)
            won[empty] = self._slots[claimed] == values[empty]
            placed += int(np.count_nonzero(won))
            # Occupied by an equal hash: already present, dropped (held, not in the table).
            equal = ~empty & ((held >> FINGERPRINT_SHIFT) == (values >> FINGERPRINT_SHIFT))
            if equal.any():
                at = np.nonzero(equal)[0]
                equal[at] = self._equal_rows((held[at] & LOW).astype(np.int64) - 1,
                                             self._rows_at(numbers[at]))
                if equal.any():
                    self._dropped.append(numbers[equal])
            going = ~won & ~equal
            # A row that lost a claim looks at the same slot again (its winner may be equal).
            slot = np.where(empty[going], slot[going], (slot[going] + 1) & mask)
            numbers, values = numbers[going], values[going]
        return placed

    def _table_rows(self) -> np.ndarray:
        """Returns the numbers of the rows in the table, in arrival order."""
        held = np.arange(self._size, dtype=np.int64)
        if self._dropped:
            held = np.setdiff1d(held, np.concatenate(self._dropped), assume_unique=True)
        return held

    def _append_rows(self, rows: np.ndarray, owner: int) -> int:
        """Appends rows credited to ``owner``; returns the first one's number."""
        first = self._size
        if first + rows.shape[0] >= MAX_ROWS:
            raise OverflowError(f"the accepted-hash index holds at most {MAX_ROWS} hashes")
        done = 0
        while done < rows.shape[0]:
            offset = self._size & (CHUNK - 1)
            if offset == 0:
                self._chunks.append(np.empty((CHUNK, WORDS), dtype=np.uint64))
                self._chunk_owners.append(np.empty(CHUNK, dtype=np.int32))
            take = min(CHUNK - offset, rows.shape[0] - done)
            self._chunks[-1][offset:offset + take] = rows[done:done + take]
            self._chunk_owners[-1][offset:offset + take] = owner
            done += take
            self._size += take
        return first

    def _grow_table(self, count: int) -> None:
        """Makes the table at least ``LOAD_INVERSE`` times ``count`` slots and puts every
        hash back, read from the rows in arrival order.

        The hashes are distinct, so they go back in one pass: in order of home slot,
        each takes the first slot from its home on that the ones before left free,
        i.e. slot ``i + max(home[j] - j for j <= i)``; the few pushed past the last slot
        wrap round through the general insertion.
        """
        numbers = self._table_rows()
        self._bits = max(MIN_BITS, int(count * LOAD_INVERSE - 1).bit_length())
        size = 1 << self._bits
        self._slots = zeroed(size, np.uint64)
        if not numbers.size:
            return
        words = np.concatenate([chunk[:, :2] for chunk in self._chunks])[numbers] \
            if self._dropped else np.concatenate([chunk[:, :2] for chunk in self._chunks])[
                :self._size]
        home = self._homes(np.ascontiguousarray(words[:, 0]))
        order = np.argsort(home)
        numbers, home = numbers[order], home[order]
        values = ((words[order, 1] & LOW) << FINGERPRINT_SHIFT) | \
            (numbers + 1).astype(np.uint64)
        ranks = np.arange(numbers.size, dtype=np.int64)
        slot = ranks + np.maximum.accumulate(home - ranks)
        fits = slot < size
        self._slots[slot[fits]] = values[fits]
        if not fits.all():
            late = numbers[~fits]
            rows = self._rows_at(late)
            self._insert(late, np.ascontiguousarray(rows[:, 0]), np.ascontiguousarray(rows[:, 1]))

def zeroed(size: int, dtype: type[np.unsignedinteger]) -> np.ndarray:
    """Returns a zero-filled array whose memory is written front to back now: a lazily
    zeroed one (``np.zeros``) takes its page faults in the random order of the table's
    first writes, several times slower on virtual machines."""
    array = np.empty(size, dtype=dtype)
    array.fill(0)
    return array

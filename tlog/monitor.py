"""A log monitor: follows a log's checkpoints and proves it only ever grows.

The monitor keeps the last checkpoint it verified in a state file (the signed note, written
atomically). Each new checkpoint must be signed by the log, carry the witness quorum, and
be consistent with the kept one (a consistency proof the log serves): a smaller tree is a
rollback, an equal size with another root or a proof that fails is a split view. Either
raises :class:`SplitViewError` holding both signed notes as evidence. The transport (how
checkpoints and proofs are fetched) is the caller's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tlog.checkpoint import SignedCheckpoint, open_checkpoint
from tlog.consistency import verify_consistency
from tlog.cosignature import require_quorum
from tlog.errors import ProofError, TlogError
from tlog.keys import NoteVerifier

ConsistencySource = Callable[[int, int], Sequence[bytes]]
"""Returns the consistency proof from the first size to the second."""


class MonitorError(TlogError):
    """A checkpoint the monitor cannot accept (bad signature, short of quorum, state)."""


class SplitViewError(MonitorError):
    """The log showed two views: ``kind`` is ``rollback`` or ``split view``; ``old_note``
    is the checkpoint verified before, ``new_note`` the one that contradicts it."""

    def __init__(self, kind: str, reason: str, old_note: str, new_note: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason
        self.old_note = old_note
        self.new_note = new_note


@dataclass(frozen=True)
class Observation:
    """The outcome of one accepted checkpoint."""

    checkpoint: SignedCheckpoint
    previous_size: int | None
    """Size of the checkpoint verified before (None for the first one)."""

    @property
    def grew(self) -> bool:
        """Returns True when the tree is larger than the one verified before."""
        return self.previous_size is None or self.checkpoint.size > self.previous_size


class Monitor:
    """Verifies each checkpoint against the last one verified, kept in ``state_path``."""

    def __init__(
        self,
        state_path: Path,
        log_keys: Sequence[NoteVerifier],
        origin: str | None = None,
        witnesses: Sequence[NoteVerifier] = (),
        quorum: int = 0,
    ) -> None:
        self.state_path = state_path
        self.log_keys = tuple(log_keys)
        self.origin = origin
        self.witnesses = tuple(witnesses)
        self.quorum = quorum

    def last_note(self) -> str | None:
        """Returns the signed note of the last verified checkpoint, or None."""
        try:
            state = json.loads(self.state_path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise MonitorError(f"state file {self.state_path} is unreadable: {e}") from None
        note = state.get("note") if isinstance(state, dict) else None
        if not isinstance(note, str):
            raise MonitorError(f"state file {self.state_path} holds no note")
        return note

    def _open(self, note: str) -> SignedCheckpoint:
        try:
            signed = open_checkpoint(note, self.log_keys, self.origin)
            if self.quorum:
                require_quorum(note, self.witnesses, self.quorum)
        except TlogError as e:
            raise MonitorError(f"checkpoint refused: {e}") from None
        return signed

    def observe(self, note: str, consistency: ConsistencySource) -> Observation:
        """Returns what the checkpoint of ``note`` shows after checking it against the
        last verified one, and keeps it as the new last one when it is larger; raises
        SplitViewError on a rollback or a split view, MonitorError when it does not verify.
        """
        new = self._open(note)
        old_note = self.last_note()
        if old_note is None:
            self._save(note)
            return Observation(new, None)
        old = self._open(old_note)
        if new.checkpoint.origin != old.checkpoint.origin:
            raise MonitorError(f"origin {new.checkpoint.origin!r} is not the monitored "
                               f"{old.checkpoint.origin!r}")
        if new.size < old.size:
            raise SplitViewError("rollback", f"the log shows size {new.size} after size "
                                 f"{old.size} was verified", old_note, note)
        if new.size == old.size:
            if new.root_hash != old.root_hash:
                raise SplitViewError("split view", f"two roots for size {new.size}",
                                     old_note, note)
            return Observation(new, old.size)
        if old.size > 0:
            try:
                verify_consistency(old.size, new.size, old.root_hash, new.root_hash,
                                   consistency(old.size, new.size))
            except ProofError as e:
                raise SplitViewError("split view", f"size {new.size} is not an extension of "
                                     f"size {old.size}: {e}", old_note, note) from None
        self._save(note)
        return Observation(new, old.size)

    def _save(self, note: str) -> None:
        """Writes the state file atomically (temporary file, fsync, rename)."""
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        with open(tmp, "w") as f:
            json.dump({"note": note}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_path)

"""The witness's decision on one add-checkpoint request (c2sp.org/tlog-witness).

Checks, in the spec's order: the request's form (400), the checkpoint's origin is a
configured log (404), a trusted key of that log signed it (403), the old size is not above
the checkpoint size (400); then, inside one write transaction of the store: the old size
is the size last cosigned (409 with that size), equal sizes have equal roots (409), the
consistency proof from the stored tree verifies (422). Only then is the new checkpoint
stored and the transaction committed, and only after the commit is it cosigned. A refused
checkpoint with a valid log signature is kept as evidence.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from services.witness.store import WitnessedState, WitnessStore
from tlog.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from tlog.consistency import verify_consistency
from tlog.cosignature import cosign
from tlog.errors import ProofError
from tlog.keys import NoteError, NoteSigner, NoteVerifier
from tlog.note import parse_note
from tlog.witness_protocol import AddCheckpoint, WitnessProtocolError, size_body

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, content type and body."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


def _text(status: int, message: str) -> Answer:
    return Answer(status, (message + "\n").encode("utf-8"))


class Witness:
    """Cosigns checkpoints of the configured logs, never two inconsistent ones of a log."""

    def __init__(
        self,
        signer: NoteSigner,
        store: WitnessStore,
        logs: Mapping[str, Sequence[NoteVerifier]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.signer = signer
        self.store = store
        self.logs = {origin: tuple(keys) for origin, keys in logs.items()}
        self.clock = clock

    def add_checkpoint(self, body: bytes) -> Answer:
        """Returns the answer to one add-checkpoint request body."""
        try:
            request = AddCheckpoint.from_bytes(body)
            note = parse_note(request.note)
            checkpoint = Checkpoint.from_text(note.text)
        except (WitnessProtocolError, NoteError) as e:
            return _text(400, f"malformed request: {e}")
        keys = self.logs.get(checkpoint.origin)
        if keys is None:
            return _text(404, f"unknown log {checkpoint.origin!r}")
        try:
            open_checkpoint(request.note, keys, checkpoint.origin)
        except CheckpointError as e:
            return _text(400, f"malformed checkpoint: {e}")
        except NoteError as e:
            return _text(403, f"checkpoint is not signed by the log: {e}")
        if request.old_size > checkpoint.size:
            return _text(400, f"old size {request.old_size} is above the checkpoint size "
                              f"{checkpoint.size}")
        with self.store.transaction() as cursor:
            stored = self.store.read(cursor, checkpoint.origin)
            refusal = self._refusal(request, checkpoint, stored)
            if refusal is not None:
                same_size = stored is not None and stored.size == checkpoint.size
                if refusal.status != 409 or same_size:
                    # A validly signed checkpoint that contradicts the stored one: evidence.
                    self.store.refuse(cursor, checkpoint.origin,
                                      refusal.body.decode().strip(), request.note)
                log.warning("refused checkpoint of %s at size %d: %s", checkpoint.origin,
                            checkpoint.size, refusal.body.decode().strip())
                return refusal
            self.store.write(cursor, WitnessedState(checkpoint.origin, checkpoint.size,
                                                    checkpoint.root_hash, request.note))
            self._before_commit(checkpoint)
        self._committed(checkpoint)
        line = cosign(note.text, self.signer, int(self.clock()))
        log.info("cosigned %s at size %d", checkpoint.origin, checkpoint.size)
        return Answer(200, line.line().encode("utf-8"))

    @staticmethod
    def _refusal(
        request: AddCheckpoint, checkpoint: Checkpoint, stored: WitnessedState | None
    ) -> Answer | None:
        """Returns the refusal of ``request`` against the stored state, or None."""
        size = stored.size if stored is not None else 0
        if request.old_size != size:
            return Answer(409, size_body(size), "text/x.tlog.size")
        if stored is not None and size == checkpoint.size:
            if stored.root_hash != checkpoint.root_hash:
                return Answer(409, size_body(size), "text/x.tlog.size")
            return None
        if stored is not None and size > 0:
            try:
                verify_consistency(size, checkpoint.size, stored.root_hash,
                                   checkpoint.root_hash, request.proof)
            except ProofError as e:
                return _text(422, f"consistency proof from size {size} does not verify: {e}")
        return None

    def _before_commit(self, checkpoint: Checkpoint) -> None:
        """Called inside the transaction, after the new state is written (crash tests)."""

    def _committed(self, checkpoint: Checkpoint) -> None:
        """Called after the commit, before the cosignature is made (crash tests)."""

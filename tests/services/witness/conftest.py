"""A toy log (leaves, signed checkpoints, proofs) and a running witness over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from services.witness.core import Witness
from services.witness.http import WitnessHTTPServer
from services.witness.store import WitnessStore
from tests.tlog.rfc6962 import all_nodes, getter
from tlog.checkpoint import Checkpoint, sign_checkpoint
from tlog.consistency import consistency_proof
from tlog.hashes import leaf_hash, root_hash
from tlog.keys import SIG_TYPE_COSIGNATURE_V1, NoteSigner
from tlog.witness_protocol import AddCheckpoint

ORIGIN = "valedger.test/ledger"


@dataclass
class ToyLog:
    """A log whose leaves are ``prefix + i``: two ToyLogs with different prefixes signed
    by one key are a split view."""

    signer: NoteSigner
    prefix: bytes = b"leaf"
    leaves: list[bytes] = field(default_factory=list)

    def grow(self, size: int) -> None:
        self.leaves = [leaf_hash(self.prefix + i.to_bytes(4, "big")) for i in range(size)]

    def note(self, size: int) -> str:
        cp = Checkpoint(self.signer.name, size, root_hash(self.leaves[:size]))
        return sign_checkpoint(cp, self.signer).note

    def proof(self, old: int, new: int) -> tuple[bytes, ...]:
        if old == 0:
            return ()
        return tuple(consistency_proof(old, new, getter(all_nodes(self.leaves[:new]))))

    def request(self, old: int, new: int) -> AddCheckpoint:
        return AddCheckpoint(old, self.proof(old, new), self.note(new))


@pytest.fixture
def log_key() -> NoteSigner:
    return NoteSigner.generate(ORIGIN)


@pytest.fixture
def toy(log_key) -> ToyLog:
    log = ToyLog(log_key)
    log.grow(40)
    return log


@pytest.fixture
def witness_key() -> NoteSigner:
    return NoteSigner.generate("witness.test/w1", SIG_TYPE_COSIGNATURE_V1)


@pytest.fixture
def witness_server(tmp_path: Path, log_key, witness_key) -> Iterator[WitnessHTTPServer]:
    store = WitnessStore(tmp_path / "witness.db")
    server = WitnessHTTPServer(("127.0.0.1", 0),
                               Witness(witness_key, store, {ORIGIN: [log_key.verifier]}))
    server.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        store.close()

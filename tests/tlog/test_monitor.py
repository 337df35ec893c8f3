"""The monitor keeps the last verified checkpoint and catches rollbacks and split views."""

from __future__ import annotations

import pytest

from tests.tlog.rfc6962 import all_nodes, getter
from tlog.checkpoint import Checkpoint, sign_checkpoint
from tlog.consistency import consistency_proof
from tlog.cosignature import add_signatures, cosign
from tlog.hashes import leaf_hash, root_hash
from tlog.keys import SIG_TYPE_COSIGNATURE_V1, NoteSigner
from tlog.monitor import Monitor, MonitorError, SplitViewError
from tlog.note import parse_note

KEY = NoteSigner.generate("log.test")


class View:
    def __init__(self, prefix: bytes) -> None:
        self.leaves = [leaf_hash(prefix + bytes([i])) for i in range(30)]

    def note(self, size: int, key: NoteSigner = KEY) -> str:
        return sign_checkpoint(Checkpoint("log.test", size, root_hash(self.leaves[:size])),
                               key).note

    def proofs(self, old: int, new: int) -> list[bytes]:
        return consistency_proof(old, new, getter(all_nodes(self.leaves[:new])))


def test_growth_is_kept_across_instances(tmp_path):
    a = View(b"a")
    state = tmp_path / "state.json"
    assert Monitor(state, [KEY.verifier]).observe(a.note(5), a.proofs).previous_size is None
    seen = Monitor(state, [KEY.verifier]).observe(a.note(12), a.proofs)
    assert seen.grew and seen.previous_size == 5
    assert Monitor(state, [KEY.verifier]).last_note() == a.note(12)
    assert not Monitor(state, [KEY.verifier]).observe(a.note(12), a.proofs).grew


@pytest.mark.parametrize(("size", "kind"), [(8, "rollback"), (12, "split view"),
                                            (20, "split view")])
def test_other_view_is_caught_with_both_notes(tmp_path, size, kind):
    a, b = View(b"a"), View(b"b")
    watcher = Monitor(tmp_path / "state.json", [KEY.verifier])
    watcher.observe(a.note(12), a.proofs)
    with pytest.raises(SplitViewError) as e:
        # The other view serves proofs of its own tree: they cannot lead to a's root.
        watcher.observe(b.note(size), b.proofs)
    assert e.value.kind == kind
    assert e.value.old_note == a.note(12) and e.value.new_note == b.note(size)
    assert watcher.last_note() == a.note(12)  # the evidence is kept, not overwritten


def test_refuses_unsigned_or_unwitnessed(tmp_path):
    a = View(b"a")
    w = NoteSigner.generate("w.test", SIG_TYPE_COSIGNATURE_V1)
    watcher = Monitor(tmp_path / "s.json", [KEY.verifier], witnesses=[w.verifier], quorum=1)
    with pytest.raises(MonitorError, match="checkpoint refused"):
        watcher.observe(a.note(5, NoteSigner.generate("log.test")), a.proofs)
    with pytest.raises(MonitorError, match="0 of 1"):
        watcher.observe(a.note(5), a.proofs)
    note = a.note(5)
    cosigned = add_signatures(note, [cosign(parse_note(note).text, w, 1)])
    assert watcher.observe(cosigned, a.proofs).checkpoint.size == 5

"""kill -9 at any point never makes the witness cosign two views of one log."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.services.witness.conftest import ToyLog
from tlog.checkpoint import Checkpoint
from tlog.cosignature import add_signatures, check_cosignatures
from tlog.note import parse_note
from tlog.witness_client import WitnessError, add_checkpoint

ROOT = Path(__file__).resolve().parents[3]


class Proc:
    """One witness process on a store file."""

    def __init__(self, tmp: Path, store: Path, key_file: Path, vkey: str, crash: str = ""):
        self.url_file = tmp / f"url-{time.monotonic_ns()}"
        args = [sys.executable, "-m", "tests.services.witness.witness_process", str(store),
                str(self.url_file), str(key_file), vkey]
        self.proc = subprocess.Popen([*args, crash] if crash else args, cwd=ROOT)
        deadline = time.monotonic() + 30
        while not self.url_file.exists():
            assert self.proc.poll() is None, "witness process died"
            assert time.monotonic() < deadline, "witness process did not start"
            time.sleep(0.02)
        self.url = self.url_file.read_text()
        self.hit = Path(str(self.url_file) + ".hit")

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def setup(tmp_path, log_key, witness_key):
    key_file = tmp_path / "witness.key"
    key_file.write_text(witness_key.to_skey())
    a, b = ToyLog(log_key, b"view A"), ToyLog(log_key, b"view B")
    a.grow(64)
    b.grow(64)
    return tmp_path, tmp_path / "witness.db", key_file, log_key.verifier.vkey, a, b


def send_in_background(url, request):
    result: dict[str, object] = {}

    def run():
        try:
            result["lines"] = add_checkpoint(url, request, timeout=60)
        except WitnessError as e:
            result["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        assert time.monotonic() < deadline
        time.sleep(0.01)


@pytest.mark.parametrize("point", ["after_commit", "before_commit"])
def test_killed_between_check_and_answer(setup, point):
    tmp, store, key_file, vkey, a, b = setup
    base = Proc(tmp, store, key_file, vkey)
    add_checkpoint(base.url, a.request(0, 10))
    base.kill()
    crashing = Proc(tmp, store, key_file, vkey, point)
    thread, result = send_in_background(crashing.url, a.request(10, 20))
    wait_for(crashing.hit)
    crashing.kill()
    thread.join(timeout=30)
    assert "error" in result  # no cosignature came out of the killed process
    after = Proc(tmp, store, key_file, vkey)
    try:
        size = 20 if point == "after_commit" else 10
        # View B is refused whatever it claims; view A continues from the stored size.
        for old in (10, 20):
            with pytest.raises(WitnessError):
                add_checkpoint(after.url, b.request(old, 20))
        assert add_checkpoint(after.url, a.request(size, 20))
    finally:
        after.kill()


def test_random_kills_never_cosign_both_views(setup, witness_key):
    tmp, store, key_file, vkey, a, b = setup
    rng = random.Random(16)
    views = {"A": a, "B": b}
    cosigned: dict[str, list[int]] = {"A": [], "B": []}
    sizes = {"A": 0, "B": 0}  # what each view's client believes the witness holds
    for _ in range(8):
        proc = Proc(tmp, store, key_file, vkey)
        threads = []
        for _ in range(6):
            name = rng.choice("AB")
            view = views[name]
            new = min(64, sizes[name] + rng.randint(1, 10))
            thread, result = send_in_background(proc.url, view.request(sizes[name], new))
            threads.append((name, new, view, thread, result))
        time.sleep(rng.uniform(0, 0.05))
        proc.kill()
        for name, new, view, thread, result in threads:
            thread.join(timeout=30)
            lines = result.get("lines")
            if lines:
                note = add_signatures(view.note(new), lines)
                assert check_cosignatures(note, [witness_key.verifier]).valid
                cosigned[name].append(new)
                sizes[name] = max(sizes[name], new)
            elif getattr(result.get("error"), "size", None) is not None:
                sizes[name] = result["error"].size
    # Finally, both views try again on a clean process.
    proc = Proc(tmp, store, key_file, vkey)
    try:
        for name, view in views.items():
            for old in sorted({0, sizes["A"], sizes["B"]}):
                new = max(old, 1)
                try:
                    lines = add_checkpoint(proc.url, view.request(old, new))
                except WitnessError:
                    continue
                assert Checkpoint.from_text(parse_note(view.note(new)).text).size == new
                cosigned[name].append(new)
    finally:
        proc.kill()
    assert not (cosigned["A"] and cosigned["B"]), cosigned
    assert cosigned["A"] or cosigned["B"]

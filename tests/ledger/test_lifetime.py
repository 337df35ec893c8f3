"""A process killed with SIGKILL leaves nothing behind: its signature checker's worker
processes (and multiprocessing's helpers) end with it, and a child that asked to die with
its parent does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]

CHECKER = """
import sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from ledger import SignatureChecker
key = Ed25519PrivateKey.generate()
raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
checks = [(raw, key.sign(b"m%d" % i), b"m%d" % i) for i in range(8)]
checker = SignatureChecker(workers=2, pool_threshold=1)
assert all(checker.check(checks))
print("ready", flush=True)
sys.stdin.read()
"""

CHILD_OF_CHILD = """
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c",
    "import os, sys, time; from ledger import die_with_parent; "
    "die_with_parent(os.getppid()); print('armed', flush=True); time.sleep(600)"],
    stdout=subprocess.PIPE, text=True)
assert child.stdout.readline() == "armed\\n"
print(child.pid, flush=True)
sys.stdin.read()
"""


def run_python(code: str) -> subprocess.Popen[str]:
    """Returns a python child running ``code`` (stdin kept open, stdout a pipe)."""
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))


def still_running(processes: list[psutil.Process], seconds: float = 30) -> list[psutil.Process]:
    """Returns those of ``processes`` still running (not zombies) after up to ``seconds``."""
    deadline = time.monotonic() + seconds
    alive = processes
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.1)
    return alive


def test_signature_workers_end_with_a_killed_process() -> None:
    parent = run_python(CHECKER)
    assert parent.stdout is not None and parent.stdout.readline() == "ready\n"
    descendants = psutil.Process(parent.pid).children(recursive=True)
    workers = [p for p in descendants if p.ppid() != parent.pid]  # forked by the forkserver
    assert len(workers) == 2, [p.cmdline() for p in descendants]
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(30)
    assert not still_running(descendants), [p.cmdline() for p in descendants]


def test_a_child_armed_to_die_with_its_parent_gets_sigterm() -> None:
    parent = run_python(CHILD_OF_CHILD)
    assert parent.stdout is not None
    child = psutil.Process(int(parent.stdout.readline()))
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(30)
    assert not still_running([child], 10)


VERIFIER = """
import sys
from ledger.lifetime import pool_worker_dies_with
from verifier.cpu import _WORKERS, set_pool_initializer
set_pool_initializer(pool_worker_dies_with)
assert _WORKERS.get(2).submit(abs, -1).result() == 1
print("ready", flush=True)
sys.stdin.read()
"""


def test_verifier_workers_end_with_a_killed_process() -> None:
    parent = run_python(VERIFIER)
    assert parent.stdout is not None and parent.stdout.readline() == "ready\n"
    descendants = psutil.Process(parent.pid).children(recursive=True)
    assert len([p for p in descendants if p.ppid() != parent.pid]) >= 1
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(30)
    assert not still_running(descendants), [p.cmdline() for p in descendants]

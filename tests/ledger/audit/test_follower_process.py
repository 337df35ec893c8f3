"""The audit follower in a process of its own (ledger.audit.follower_process), on SQLite
and PostgreSQL: it keeps the tree equal to a full recomputation and signs checkpoints
with the key it was given, stops when asked (and is not started again when it ends with
its owner), and never outlives the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import psutil
import pytest

from ledger.audit.follower import CheckpointPolicy
from ledger.audit.follower_process import (
    ENDING_SECONDS,
    RESTART_SECONDS,
    FollowerProcess,
    FollowerSettings,
)
from ledger.config import StoreConfig
from tests.ledger.audit.conftest import ORIGIN, AuditedLedger
from tests.ledger.audit.test_follower import assert_tree_matches_store
from tests.services.cli.real_cli import ROOT
from tlog.checkpoint import open_checkpoint


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def started_follower(audited: AuditedLedger) -> FollowerProcess:
    """Returns a started follower process of the audited store, signing every 5 leaves."""
    follower = FollowerProcess(FollowerSettings(
        StoreConfig(audited.url), audited.signer.to_skey(), ORIGIN,
        CheckpointPolicy(every_records=5, every_seconds=0), poll_seconds=0.05))
    follower.start()
    return follower


def test_a_follower_process_follows_the_log_and_signs(audited: AuditedLedger) -> None:
    for i in range(7):
        audited.ledger.record_trade(audited.market.trade(f"p{i}"))
    records = audited.log.state().size + 7
    follower = started_follower(audited)
    try:
        child = follower.pid
        assert child is not None and child != os.getpid()
        wait_for(lambda: audited.log.state().size == records, "the child did not catch up")
        audited.ledger.record_trade(audited.market.trade("while-running"))
        wait_for(lambda: audited.log.state().size == records + 1, "the child stopped following")
    finally:
        follower.stop()
    assert follower.pid is None
    assert not psutil.pid_exists(child)  # stopped and reaped
    assert_tree_matches_store(audited)
    latest = audited.log.checkpoints()[-1]
    assert latest.size == 30  # every 5 leaves: up to 20 in the fixture, 25 and 30 by the child
    opened = open_checkpoint(latest.note, audited.signer.verifier).checkpoint
    assert (opened.origin, opened.size) == (ORIGIN, 30)


def test_the_child_gets_no_cipher_key(store_url: str) -> None:
    follower = FollowerProcess(FollowerSettings(StoreConfig(store_url, cipher_key="k" * 44)))
    assert follower.settings.config.cipher_key is None
    assert follower.settings.config.url == store_url


def test_the_child_ends_with_its_owner_killed_with_sigkill(store_url: str) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from ledger.audit.follower_process import FollowerProcess, FollowerSettings\n"
         "from ledger.config import StoreConfig\n"
         "from ledger.audit.log import AuditLog\n"
         "AuditLog.open(StoreConfig(sys.argv[1])).close()\n"
         "f = FollowerProcess(FollowerSettings(StoreConfig(sys.argv[1], create_tables=False)))\n"
         "f.start()\n"
         "print(f.pid, flush=True)\n"
         "time.sleep(600)\n", store_url],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        child = psutil.Process(int(owner.stdout.readline()))
        assert child.is_running()
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(30)
        wait_for(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE,
                 "the follower outlived the process that started it")
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()


def test_a_child_killed_is_started_again_and_stop_never_hangs(audited: AuditedLedger) -> None:
    follower = started_follower(audited)
    try:
        first = follower.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: follower.restarts == 1 and follower.pid not in (None, first),
                 "the killed follower was not started again")
        size = audited.log.state().size
        audited.ledger.record_trade(audited.market.trade("after-restart"))
        wait_for(lambda: audited.log.state().size == size + 1,
                 "the new follower does not follow")
        os.kill(follower.pid or 0, signal.SIGKILL)  # killed again, and stopped at once
        started = time.monotonic()
    finally:
        follower.stop()
    assert time.monotonic() - started < 5
    assert follower.pid is None
    assert_tree_matches_store(audited)


@pytest.mark.parametrize(("sent", "owner_said_first"), [
    (signal.SIGKILL, True),
    # A group signal ends the child cleanly (SIGTERM) as soon as the server, which, busy
    # finishing its calls, says it is stopping a moment later.
    (signal.SIGTERM, False),
], ids=["killed-after-owner-said", "sigterm-before-owner-said"])
def test_a_child_ending_with_its_owner_is_left_ended(
        audited: AuditedLedger, caplog: pytest.LogCaptureFixture, sent: signal.Signals,
        owner_said_first: bool) -> None:
    # A signal to the server's whole process group ends the child with the server.
    follower = started_follower(audited)
    try:
        first = follower.pid
        assert first is not None
        if owner_said_first:
            follower.expect_stop()
        os.kill(first, sent)
        wait_for(lambda: follower.pid is None or not psutil.pid_exists(first),
                 "the child did not end")
        time.sleep(RESTART_SECONDS[0] + 0.5)  # past any restart
        follower.expect_stop()
        assert follower.restarts == 0
    finally:
        follower.stop()
    assert follower.pid is None
    assert "ended on its own" not in caplog.text



def test_stop_does_not_wait_out_the_grace_of_a_child_ended_by_sigterm(
        audited: AuditedLedger) -> None:
    # The watch waits up to ENDING_SECONDS for expect_stop; stop() says it too.
    follower = started_follower(audited)
    try:
        first = follower.pid
        assert first is not None
        os.kill(first, signal.SIGTERM)
        wait_for(lambda: follower.pid is None or not psutil.pid_exists(first),
                 "the child did not end")
    finally:
        started = time.monotonic()
        follower.stop()
    assert time.monotonic() - started < ENDING_SECONDS / 2
    assert follower.restarts == 0

GROUP_SIGNALLED_OWNER = """
import logging, signal, sys, time
from ledger.audit.follower_process import RESTART_SECONDS, FollowerProcess, FollowerSettings
from ledger.audit.log import AuditLog
from ledger.config import StoreConfig

logging.basicConfig()
AuditLog.open(StoreConfig(sys.argv[1])).close()
follower = FollowerProcess(FollowerSettings(StoreConfig(sys.argv[1], create_tables=False)))
signalled = []
signal.signal(signal.SIGTERM, lambda *_: signalled.append(True))
follower.start()
print(follower.pid, flush=True)
while not signalled:
    time.sleep(0.01)
time.sleep(RESTART_SECONDS[0] + 0.5)  # busy finishing its calls, past any restart
follower.expect_stop()
follower.stop()
print("restarts", follower.restarts, flush=True)
"""


def test_a_signal_to_the_owners_whole_process_group_is_no_end_on_its_own(
        store_url: str) -> None:
    # The signal reaches the owner, the fork server and the child at once; the child's
    # status may be lost with the fork server. The busy owner says it stops later.
    owner = subprocess.Popen([sys.executable, "-c", GROUP_SIGNALLED_OWNER, store_url],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    try:
        assert owner.stdout is not None
        child = psutil.Process(int(owner.stdout.readline()))
        time.sleep(0.5)  # the child is following
        os.killpg(owner.pid, signal.SIGTERM)
        out, err = owner.communicate(timeout=60)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
    assert owner.returncode == 0, err
    assert out.split() == ["restarts", "0"], err
    assert "ended on its own" not in err
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE

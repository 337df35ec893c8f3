"""Batched Ed25519 checks: worker processes give the in-process answer, check by check."""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

import pytest

from ledger import signatures
from ledger.signatures import SignatureChecker, verify_all
from services.envelope import Signer, signed_bytes


def checks() -> list[tuple[bytes, bytes, bytes]]:
    """Returns good and bad checks: forged, altered, another key, a malformed key."""
    alice, bob = Signer.generate(), Signer.generate()
    out = []
    for i in range(40):
        message = signed_bytes("valedger.v1.TradePayload", f"trade {i}".encode())
        signature = alice.private_key.sign(message)
        out.append((alice.public_key, signature, message))
    out[3] = (alice.public_key, bytes(64), out[3][2])  # forged
    out[7] = (alice.public_key, out[7][1], out[7][2] + b"!")  # altered
    out[11] = (bob.public_key, out[11][1], out[11][2])  # another key
    out[19] = (b"\x01" * 5, out[19][1], out[19][2])  # not a public key at all
    return out


def test_verify_all_says_which_checks_fail():
    results = verify_all(checks())
    assert [i for i, ok in enumerate(results) if not ok] == [3, 7, 11, 19]


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_worker_processes_give_the_same_answers_in_order(workers: int):
    checker = SignatureChecker(workers, pool_threshold=1)
    try:
        items = checks()
        assert checker.check(items) == verify_all(items)
        assert checker.check([]) == []
    finally:
        checker.close()


def test_negative_worker_count_is_refused():
    with pytest.raises(ValueError, match="0 or more"):
        SignatureChecker(-1)


@pytest.mark.parametrize("workers", [0, 2])
def test_start_has_every_worker_running_before_the_first_check(workers: int):
    checker = SignatureChecker(workers, pool_threshold=1)
    try:
        assert checker.running_workers() == 0
        checker.start()
        assert checker.running_workers() == workers
        items = checks()
        assert checker.check(items) == verify_all(items)
    finally:
        checker.close()
    assert checker.running_workers() == 0


def test_checks_go_on_in_the_calling_thread_once_the_workers_are_killed(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    # A signal to the server's whole process group ends its workers first; the calls it
    # finishes within its grace are still checked, with the same answers.
    checker = SignatureChecker(2, pool_threshold=1)
    try:
        checker.start()
        pool: Any = checker._started()
        for process in list(pool._processes.values()):
            os.kill(process.pid, signal.SIGTERM)
            process.join(10)
        items = checks()
        with caplog.at_level(logging.WARNING, logger="ledger.signatures"):
            assert checker.check(items) == verify_all(items)
            assert checker.check(items[:10]) == verify_all(items[:10])  # remembered
            again = [(k, s, m + b"?") for k, s, m in items]
            assert checker.check(again) == verify_all(again)
        assert [r.getMessage() for r in caplog.records].count(
            "signature workers ended; checking signatures in the server's own process for "
            "30 s, then on fresh workers") == 1
        assert checker.running_workers() == 0  # none started within the pause
        monkeypatch.setattr(signatures, "PAUSE_AFTER_BREAK_SECONDS", 0.0)
        assert checker.check(again[::-1]) == verify_all(again[::-1])
        assert checker._pool is not pool and checker.running_workers() >= 1  # fresh ones
    finally:
        checker.close()

"""Ed25519 checks of many envelopes at once, on worker processes when a batch is large.

The one implementation of signature checking (DESIGN §3 "Signatures"): the ledger checks
every envelope it stores through :class:`SignatureChecker`, and the services may check a
batch early (on worker processes, while the previous batch commits) through the same
checker; a signature it verified is remembered, so the ledger does not verify it twice.

Signatures are verified by libsodium (``PyNaCl``): the RFC 8032 equation, with the
signature's S below the group order, the key and R canonical encodings, and neither of
them a point of small order. OpenSSL's Ed25519 (``cryptography``) checks the same equation
without the small-order rule: the public key 01 00..00 (the neutral point) with the
signature R = 01 00..00, S = 0 "signs" every message there, so a participant who had
registered that key could deny anything signed under it. libsodium's extra rules refuse
only keys no private key makes and R values that RFC 8032 signing never makes (a
small-order R: a nonce of 0, or a forgery): on signatures made as RFC 8032 signs, the two
agree, so an auditor may use either on what the ledger accepted. libsodium also verifies
a short message in half OpenSSL's time (48 against 97 µs on the 2-core VM,
bench/RESULTS.md), though a long one more slowly: its SHA-512 is portable C, 8.8 against
3.5 ms for the 3 MB of a 100,000-share proof batch, which did not show in the batch's
ingest beyond the batches' spread.

libsodium lets go of the GIL while it verifies, but a thread checking signatures one by
one must take it back after each, behind a busy server thread (up to the 5 ms switch
interval every time). So a worker process checks a batch while the server parses the next
one and commits the one before.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import multiprocessing
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from nacl.bindings import crypto_core_ed25519_is_valid_point, crypto_sign_open
from nacl.exceptions import BadSignatureError

from ledger.domain.envelope import PUBLIC_KEY_SIZE, SIGNATURE_SIZE
from ledger.lifetime import pool_worker_dies_with
from verifier.cpu import cpu_count
from verifier.worker_pool import WorkerPool

SignatureCheck = tuple[bytes, bytes, bytes]
"""(raw 32-byte public key, 64-byte signature, the signed bytes)."""

VERIFIED_MEMORY = 100_000
"""Verified signatures a checker remembers (the least recent go first)."""

logger = logging.getLogger(__name__)

DEFAULT_POOL_THRESHOLD = 64
"""Batches with fewer checks than this are verified in the calling thread."""


def default_workers() -> int:
    """Returns the worker processes to use by default: every core but one."""
    return max(0, cpu_count() - 1)


def usable_public_key(public_key: bytes) -> bool:
    """Returns whether ``public_key`` is an Ed25519 key a signature can be held to: 32
    bytes encoding, canonically, a curve point of the prime-order subgroup (every key made
    from a private key is one). Registering keys relies on it (``ledger.keys``): a
    small-order key would verify forgeries, and an off-curve one nothing at all; the
    audit reports a key registered before that rule by it (``ledger.audit.proof_checks``,
    UNUSABLE_KEY)."""
    return (isinstance(public_key, bytes) and len(public_key) == PUBLIC_KEY_SIZE
            and crypto_core_ed25519_is_valid_point(public_key))


def verify_all(checks: Sequence[SignatureCheck]) -> list[bool]:
    """Returns, per check, whether the signature verifies with the public key under
    libsodium's rules (see the module's docstring); a malformed key or signature does
    not verify."""
    results = []
    for public_key, signature, signed in checks:
        if len(public_key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
            results.append(False)
            continue
        try:
            # libsodium's combined form: the signature, then the message it covers.
            crypto_sign_open(signature + signed, public_key)
        except BadSignatureError:
            results.append(False)
        else:
            results.append(True)
    return results


class SignatureChecker:
    """Verifies batches of signatures: in the calling thread when ``workers`` is 0 or the
    batch is small, else split between ``workers`` processes (started on first use)."""

    def __init__(self, workers: int = 0,
                 pool_threshold: int = DEFAULT_POOL_THRESHOLD) -> None:
        if workers < 0:
            raise ValueError("signature workers must be 0 or more")
        self.workers = workers
        self.pool_threshold = pool_threshold
        self._lock = threading.Lock()
        self._verified: OrderedDict[bytes, None] = OrderedDict()
        self.pool = WorkerPool(_start_pool, "signature workers",
                               "checking signatures in the server's own process", logger)

    def check(self, checks: Sequence[SignatureCheck]) -> list[bool]:
        """Returns, per check, whether the signature verifies (checks verified before by
        this checker are not verified again)."""
        keys = [fingerprint(check) for check in checks]
        with self._lock:
            known = [key in self._verified for key in keys]
        todo = [check for check, seen in zip(checks, known, strict=True) if not seen]
        if self.workers == 0 or len(todo) < self.pool_threshold:
            fresh = verify_all(todo)
        else:
            fresh = self._on_workers(todo)
        answers = iter(fresh)
        results = [True if seen else next(answers) for seen in known]
        with self._lock:
            for key, ok, seen in zip(keys, results, known, strict=True):
                if ok and not seen:
                    self._verified[key] = None
                    if len(self._verified) > VERIFIED_MEMORY:
                        self._verified.popitem(last=False)
        return results

    def _on_workers(self, todo: Sequence[SignatureCheck]) -> list[bool]:
        """Returns, per check, whether it verifies, checked on the worker processes, or in
        the calling thread once they are gone.

        The workers go before the server when a signal reaches its whole process group
        (a service manager stopping every process of the service, ``kill -TERM -PGID``),
        or one is killed: the calls in flight are checked here instead of failing with a
        broken pool, and so are later ones for the pause ``verifier.worker_pool`` sets;
        then fresh workers start."""
        pool = self.pool.get(self.workers)
        if pool is None:
            return verify_all(todo)
        size = -(-len(todo) // self.workers)
        parts = [todo[i:i + size] for i in range(0, len(todo), size)]
        try:
            return list(itertools.chain.from_iterable(pool.map(verify_all, parts)))
        except BrokenProcessPool:
            self.pool.broke(pool)
            return verify_all(todo)

    def start(self) -> None:
        """Starts the worker processes now (if any) and waits until each can verify.

        A worker imports this module, and with it the whole ``ledger`` package (about
        0.8 s of CPU on the 2-core VM); a server starts them before it serves, so the
        first stream does not wait for them, nor share the cores with their start."""
        pool = self.pool.get(self.workers) if self.workers else None
        if pool is None:
            return
        for ready in [pool.submit(verify_all, ()) for _ in range(self.workers)]:
            ready.result()

    def running_workers(self) -> int:
        """Returns how many worker processes are started and alive."""
        return self.pool.running_workers()

    def close(self) -> None:
        """Stops the worker processes, if any were started, and ends any pause after
        their break."""
        self.pool.close()


def _start_pool(workers: int) -> ProcessPoolExecutor:
    """Returns a new pool of ``workers`` signature checkers, which end with this process."""
    # forkserver: the server is threaded, and fork would copy held locks. The fork server
    # imports this module once; each worker forked from it has it.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    # Workers die with the server, even one killed with SIGKILL.
    return ProcessPoolExecutor(workers, mp_context=context,
                               initializer=pool_worker_dies_with, initargs=(os.getpid(),))


def fingerprint(check: SignatureCheck) -> bytes:
    """Returns a digest naming one check (key, signature and signed bytes)."""
    public_key, signature, signed = check
    return hashlib.sha256(public_key + signature + hashlib.sha256(signed).digest()).digest()

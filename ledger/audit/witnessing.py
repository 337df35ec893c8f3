"""The log collects witness cosignatures (c2sp.org/tlog-witness, client side).

After each new checkpoint, a :class:`CosignatureCollector` thread sends it to every
configured witness (every checkpoint, oldest first, so each one can meet the quorum)
with a consistency proof from the size that witness last cosigned
(kept in ``audit_witnesses``; a 409 answer tells the real size and the request is retried
from it), checks the answer's cosignature line against the witness's key and stores it in
``audit_cosignatures``. Timeouts and retries are bounded and every failure is logged and
retried on the next round: a witness that is down delays only its own cosignature, never
the ledger. The policy (``WitnessPolicy``) also says how many cosignatures a checkpoint
needs (quorum k of n); :meth:`CosignatureCollector.lag` reports how far each witness is
behind the latest checkpoint.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger.audit.store import AuditStore, StoredCheckpoint
from tlog.consistency import consistency_proof
from tlog.cosignature import check_cosignatures, cosignature_timestamp
from tlog.errors import TlogError
from tlog.keys import NoteVerifier
from tlog.note import Note, parse_note
from tlog.witness_client import WitnessConflict, WitnessError, WitnessRefused, add_checkpoint
from tlog.witness_protocol import AddCheckpoint

log = logging.getLogger(__name__)


class WitnessPolicyError(ValueError):
    """A witness policy file that cannot be used."""


@dataclass(frozen=True)
class WitnessEndpoint:
    """One witness: its submission URL, cosigner key and (for HTTPS) trusted CA file."""

    url: str
    key: NoteVerifier
    ca_cert: Path | None = None

    @property
    def label(self) -> str:
        """Returns ``name+hex(key id)`` of the witness key."""
        return self.key.label

    def ssl_context(self) -> ssl.SSLContext | None:
        """Returns the TLS context of an https URL (system CAs unless ``ca_cert``)."""
        if not self.url.startswith("https:"):
            return None
        return ssl.create_default_context(cafile=str(self.ca_cert) if self.ca_cert else None)


@dataclass(frozen=True)
class WitnessPolicy:
    """Which witnesses the log asks, how patiently, and how many cosignatures a
    checkpoint needs (``quorum`` of the ``witnesses``)."""

    witnesses: tuple[WitnessEndpoint, ...] = ()
    quorum: int = 0
    timeout_seconds: float = 10.0
    retries: int = 2
    poll_seconds: float = 1.0
    retry_after_seconds: float = 30.0
    """A witness that failed is asked again after this long (the ledger goes on)."""

    def __post_init__(self) -> None:
        if not 0 <= self.quorum <= len(self.witnesses):
            raise WitnessPolicyError(
                f"quorum {self.quorum} is not between 0 and {len(self.witnesses)} witnesses")
        if any(not w.key.is_cosigner for w in self.witnesses):
            raise WitnessPolicyError("witness keys are cosigner (type 0x04) keys")

    @property
    def keys(self) -> list[NoteVerifier]:
        """Returns the witnesses' keys."""
        return [w.key for w in self.witnesses]


def load_witness_policy(path: Path) -> WitnessPolicy:
    """Returns the policy of a TOML file::

        quorum = 2
        timeout_seconds = 10
        retries = 2

        [[witness]]
        url = "https://witness.mof.example:7380"
        key = "witness.mof.example+…"   # the witness's verifier key (witness.pub)
        ca_cert = "mof-ca.pem"            # optional, for https
    """
    try:
        document: dict[str, Any] = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise WitnessPolicyError(f"cannot read witness policy {path}: {e}") from None
    endpoints = []
    for item in document.get("witness", []):
        try:
            ca = item.get("ca_cert")
            endpoints.append(WitnessEndpoint(
                str(item["url"]), NoteVerifier.from_vkey(str(item["key"])),
                (path.parent / ca) if ca else None))
        except (KeyError, TypeError, AttributeError, TlogError) as e:
            raise WitnessPolicyError(f"{path}: each [[witness]] needs url and key: {e}") from None
    try:
        return WitnessPolicy(
            tuple(endpoints), int(document.get("quorum", len(endpoints))),
            float(document.get("timeout_seconds", 10.0)), int(document.get("retries", 2)),
            float(document.get("poll_seconds", 1.0)),
            float(document.get("retry_after_seconds", 30.0)))
    except (TypeError, ValueError) as e:
        raise WitnessPolicyError(f"{path}: {e}") from None


@dataclass
class WitnessStatus:
    """What the collector knows of one witness."""

    size: int = 0
    """Size of the latest checkpoint this witness cosigned (or told us it holds)."""
    seq: int = 0
    """Newest checkpoint number it cosigned (or that was skipped as older than it holds)."""
    failures: int = 0
    last_error: str = ""
    next_try: float = 0.0


@dataclass
class CosignatureCollector:
    """Collects cosignatures of the latest checkpoint from the policy's witnesses."""

    store: AuditStore
    policy: WitnessPolicy
    clock: Callable[[], float] = time.time
    status: dict[str, WitnessStatus] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        with self.store.read() as tx:
            sizes = tx.witness_sizes()
            seqs = tx.cosigned_seqs()
        for w in self.policy.witnesses:
            self.status[w.label] = WitnessStatus(size=sizes.get(w.label, 0),
                                                 seq=seqs.get(w.label, 0))

    def collect(self) -> int:
        """Sends every witness that is due the checkpoints it has not cosigned, oldest
        first (one it cannot cosign any more, being older than what it holds, is
        skipped); returns how many new cosignatures were stored."""
        now = self.clock()
        due = [w for w in self.policy.witnesses if self.status[w.label].next_try <= now]
        if not due:
            return 0
        with self.store.read() as tx:
            pending = tx.checkpoints(min(self.status[w.label].seq for w in due))
        stored = 0
        for witness in due:
            status = self.status[witness.label]
            for cp in pending:
                if cp.seq <= status.seq:
                    continue
                if cp.size < status.size or witness.label in check_cosignatures(
                        cp.cosigned_note, [witness.key]).witnesses:
                    status.seq = cp.seq
                    continue
                try:
                    if self._ask(witness, cp, status):
                        stored += 1
                    status.failures, status.last_error, status.next_try = 0, "", 0.0
                    status.seq = cp.seq
                except (WitnessError, TlogError) as e:
                    status.failures += 1
                    status.last_error = str(e)
                    status.next_try = now + self.policy.retry_after_seconds
                    log.warning("witness %s did not cosign checkpoint %d: %s", witness.label,
                                cp.seq, e)
                    break
        return stored

    def _ask(self, witness: WitnessEndpoint, cp: StoredCheckpoint,
             status: WitnessStatus) -> bool:
        """Sends ``cp`` to ``witness`` (retrying on 409 from the size it answers and on
        network errors); stores and returns True for a valid cosignature, False when the
        witness already holds a larger tree."""
        context = witness.ssl_context()
        old = status.size
        error: Exception | None = None
        failures = conflicts = 0
        while failures <= self.policy.retries and conflicts <= 2:
            if old > cp.size:
                return False  # it holds a larger tree: this one can no longer be cosigned
            request = AddCheckpoint(old, self._proof(old, cp.size), cp.note)
            try:
                lines = add_checkpoint(witness.url, request, self.policy.timeout_seconds,
                                       context)
            except WitnessConflict as e:
                if e.size is None or e.size == old:
                    raise
                # It holds another size than we thought: start again from that size (this
                # does not count as a failed attempt).
                conflicts += 1
                old = e.size
                self._remember(witness, status, old)
                error = e
                continue
            except WitnessError as e:
                failures += 1
                error = e
                if failures <= self.policy.retries:
                    time.sleep(min(2.0 ** failures * 0.1, 5.0))
                continue
            return self._keep(witness, cp, lines, status)
        assert error is not None
        raise error

    def _proof(self, old: int, new: int) -> tuple[bytes, ...]:
        if old == 0 or old == new:
            return ()
        with self.store.read() as tx:
            return tuple(consistency_proof(old, new, tx.get_nodes))

    def _keep(self, witness: WitnessEndpoint, cp: StoredCheckpoint, lines: Sequence[Any],
              status: WitnessStatus) -> bool:
        parsed = parse_note(cp.note)
        ours = [s for s in lines if (s.name, s.key_id) == (witness.key.name, witness.key.key_id)]
        check = check_cosignatures(Note(parsed.text, tuple(ours)), [witness.key])
        if not check.valid:
            raise WitnessRefused(200, "answer holds no valid cosignature by its key")
        line = next(s for s in ours if witness.key.verify_note(parsed.text, s.signature))
        with self.store.write(lock=False) as tx:
            assert tx is not None
            tx.insert_cosignature(cp.seq, witness.label, line.line(),
                                  cosignature_timestamp(line))
            tx.set_witness_size(witness.label, cp.size, datetime.now(UTC).isoformat())
        status.size = cp.size
        log.info("witness %s cosigned checkpoint %d at size %d", witness.label, cp.seq,
                 cp.size)
        return True

    def _remember(self, witness: WitnessEndpoint, status: WitnessStatus, size: int) -> None:
        status.size = size
        with self.store.write(lock=False) as tx:
            assert tx is not None
            tx.set_witness_size(witness.label, size, datetime.now(UTC).isoformat())

    def lag(self) -> dict[str, int]:
        """Returns, per witness, how many leaves its latest cosigned checkpoint is behind
        the latest checkpoint (0: up to date)."""
        with self.store.read() as tx:
            latest = tx.latest_checkpoint()
            held = tx.witness_sizes()
        size = latest.size if latest is not None else 0
        # From the store, not ``status``: the collector may run in another process
        # (ledger.audit.follower_process) and the metrics read it here.
        return {w.label: max(0, size - held.get(w.label, 0)) for w in self.policy.witnesses}

    # ------------------------------------------------------------------ driving

    def start(self) -> None:
        """Collects in a daemon thread until :meth:`stop`."""
        if self._thread is not None or not self.policy.witnesses:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="audit-witnesses", daemon=True)
        self._thread.start()

    def run(self) -> None:
        """Collects until :meth:`stop`; every error is logged and retried later."""
        while not self._stop.is_set():
            try:
                self.collect()
            except Exception:
                log.exception("collecting cosignatures failed; retrying")
            self._stop.wait(self.policy.poll_seconds)

    def stop(self) -> None:
        """Stops the background thread, if any."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

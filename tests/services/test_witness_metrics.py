"""Prometheus shows each witness's lag behind the latest checkpoint."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from prometheus_client import generate_latest

from ledger.audit.follower import CheckpointPolicy
from ledger.audit.log import AuditLog
from ledger.audit.witnessing import WitnessEndpoint, WitnessPolicy
from services.metrics import ServerMetrics
from tests.ledger.audit.conftest import make_audited
from tests.ledger.audit.test_witnessing import running_witness
from tlog.keys import SIG_TYPE_COSIGNATURE_V1, NoteSigner


def test_witness_lag_gauge(tmp_path):
    audited = make_audited(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        with running_witness(tmp_path, "mof.test", audited.signer.verifier) as (server, key):
            dead = NoteSigner.generate("dead.test", SIG_TYPE_COSIGNATURE_V1)
            policy = WitnessPolicy((WitnessEndpoint(server.url, key.verifier),
                                    WitnessEndpoint("http://127.0.0.1:1", dead.verifier)),
                                   quorum=1, timeout_seconds=1, retries=0)
            log = AuditLog(audited.ledger.recorder, signer=audited.signer, witnesses=policy,
                           policy=CheckpointPolicy(every_records=5, every_seconds=0))
            assert log.collector is not None
            log.collector.collect()
            metrics = ServerMetrics()
            metrics.attach(cast(Any, SimpleNamespace(ledger=SimpleNamespace(
                listeners=[], calendar=SimpleNamespace(listeners=[])),
                                                     audit=log, follower=None)))
            text = generate_latest(metrics.registry).decode()  # refreshed, then read
        size = log.latest_checkpoint().size
        assert f'valedger_audit_witness_lag_leaves{{witness="{key.verifier.label}"}} 0.0' in text
        assert (f'valedger_audit_witness_lag_leaves{{witness="{dead.verifier.label}"}} '
                f"{float(size)}") in text
    finally:
        audited.raw.close()
        audited.ledger.close()

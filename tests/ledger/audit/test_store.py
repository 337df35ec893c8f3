"""The audit store picks its SQL dialect from the recorder's eventsourcing base class."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from ledger.audit.store import AuditStore, AuditStoreError, SQLiteAuditStore
from ledger.config import StoreConfig


def test_subclassed_recorder_keeps_its_dialect(sqlite_url: str) -> None:
    env = Environment("valedger", StoreConfig(sqlite_url).eventsourcing_env())
    factory: InfrastructureFactory[Any] = InfrastructureFactory.construct(env)
    try:
        recorder = factory.application_recorder()
        subclass = type("LocalRecorder", (type(recorder),), {"__module__": "elsewhere"})
        recorder.__class__ = subclass
        assert isinstance(AuditStore.for_recorder(recorder), SQLiteAuditStore)
    finally:
        factory.close()


def test_other_recorders_are_refused() -> None:
    from eventsourcing.popo import POPOApplicationRecorder

    with pytest.raises(AuditStoreError, match="SQLite or PostgreSQL"):
        AuditStore.for_recorder(POPOApplicationRecorder())

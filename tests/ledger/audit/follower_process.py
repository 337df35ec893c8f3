"""A tree follower run as its own process by the crash test: ``python -m
tests.ledger.audit.follower_process STORE_URL KEY_FILE``. It prints ``ready`` and then
integrates records in small transactions until it is killed."""

from __future__ import annotations

import sys
from pathlib import Path

from ledger.audit.follower import CheckpointPolicy
from ledger.audit.log import AuditLog
from ledger.config import StoreConfig
from tests.ontime import on_time_ledger
from tlog.note import NoteSigner


def main() -> None:
    url, key_file = sys.argv[1], sys.argv[2]
    ledger = on_time_ledger(StoreConfig(url=url, create_tables=False))
    log = AuditLog(ledger.recorder, signer=NoteSigner.from_skey(Path(key_file).read_text()),
                   policy=CheckpointPolicy(every_records=4, every_seconds=0), batch_size=3)
    print("ready", flush=True)
    while True:
        n = log.follower.step()
        if n:
            print(n, flush=True)


if __name__ == "__main__":
    main()

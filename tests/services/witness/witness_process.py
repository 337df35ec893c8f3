"""A witness in its own process, for kill -9 tests.

Usage: python -m tests.services.witness.witness_process STORE URL_FILE WITNESS_KEY LOG_VKEY
[CRASH_POINT]. Writes its URL to URL_FILE once listening. With CRASH_POINT
``before_commit`` or ``after_commit`` it writes ``URL_FILE.hit`` at that point of the
first cosigning and then hangs, waiting to be killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from services.witness.core import Witness
from services.witness.http import WitnessHTTPServer
from services.witness.store import WitnessStore
from tlog.checkpoint import Checkpoint
from tlog.keys import NoteSigner, NoteVerifier


class CrashingWitness(Witness):
    crash_point = ""
    marker = Path()

    def _hang(self, point: str) -> None:
        if self.crash_point == point:
            self.marker.write_text(point)
            time.sleep(600)

    def _before_commit(self, checkpoint: Checkpoint) -> None:
        self._hang("before_commit")

    def _committed(self, checkpoint: Checkpoint) -> None:
        self._hang("after_commit")


def main() -> None:
    store, url_file, key_file, vkey = sys.argv[1:5]
    witness = CrashingWitness(NoteSigner.from_skey(Path(key_file).read_text()),
                              WitnessStore(Path(store)), {})
    log_key = NoteVerifier.from_vkey(vkey)
    witness.logs = {log_key.name: (log_key,)}
    witness.crash_point = sys.argv[5] if len(sys.argv) > 5 else ""
    witness.marker = Path(url_file + ".hit")
    server = WitnessHTTPServer(("127.0.0.1", 0), witness)
    tmp = Path(url_file + ".tmp")
    tmp.write_text(server.url)
    tmp.replace(url_file)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""Certificate revocation: the CA's CRL, loaded at start and reloaded when it changes.

``valedger ca revoke`` writes ``crl.pem`` beside ``ca.crt``. The server checks the client
certificate of every call against it: the file's modification time is looked at on each
call (a ``stat``), and SIGHUP reloads it at once. A CRL that is not signed by our CA, or
cannot be read, is refused and the previous list kept (an error is logged).
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path

from cryptography import x509

from services.status import unauthenticated

log = logging.getLogger(__name__)


class RevocationList:
    """The serial numbers our CA revoked, kept in step with a CRL file."""

    def __init__(self, crl_path: Path, ca_cert_path: Path) -> None:
        self.crl_path = Path(crl_path)
        self.ca = x509.load_pem_x509_certificate(Path(ca_cert_path).read_bytes())
        self.serials: frozenset[int] = frozenset()
        self.loaded_mtime: float | None = None
        self.lock = threading.Lock()
        self.reload()

    def reload(self) -> None:
        """Reads the CRL file now (no file: nothing is revoked)."""
        with self.lock:
            try:
                mtime = self.crl_path.stat().st_mtime
            except FileNotFoundError:
                self.serials, self.loaded_mtime = frozenset(), None
                return
            try:
                crl = x509.load_pem_x509_crl(self.crl_path.read_bytes())
                if not crl.is_signature_valid(self.ca.public_key()):  # type: ignore[arg-type]
                    raise ValueError("not signed by our CA")
            except (OSError, ValueError) as exc:
                log.error("certificate revocation list refused; the previous one is kept",
                          extra={"crl": str(self.crl_path), "reason": str(exc)})
                self.loaded_mtime = mtime
                return
            self.serials = frozenset(entry.serial_number for entry in crl)
            self.loaded_mtime = mtime
            log.info("certificate revocation list loaded",
                     extra={"crl": str(self.crl_path), "revoked": len(self.serials)})

    def refresh(self) -> None:
        """Reloads the CRL when its file changed since it was last read."""
        try:
            mtime: float | None = self.crl_path.stat().st_mtime
        except FileNotFoundError:
            mtime = None
        if mtime != self.loaded_mtime:
            self.reload()

    def is_revoked(self, serial: int) -> bool:
        """Returns True when the certificate with ``serial`` is revoked."""
        self.refresh()
        return serial in self.serials

    def check(self, pem: bytes) -> None:
        """Raises UNAUTHENTICATED when the PEM client certificate is revoked."""
        serial = serial_of(pem)
        if serial is not None and self.is_revoked(serial):
            raise unauthenticated("client certificate revoked")


@functools.lru_cache(maxsize=4096)
def serial_of(pem: bytes) -> int | None:
    """Returns the serial number of a PEM certificate (None when unreadable: the identity
    check reports it); remembered, since a client presents the same one on every call."""
    try:
        return int(x509.load_pem_x509_certificate(pem).serial_number)
    except ValueError:
        return None

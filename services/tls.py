"""Loads mTLS material into gRPC credentials and reads the caller's identity from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from services.ca import CertificateAuthority, IssuedCertificate


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of one endpoint: the CA certificate, its own certificate and key."""

    ca_cert: Path
    cert: Path
    key: Path

    @classmethod
    def issued(cls, issued: IssuedCertificate) -> TlsFiles:
        """Returns the files of a certificate the CA issued."""
        return cls(issued.ca_cert, issued.cert, issued.key)

    @classmethod
    def from_ca_dir(cls, ca_dir: Path, role: str, name: str) -> TlsFiles:
        """Returns the files ``valedger ca issue ROLE NAME`` wrote under ``ca_dir``."""
        ca = CertificateAuthority(Path(ca_dir))
        stem = ca.directory / "issued" / f"{role}-{name}"
        return cls(ca.cert_path, stem.with_suffix(".crt"), stem.with_suffix(".key"))

    def read(self) -> tuple[bytes, bytes, bytes]:
        """Returns (CA certificate, certificate, private key) as PEM bytes."""
        for path in (self.ca_cert, self.cert, self.key):
            if not Path(path).is_file():
                raise FileNotFoundError(f"TLS file not found: {path}")
        return (Path(self.ca_cert).read_bytes(), Path(self.cert).read_bytes(),
                Path(self.key).read_bytes())


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """Returns server credentials that require a client certificate from our CA."""
    ca, cert, key = files.read()
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca,
                                       require_client_auth=True)


def channel_credentials(files: TlsFiles) -> grpc.ChannelCredentials:
    """Returns client credentials presenting our certificate and trusting our CA only."""
    ca, cert, key = files.read()
    return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key,
                                        certificate_chain=cert)

"""Loads mTLS material into gRPC credentials and reads the caller's identity from it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from services.ca import CertificateAuthority, IssuedCertificate


class TlsFilesError(ValueError):
    """TLS files that cannot serve: missing, unreadable, mismatched or expired."""


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


def check_tls_files(files: TlsFiles) -> None:
    """Raises TlsFilesError unless the files are PEM, the key belongs to the certificate,
    the CA issued the certificate and the certificate is valid now."""
    try:
        ca_pem, cert_pem, key_pem = files.read()
    except OSError as exc:
        raise TlsFilesError(str(exc)) from None
    ca = _certificate(ca_pem, files.ca_cert)
    cert = _certificate(cert_pem, files.cert)
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise TlsFilesError(f"{files.key} is not an unencrypted PEM private key: {exc}"
                            ) from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if key.public_key().public_bytes(encoding, public) != \
            cert.public_key().public_bytes(encoding, public):
        raise TlsFilesError(f"the key {files.key} does not belong to the certificate "
                            f"{files.cert}")
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise TlsFilesError(f"the certificate {files.cert} was not issued by the CA "
                            f"{files.ca_cert}") from None
    now = dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise TlsFilesError(f"the certificate {files.cert} is not valid now (valid "
                            f"{cert.not_valid_before_utc:%Y-%m-%d} to "
                            f"{cert.not_valid_after_utc:%Y-%m-%d})")


def _certificate(pem: bytes, path: Path) -> x509.Certificate:
    """Returns the PEM certificate read from ``path``."""
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise TlsFilesError(f"{path} is not a PEM certificate") from None


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

"""Private certificate authority for mTLS: one CA key, certificates per role and name.

A client certificate's subject names the caller: ``OU`` is the role (regulator, miner,
exchange, grid, auditor), ``CN`` the name it was issued to, and ``UID`` the participant it
acts for. Server certificates carry ``OU=server`` and the host names in the SAN. Keys are
ECDSA P-256 (what every TLS stack accepts) and are written with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ORGANIZATION = "valedger"
CA_CERT_FILE = "ca.crt"
CA_KEY_FILE = "ca.key"
ISSUED_DIR = "issued"
CRL_FILE = "crl.pem"
DEFAULT_CRL_DAYS = 30
PARTICIPANT_ROLES = frozenset({"miner", "exchange"})
"""Roles whose certificates act for one participant (its UUID in the subject's UID)."""
DEFAULT_CA_DAYS = 3650
DEFAULT_CERT_DAYS = 397

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class Role(StrEnum):
    """Who a client certificate speaks for (DESIGN.md §1)."""

    REGULATOR = "regulator"
    MINER = "miner"
    EXCHANGE = "exchange"
    GRID = "grid"
    AUDITOR = "auditor"


SERVER_ROLE = "server"
"""The ``OU`` of server certificates; never accepted from a client."""


class CAError(ValueError):
    """A CA operation that cannot be done (missing CA, bad name, existing files)."""


@dataclass(frozen=True)
class IssuedCertificate:
    """Paths of an issued certificate, its private key and the CA certificate."""

    cert: Path
    key: Path
    ca_cert: Path


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA kept in one directory: ``ca.crt``, ``ca.key`` and ``issued/<role>-<name>.*``."""

    directory: Path

    @property
    def cert_path(self) -> Path:
        """Returns the path of the CA certificate."""
        return self.directory / CA_CERT_FILE

    @property
    def key_path(self) -> Path:
        """Returns the path of the CA private key."""
        return self.directory / CA_KEY_FILE

    @classmethod
    def init(cls, directory: Path, common_name: str = "valedger private CA",
             days: int = DEFAULT_CA_DAYS, force: bool = False) -> CertificateAuthority:
        """Creates a new CA in ``directory``; returns it. Refuses to overwrite unless forced."""
        ca = cls(Path(directory))
        if ca.cert_path.exists() and not force:
            raise CAError(f"a CA already exists in {ca.directory} (use --force to replace it)")
        ca.directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                              content_commitment=False, key_encipherment=False,
                              data_encipherment=False, key_agreement=False,
                              encipher_only=False, decipher_only=False),
                critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_key(ca.key_path, key)
        ca.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return ca

    def load(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """Returns the CA certificate and key, or raises CAError when absent."""
        if not self.cert_path.exists() or not self.key_path.exists():
            raise CAError(f"no CA in {self.directory}: run `valedger ca init` first")
        cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CAError(f"{self.key_path} is not an EC private key")
        return cert, key

    @property
    def crl_path(self) -> Path:
        """Returns the path of the certificate revocation list."""
        return self.directory / CRL_FILE

    def issue(self, role: str, name: str, participant: str | None = None,
              hosts: tuple[str, ...] = (), days: int = DEFAULT_CERT_DAYS,
              out_dir: Path | None = None, force: bool = True) -> IssuedCertificate:
        """Issues a certificate for ``role``/``name``; returns where it was written.

        ``role`` is a :class:`Role` or ``server``. ``participant`` (default: ``name``) is
        written as the subject's UID for client roles; miners and exchanges act for one
        participant, so theirs must be a participant id (a UUID). ``hosts`` are the DNS
        names or IP addresses of a server certificate (default: localhost and 127.0.0.1).
        With ``force=False`` (what `valedger ca issue` passes unless --force) existing
        files of ``role``/``name`` are kept and CAError raised.
        """
        if role != SERVER_ROLE and role not in Role.__members__.values():
            allowed = ", ".join([*(r.value for r in Role), SERVER_ROLE])
            raise CAError(f"unknown role {role!r}: use one of {allowed}")
        if not _NAME.match(name):
            raise CAError(f"bad name {name!r}: 1-64 of A-Z a-z 0-9 . _ -, not starting with . _ -")
        if role in PARTICIPANT_ROLES:
            check_participant_id(role, participant or name)
        target = Path(out_dir) if out_dir else self.directory / ISSUED_DIR
        stem = f"{role}-{name}"
        cert_path, key_path = target / f"{stem}.crt", target / f"{stem}.key"
        existing = [str(p) for p in (cert_path, key_path) if p.exists()]
        if existing and not force:
            raise CAError(f"{' and '.join(existing)} exist: use --force to replace them "
                          "(revoke the old certificate with `valedger ca revoke` if it leaked)")
        ca_cert, ca_key = self.load()
        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
        if role != SERVER_ROLE:
            attributes.append(x509.NameAttribute(NameOID.USER_ID, participant or name))
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False)
        )
        if role == SERVER_ROLE:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(_san(hosts or ("localhost", "127.0.0.1"))),
                critical=False,
            ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                            critical=False)
        else:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        target.mkdir(parents=True, exist_ok=True)
        _write_key(key_path, key)
        _write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        return IssuedCertificate(cert_path, key_path, self.cert_path)

    def revoke(self, cert_path: Path, days: int = DEFAULT_CRL_DAYS) -> x509.Certificate:
        """Adds the certificate at ``cert_path`` to the CA's CRL (``crl.pem``, re-signed,
        valid ``days``); returns the revoked certificate."""
        ca_cert, ca_key = self.load()
        try:
            cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
        except ValueError:
            raise CAError(f"{cert_path} is not a PEM certificate") from None
        if cert.issuer != ca_cert.subject:
            raise CAError(f"{cert_path} was not issued by the CA in {self.directory}")
        now = _now()
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(ca_cert.subject)
                   .last_update(now - dt.timedelta(minutes=5))
                   .next_update(now + dt.timedelta(days=days)))
        serials = set()
        for entry in self.revoked():
            serials.add(entry.serial_number)
            builder = builder.add_revoked_certificate(entry)
        if cert.serial_number not in serials:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
                .revocation_date(now).build())
        crl = builder.sign(ca_key, hashes.SHA256())
        _write_atomically(self.crl_path, crl.public_bytes(serialization.Encoding.PEM))
        return cert

    def revoked(self) -> list[x509.RevokedCertificate]:
        """Returns the entries of the CA's CRL (none when there is no CRL yet)."""
        if not self.crl_path.exists():
            return []
        return list(x509.load_pem_x509_crl(self.crl_path.read_bytes()))


def check_participant_id(role: str, participant: str) -> None:
    """Raises CAError unless ``participant`` is a participant id (a UUID)."""
    try:
        uuid.UUID(participant)
    except ValueError:
        raise CAError(
            f"a {role} certificate acts for one participant: --participant must be its "
            "participant id, the UUID in RegisterParticipant's response "
            f"(receipt.aggregate_id; not {participant!r}); the regulator registers the "
            "participant first") from None


def _write_atomically(path: Path, data: bytes) -> None:
    """Writes ``data`` to a temporary file beside ``path`` and renames it onto ``path``."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    partial.replace(path)


def _san(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """Writes a PEM private key readable by its owner only."""
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(partial, 0o600)
    partial.replace(path)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)

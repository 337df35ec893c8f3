"""Server settings: a TOML file, overridden by ``VALEDGER_*`` variables, overridden by flags.

Every setting has one variable: the TOML key ``[section] key`` maps to
``VALEDGER_<SECTION>_<KEY>`` (upper case), except the store's, which are ``VALEDGER_DB``,
``VALEDGER_CIPHER_KEY`` and ``VALEDGER_CIPHER_KEY_FILE`` (what every command reads).
Old spellings still work and are reported by :func:`deprecations`. ``ops/README.md`` lists
them all in one table.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

CONFIG_ENV = "VALEDGER_CONFIG"
ALIASES = {"VALEDGER_DB": ("store", "url"), "VALEDGER_CIPHER_KEY": ("store", "cipher_key"),
           "VALEDGER_CIPHER_KEY_FILE": ("store", "cipher_key_file")}
"""Variables whose name is not VALEDGER_<SECTION>_<KEY>."""
DEPRECATED = {"VALEDGER_STORE_URL": "VALEDGER_DB",
              "VALEDGER_STORE_CIPHER_KEY": "VALEDGER_CIPHER_KEY",
              "VALEDGER_STORE_CIPHER_KEY_FILE": "VALEDGER_CIPHER_KEY_FILE",
              "VALEDGER_AUDIT_KEY": "VALEDGER_AUDIT_SIGNING_KEY_FILE"}
"""Old variable names, still read, and the one to use instead."""
COMMAND_ONLY = frozenset({"VALEDGER_AUDIT_PUBLIC_KEY"})
"""Variables read by one command (not server settings)."""


class SettingsError(ValueError):
    """A configuration file or variable that cannot be used."""


@dataclass(frozen=True)
class StoreSettings:
    """Where the log lives and how its state is protected."""

    url: str = "sqlite:///./var/ledger.db"
    cipher_key: str = ""
    cipher_key_file: str = ""
    create_tables: bool = False

    def resolved_cipher_key(self) -> str | None:
        """Returns the cipher key, read from ``cipher_key_file`` when that is set."""
        if self.cipher_key_file:
            return Path(self.cipher_key_file).read_text().strip() or None
        return self.cipher_key or None


@dataclass(frozen=True)
class ServerSettings:
    """The gRPC endpoint and its transport security."""

    listen: str = "127.0.0.1:50051"
    insecure: bool = False
    ca_cert: str = ""
    cert: str = ""
    key: str = ""
    crl: str = ""
    """The CA's revocation list (default: crl.pem beside ca_cert)."""
    max_message_bytes: int = 64 * 1024 * 1024
    metrics_listen: str = ""
    log_level: str = "INFO"
    grace_seconds: float = 10.0
    calendar_interval_seconds: float = 30.0
    """How often the supervisory calendar looks for due work (0: this server never runs
    it; one server per store must)."""


@dataclass(frozen=True)
class AuditSettings:
    """The audit log's checkpoint signer."""

    origin: str = ""
    """Expected checkpoint origin; empty: the signing key's name (a key made with
    ``audit keygen --origin O`` signs as O). A different value refuses to start."""
    signing_key_file: str = ""
    checkpoint_every_records: int = 1000
    checkpoint_every_seconds: float = 60.0
    witnesses_file: str = ""
    """TOML file of the witnesses that cosign checkpoints and the quorum (empty: none)."""


@dataclass(frozen=True)
class VerifierSettings:
    """The mining-proof verifier."""

    backend: str = "auto"
    max_shares: int = 1_000_000
    workers: int = 0
    """CPU worker processes (0: one per core)."""

    def export(self, environ: dict[str, str] | os._Environ[str]) -> None:
        """Writes these settings to the ``VALEDGER_VERIFIER_*`` variables the verifier
        reads when the ledger builds it."""
        environ["VALEDGER_VERIFIER_BACKEND"] = self.backend
        environ["VALEDGER_VERIFIER_MAX_SHARES"] = str(self.max_shares)
        if self.workers:
            environ["VALEDGER_VERIFIER_WORKERS"] = str(self.workers)


@dataclass(frozen=True)
class Settings:
    """Every setting of a valedger process."""

    store: StoreSettings = field(default_factory=StoreSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    verifier: VerifierSettings = field(default_factory=VerifierSettings)

    def overridden(self, section: str, **values: Any) -> Settings:
        """Returns a copy with the given non-None values of one section replaced."""
        given = {k: v for k, v in values.items() if v is not None}
        if not given:
            return self
        return replace(self, **{section: replace(getattr(self, section), **given)})


def _convert(section: str, key: str, raw: Any, target: type[Any] | str) -> Any:
    kind = target if isinstance(target, str) else target.__name__
    expected = {"str": "a string", "int": "an integer", "float": "a number",
                "bool": "true or false"}.get(kind, kind)
    wrong_toml_type = (
        (kind == "str" and not isinstance(raw, str))
        or (kind in ("int", "float") and isinstance(raw, bool))
        or (kind == "int" and isinstance(raw, float))
        or (kind == "bool" and not isinstance(raw, (bool, str)))
    )
    if wrong_toml_type:
        raise SettingsError(f"[{section}] {key}: expected {expected}, got "
                            f"{type(raw).__name__} {raw!r}")
    try:
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on", "y"):
                return True
            if text in ("0", "false", "no", "off", "n", ""):
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"[{section}] {key}: expected {expected}, got {raw!r}") from None


def deprecations(environ: Mapping[str, str] | None = None) -> list[str]:
    """Returns a warning for each deprecated variable that is set."""
    env = os.environ if environ is None else environ
    return [f"{old} is deprecated: use {new}" for old, new in DEPRECATED.items() if old in env]


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None
                  ) -> Settings:
    """Returns settings from the TOML file (``path`` or ``$VALEDGER_CONFIG``) and variables."""
    env = os.environ if environ is None else environ
    values: dict[str, dict[str, Any]] = {}
    file = path or (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else None)
    if file is not None:
        try:
            document = tomllib.loads(Path(file).read_text())
        except FileNotFoundError:
            raise SettingsError(f"config file not found: {file}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {file} is not valid TOML: {exc}") from None
        for section, table in document.items():
            if not isinstance(table, dict):
                raise SettingsError(f"{file}: top-level key {section!r} must be a [section]")
            values[section] = dict(table)
    sections = {f.name: f.default_factory() for f in fields(Settings)
                if callable(f.default_factory)}
    for name, value in sorted(env.items(), key=lambda item: item[0] not in DEPRECATED):
        if name in COMMAND_ONLY:
            continue
        name = DEPRECATED.get(name, name)  # read first: the current name wins
        if name in ALIASES:
            section, key = ALIASES[name]
            values.setdefault(section, {})[key] = value
            continue
        for section in sections:
            prefix = f"VALEDGER_{section.upper()}_"
            if name.startswith(prefix):
                values.setdefault(section, {})[name[len(prefix):].lower()] = value
    settings = Settings()
    for section, table in values.items():
        if section not in sections:
            raise SettingsError(f"unknown section [{section}] (known: {', '.join(sections)})")
        known = {f.name: f.type for f in fields(sections[section])}
        converted = {}
        for key, raw in table.items():
            if key not in known:
                raise SettingsError(f"unknown setting [{section}] {key} "
                                    f"(known: {', '.join(sorted(known))})")
            converted[key] = _convert(section, key, raw, known[key])
        settings = settings.overridden(section, **converted)
    return settings

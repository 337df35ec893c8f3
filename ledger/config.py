"""Store configuration: turns a store URL and a cipher key into eventsourcing settings."""

from __future__ import annotations

import binascii
import os
from base64 import b64decode
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from ledger.errors import LedgerError
from ledger.postgres import RECORDER_TOPIC
from ledger.sqlite import RECORDER_TOPIC as SQLITE_RECORDER_TOPIC

DEFAULT_DB_URL = "sqlite:///./var/ledger.db"
"""The embedded default store (DESIGN.md §7)."""

DB_URL_ENV = "VALEDGER_DB"
CIPHER_KEY_ENV = "VALEDGER_CIPHER_KEY"
CIPHER_KEY_FILE_ENV = "VALEDGER_CIPHER_KEY_FILE"
CIPHER_KEY_SOURCES = (f"--cipher-key-file, --cipher-key, {CIPHER_KEY_FILE_ENV} or "
                      f"{CIPHER_KEY_ENV}; serve also reads [store] cipher_key_file or "
                      "cipher_key")
"""Where a cipher key comes from, as errors name it: the command line's options and the
environment's variables, which every command reads, and serve's settings file."""

COMPRESSOR_TOPIC = "ledger.compression:FastZlibCompressor"
TRANSCODER_TOPIC = "ledger.transcoding:SplicingJSONTranscoder"
MAPPER_TOPIC = "ledger.mapping:SplicingMapper"
CIPHER_TOPIC = "ledger.cipher:OpenSSLAESCipher"


class ConfigurationError(LedgerError, ValueError):
    """A store URL or setting that cannot be used."""


@dataclass(frozen=True)
class StoreConfig:
    """Where and how the one global log is persisted.

    ``url`` is ``sqlite:///path`` or ``postgresql://user[:password]@host[:port]/dbname``
    (``?host=/socket/dir`` selects a Unix socket). ``cipher_key`` is a base64 AES key
    (16, 24 or 32 bytes); when given, stored event state is encrypted with AES-GCM.
    """

    url: str = DEFAULT_DB_URL
    cipher_key: str | None = None
    create_tables: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, url: str | None = None, cipher_key: str | None = None,
                         create_tables: bool = True) -> StoreConfig:
        """Returns a config from explicit values, falling back to VALEDGER_* variables
        (the key file named by VALEDGER_CIPHER_KEY_FILE before VALEDGER_CIPHER_KEY, as
        the command line reads them)."""
        if not cipher_key and os.environ.get(CIPHER_KEY_FILE_ENV):
            cipher_key = Path(os.environ[CIPHER_KEY_FILE_ENV]).read_text().strip()
        return cls(
            url=url or os.environ.get(DB_URL_ENV) or DEFAULT_DB_URL,
            cipher_key=cipher_key or os.environ.get(CIPHER_KEY_ENV) or None,
            create_tables=create_tables,
        )

    @property
    def url_for_display(self) -> str:
        """Returns the store URL without its password, fit for messages and logs."""
        return display_url(self.url)

    @property
    def is_postgres(self) -> bool:
        """Returns True when the store is PostgreSQL."""
        return urlparse(self.url).scheme in ("postgresql", "postgres")

    @property
    def is_in_memory(self) -> bool:
        """Returns True for an in-memory SQLite store (one process's only: no other
        process, such as the audit follower's, can open it)."""
        name = persistence_env(self.url).get("SQLITE_DBNAME", "")
        return ":memory:" in name or "mode=memory" in name  # eventsourcing's own rule

    def eventsourcing_env(self) -> dict[str, str]:
        """Returns the eventsourcing environment for this store."""
        env = persistence_env(self.url)
        env["COMPRESSOR_TOPIC"] = COMPRESSOR_TOPIC
        env["TRANSCODER_TOPIC"] = TRANSCODER_TOPIC
        env["MAPPER_TOPIC"] = MAPPER_TOPIC
        if self.cipher_key:
            check_cipher_key(self.cipher_key)
            env["CIPHER_TOPIC"] = CIPHER_TOPIC
            env["CIPHER_KEY"] = self.cipher_key
        env["CREATE_TABLE"] = "y" if self.create_tables else "n"
        env.update(self.extra)
        return env


def display_url(url: str) -> str:
    """Returns ``url`` with any password replaced by ``***``."""
    try:
        parsed = urlparse(url)
        password = parsed.password
    except ValueError:
        return "<unparsable URL>"
    if password is None:
        return url
    netloc = parsed.netloc.replace(":" + password + "@", ":***@", 1)
    return parsed._replace(netloc=netloc).geturl()


def check_cipher_key(key: str) -> None:
    """Raises ConfigurationError unless ``key`` is base64 of 16, 24 or 32 bytes.

    The message never repeats the key: it is a secret.
    """
    try:
        size = len(b64decode(key.encode("ascii"), validate=True))
    except (binascii.Error, UnicodeEncodeError):
        raise ConfigurationError(
            f"cipher key ({CIPHER_KEY_SOURCES}) is not valid base64") from None
    if size not in (16, 24, 32):
        raise ConfigurationError(
            f"cipher key ({CIPHER_KEY_SOURCES}) must decode to 16, 24 or 32 bytes, not {size}")


def persistence_env(url: str) -> dict[str, str]:
    """Returns the PERSISTENCE_MODULE settings for a store URL."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path, as SQLAlchemy spells it.
        path = unquote(parsed.path[1:] if parsed.path.startswith("/") else parsed.path)
        if parsed.netloc:
            raise ConfigurationError(f"sqlite URL must have no host: {display_url(url)!r}")
        if not path:
            raise ConfigurationError(f"sqlite URL has no file path: {display_url(url)!r}")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "30",
            # eventsourcing's recorder plus the trade request index (see ledger.sqlite).
            "APPLICATION_RECORDER_TOPIC": SQLITE_RECORDER_TOPIC,
        }
    if parsed.scheme in ("postgresql", "postgres"):
        query = parse_qs(parsed.query)
        host = query.get("host", [parsed.hostname or "localhost"])[0]
        dbname = unquote(parsed.path.lstrip("/"))
        if not dbname:
            raise ConfigurationError(f"postgresql URL has no database name: {display_url(url)!r}")
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": host,
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": unquote(parsed.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parsed.password or ""),
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_MAX_OVERFLOW": "10",
            # eventsourcing's recorder without psycopg pipeline mode (see ledger.postgres).
            "APPLICATION_RECORDER_TOPIC": RECORDER_TOPIC,
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return env
    raise ConfigurationError(
        f"unsupported store URL {display_url(url)!r}: use sqlite:///path or postgresql://user@host:port/db"
    )

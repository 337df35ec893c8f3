"""Witness configuration: a TOML file and command-line values.

::

    [witness]
    key_file = "witness.key"       # written by `valedger witness keygen`
    store = "witness.db"           # SQLite file: latest cosigned checkpoint per log
    listen = "127.0.0.1:7380"
    tls_cert = ""                  # PEM certificate chain; with tls_key, serve HTTPS
    tls_key = ""

    [[log]]
    origin = "valedger.example/ledger"
    key = "valedger.example/ledger+1234abcd+AQ..."   # the log's verifier key (repeatable
                                                    # as `keys = [...]` after a rotation)
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tlog.keys import KeyFormatError, NoteVerifier


class WitnessConfigError(ValueError):
    """A witness configuration that cannot be used."""


@dataclass(frozen=True)
class LogEntry:
    """One log the witness follows: its origin and the keys that sign its checkpoints."""

    origin: str
    keys: tuple[NoteVerifier, ...]


@dataclass(frozen=True)
class WitnessConfig:
    """Everything `witness serve` needs."""

    key_file: Path
    store: Path
    listen: str = "127.0.0.1:7380"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    logs: tuple[LogEntry, ...] = field(default=())

    def log_keys(self) -> dict[str, tuple[NoteVerifier, ...]]:
        """Returns the trusted keys of each configured origin."""
        return {entry.origin: entry.keys for entry in self.logs}


def parse_log(text: str) -> LogEntry:
    """Returns the log of an ``ORIGIN=VKEY`` command-line value (the origin defaults to
    the key name when the value is only a vkey)."""
    origin, sep, vkey = text.partition("=")
    if not sep:
        origin, vkey = "", text
    try:
        key = NoteVerifier.from_vkey(vkey)
    except KeyFormatError as e:
        raise WitnessConfigError(f"log key {vkey[:40]!r}: {e}") from None
    if key.is_cosigner:
        raise WitnessConfigError("a log key has signature type 0x01, not a cosigner key")
    return LogEntry(origin.strip() or key.name, (key,))


def merge_logs(entries: Iterable[LogEntry]) -> tuple[LogEntry, ...]:
    """Returns the entries with the keys of one origin merged into one entry."""
    merged: dict[str, list[NoteVerifier]] = {}
    for entry in entries:
        keys = merged.setdefault(entry.origin, [])
        keys.extend(k for k in entry.keys if k not in keys)
    return tuple(LogEntry(origin, tuple(keys)) for origin, keys in merged.items())


def _logs_of(document: Mapping[str, Any]) -> list[LogEntry]:
    entries: list[LogEntry] = []
    for item in document.get("log", []):
        if not isinstance(item, dict) or not isinstance(item.get("origin", ""), str):
            raise WitnessConfigError("each [[log]] has an origin and a key")
        keys = item.get("keys") or ([item["key"]] if "key" in item else [])
        if not keys or not all(isinstance(k, str) for k in keys):
            raise WitnessConfigError(f"log {item.get('origin')!r} has no key")
        for key in keys:
            entry = parse_log(f"{item.get('origin', '')}={key}")
            entries.append(entry)
    return entries


def load_config(
    file: Path | None = None,
    key_file: Path | None = None,
    store: Path | None = None,
    listen: str | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    logs: Sequence[str] = (),
) -> WitnessConfig:
    """Returns the configuration of a TOML file overridden by the given values; logs from
    both are merged."""
    document: dict[str, Any] = {}
    if file is not None:
        try:
            document = tomllib.loads(file.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise WitnessConfigError(f"cannot read {file}: {e}") from None
    section = document.get("witness", {})
    base = file.parent if file is not None else Path(".")

    def path(value: Path | None, key: str) -> Path | None:
        if value is not None:
            return value
        text = section.get(key, "")
        return (base / text) if text else None

    key_path = path(key_file, "key_file")
    store_path = path(store, "store")
    if key_path is None or store_path is None:
        missing = [what for what, value in (("--key ([witness] key_file)", key_path),
                                            ("--store ([witness] store)", store_path))
                   if value is None]
        raise WitnessConfigError(f"a witness needs a key file and a store file: give "
                                 f"{' and '.join(missing)}, or --config FILE")
    entries = merge_logs([*_logs_of(document), *(parse_log(v) for v in logs)])
    if not entries:
        raise WitnessConfigError("no log configured: add [[log]] or --log ORIGIN=VKEY")
    cert, key = path(tls_cert, "tls_cert"), path(tls_key, "tls_key")
    if (cert is None) != (key is None):
        raise WitnessConfigError("TLS needs both a certificate and a key")
    return WitnessConfig(key_path, store_path, listen or section.get("listen", "127.0.0.1:7380"),
                         cert, key, entries)

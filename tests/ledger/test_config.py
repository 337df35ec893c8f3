"""Store configuration of ``ledger.config``: URLs, environment and cipher keys."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from ledger.config import (
    CIPHER_KEY_ENV,
    CIPHER_KEY_FILE_ENV,
    DB_URL_ENV,
    DEFAULT_DB_URL,
    ConfigurationError,
    StoreConfig,
    persistence_env,
)
from ledger.errors import LedgerError

KEY = base64.b64encode(bytes(range(32))).decode()


def test_sqlite_absolute_and_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    env = persistence_env(f"sqlite:///{tmp_path}/sub/ledger.db")
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert env["SQLITE_DBNAME"] == f"{tmp_path}/sub/ledger.db"
    assert (tmp_path / "sub").is_dir()  # parent folder created
    monkeypatch.chdir(tmp_path)
    assert persistence_env("sqlite:///var/x.db")["SQLITE_DBNAME"] == "var/x.db"
    assert persistence_env("sqlite:///:memory:")["SQLITE_DBNAME"] == ":memory:"


def test_postgres_urls() -> None:
    env = persistence_env("postgresql://alice:s%40cret@db.example:6543/ledger?schema=v1")
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("db.example", "6543")
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("alice", "s@cret")
    assert (env["POSTGRES_DBNAME"], env["POSTGRES_SCHEMA"]) == ("ledger", "v1")
    socket = persistence_env("postgresql://postgres@:5432/db?host=/tmp/pg")
    assert socket["POSTGRES_HOST"] == "/tmp/pg"
    assert persistence_env("postgres://u@h/db")["POSTGRES_PORT"] == "5432"


@pytest.mark.parametrize("url", ["mysql://h/db", "sqlite://host/x.db", "sqlite:///",
                                 "postgresql://u@h:5432/", "ledger.db"])
def test_unusable_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        persistence_env(url)
    assert isinstance(caught.value, LedgerError)


def test_environment_variables_are_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DB_URL_ENV, raising=False)
    monkeypatch.delenv(CIPHER_KEY_ENV, raising=False)
    monkeypatch.delenv(CIPHER_KEY_FILE_ENV, raising=False)
    assert StoreConfig.from_environment() == StoreConfig(url=DEFAULT_DB_URL)
    monkeypatch.setenv(DB_URL_ENV, "postgresql://u@h/db")
    monkeypatch.setenv(CIPHER_KEY_ENV, KEY)
    config = StoreConfig.from_environment(create_tables=False)
    assert (config.url, config.cipher_key, config.create_tables) == (
        "postgresql://u@h/db", KEY, False)
    assert config.is_postgres
    explicit = StoreConfig.from_environment("sqlite:///x.db", "other")
    assert (explicit.url, explicit.cipher_key) == ("sqlite:///x.db", "other")


def test_the_key_files_variable_comes_before_the_keys(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    key_file = tmp_path / "cipher.key"
    key_file.write_text(KEY + "\n")
    monkeypatch.setenv(CIPHER_KEY_FILE_ENV, str(key_file))
    monkeypatch.setenv(CIPHER_KEY_ENV, "the other key")
    assert StoreConfig.from_environment().cipher_key == KEY  # as the command line reads it
    assert StoreConfig.from_environment(cipher_key="given").cipher_key == "given"


def test_eventsourcing_settings(tmp_path: Path) -> None:
    plain = StoreConfig(url=f"sqlite:///{tmp_path}/l.db").eventsourcing_env()
    assert plain["COMPRESSOR_TOPIC"] == "ledger.compression:FastZlibCompressor"
    assert plain["TRANSCODER_TOPIC"] == "ledger.transcoding:SplicingJSONTranscoder"
    assert "CIPHER_TOPIC" not in plain and plain["CREATE_TABLE"] == "y"
    secret = StoreConfig(url=f"sqlite:///{tmp_path}/l.db", cipher_key=KEY,
                         create_tables=False).eventsourcing_env()
    assert secret["CIPHER_TOPIC"] == "ledger.cipher:OpenSSLAESCipher"
    assert secret["CIPHER_KEY"] == KEY and secret["CREATE_TABLE"] == "n"


@pytest.mark.parametrize("key", ["not base64!", base64.b64encode(b"short").decode(),
                                 base64.b64encode(bytes(33)).decode()])
def test_bad_cipher_keys_are_refused_without_echoing_them(tmp_path: Path, key: str) -> None:
    config = StoreConfig(url=f"sqlite:///{tmp_path}/l.db", cipher_key=key)
    with pytest.raises(ConfigurationError, match=CIPHER_KEY_ENV) as caught:
        config.eventsourcing_env()
    assert key not in str(caught.value)
    for source in ("--cipher-key-file", "--cipher-key,", CIPHER_KEY_FILE_ENV,
                   "[store] cipher_key_file"):
        assert source in str(caught.value)  # all its sources


def test_display_url_hides_the_password() -> None:
    config = StoreConfig(url="postgresql://alice:hunter2@db:5432/ledger")
    assert config.url_for_display == "postgresql://alice:***@db:5432/ledger"
    assert StoreConfig(url="sqlite:///x.db").url_for_display == "sqlite:///x.db"
    for bad in ("postgresql://alice:hunter2@db:5432/", "mysql://alice:hunter2@db/x"):
        with pytest.raises(ConfigurationError) as caught:
            persistence_env(bad)
        assert "hunter2" not in str(caught.value) and "alice:***@db" in str(caught.value)


def test_events_compressed_at_any_zlib_level_read_back(tmp_path: Path) -> None:
    import zlib

    from ledger.compression import FastZlibCompressor

    data = b"proof batch " * 1000 + bytes(range(256)) * 40
    fast = FastZlibCompressor()
    assert fast.decompress(zlib.compress(data, 9)) == data  # stores written before
    assert zlib.decompress(fast.compress(data)) == data
    assert len(fast.compress(data)) < len(data) // 2


@pytest.mark.parametrize(("url", "in_memory"), [
    ("sqlite:///:memory:", True),
    ("sqlite:///file::memory:", True),
    ("sqlite:///var/ledger.db", False),
    ("postgresql://postgres@localhost/valedger", False),
])
def test_in_memory_stores_are_known_as_eventsourcing_knows_them(url: str,
                                                                 in_memory: bool) -> None:
    """An in-memory store is one process's own: no audit follower process can open it."""
    assert StoreConfig(url).is_in_memory is in_memory

"""Settings come from TOML, then VALEDGER_* variables, then flags; bad values are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.settings import Settings, SettingsError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "valedger.toml"
    path.write_text(text)
    return path


def test_defaults_without_file_or_variables() -> None:
    assert load_settings(environ={}) == Settings()


def test_file_values_are_read_and_typed(tmp_path: Path) -> None:
    path = write(tmp_path, """
[store]
url = "postgresql://valedger@db:5432/ledger"
[server]
listen = "0.0.0.0:7000"
insecure = false
max_message_bytes = 1048576
[audit]
checkpoint_every_seconds = 30
""")
    settings = load_settings(path, environ={})
    assert settings.store.url == "postgresql://valedger@db:5432/ledger"
    assert settings.server.listen == "0.0.0.0:7000"
    assert settings.server.max_message_bytes == 1048576
    assert settings.audit.checkpoint_every_seconds == 30.0


def test_variables_override_file_and_aliases_work(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nlisten = "0.0.0.0:7000"\n')
    settings = load_settings(path, environ={
        "VALEDGER_SERVER_LISTEN": "127.0.0.1:9000",
        "VALEDGER_DB": "sqlite:///x.db",
        "VALEDGER_SERVER_INSECURE": "yes",
    })
    assert settings.server.listen == "127.0.0.1:9000"
    assert settings.store.url == "sqlite:///x.db"
    assert settings.server.insecure is True


def test_config_path_from_variable(tmp_path: Path) -> None:
    path = write(tmp_path, '[verifier]\nbackend = "cpu"\n')
    assert load_settings(environ={"VALEDGER_CONFIG": str(path)}).verifier.backend == "cpu"


def test_flags_override_everything() -> None:
    settings = load_settings(environ={"VALEDGER_SERVER_LISTEN": "a:1"})
    assert settings.overridden("server", listen="b:2", insecure=None).server.listen == "b:2"


def test_cipher_key_file_is_read(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("c2VjcmV0\n")
    settings = load_settings(environ={"VALEDGER_STORE_CIPHER_KEY_FILE": str(key_file)})
    assert settings.store.resolved_cipher_key() == "c2VjcmV0"


@pytest.mark.parametrize("text, message", [
    ("[nope]\nx = 1\n", "unknown section [nope]"),
    ("[server]\nlisen = 'a'\n", "unknown setting [server] lisen"),
    ("[server]\nmax_message_bytes = 'lots'\n", "[server] max_message_bytes: expected an integer"),
    ("[server\n", "not valid TOML"),
    ("listen = 'x'\n", "must be a [section]"),
])
def test_bad_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("[", r"\[")):
        load_settings(write(tmp_path, text), environ={})


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="config file not found"):
        load_settings(tmp_path / "absent.toml", environ={})


def test_example_config_in_ops_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "ops" / "valedger.toml.example"
    settings = load_settings(example, environ={})
    assert settings.store.url.startswith("postgresql://")
    assert settings.verifier.max_shares == 1_000_000


def test_verifier_settings_reach_the_verifier_variables() -> None:
    from verifier.config import VerifierConfig

    settings = load_settings(environ={"VALEDGER_VERIFIER_MAX_SHARES": "123",
                                      "VALEDGER_VERIFIER_BACKEND": "cpu"})
    environ: dict[str, str] = {}
    settings.verifier.export(environ)
    assert environ == {"VALEDGER_VERIFIER_BACKEND": "cpu", "VALEDGER_VERIFIER_MAX_SHARES": "123"}
    import os

    saved = dict(os.environ)
    try:
        os.environ.update(environ)
        config = VerifierConfig.from_environment()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert (config.backend, config.max_shares) == ("cpu", 123)


def test_one_variable_per_setting_and_old_names_still_read() -> None:
    from services.settings import deprecations

    env = {"VALEDGER_STORE_URL": "sqlite:///old.db", "VALEDGER_AUDIT_KEY": "/k/audit.key",
           "VALEDGER_STORE_CIPHER_KEY_FILE": "/k/cipher.key",
           "VALEDGER_AUDIT_PUBLIC_KEY": "name+abcd+key"}  # a command's variable, not a setting
    settings = load_settings(None, env)
    assert settings.store.url == "sqlite:///old.db"
    assert settings.audit.signing_key_file == "/k/audit.key"
    assert settings.store.cipher_key_file == "/k/cipher.key"
    assert deprecations(env) == [
        "VALEDGER_STORE_URL is deprecated: use VALEDGER_DB",
        "VALEDGER_STORE_CIPHER_KEY_FILE is deprecated: use VALEDGER_CIPHER_KEY_FILE",
        "VALEDGER_AUDIT_KEY is deprecated: use VALEDGER_AUDIT_SIGNING_KEY_FILE"]
    current = load_settings(None, {**env, "VALEDGER_DB": "sqlite:///new.db",
                                   "VALEDGER_CIPHER_KEY_FILE": "/k/new.key"})
    assert current.store.url == "sqlite:///new.db"  # the current name wins
    assert current.store.cipher_key_file == "/k/new.key"


def test_toml_values_of_the_wrong_type_name_the_key(tmp_path: Path) -> None:
    config = tmp_path / "valedger.toml"
    for text, message in (("[server]\nlisten = 50051\n", "expected a string, got int 50051"),
                          ("[server]\nmax_message_bytes = true\n", "expected an integer")):
        config.write_text(text)
        with pytest.raises(SettingsError, match=message):
            load_settings(config, {})
    config.write_text("[server]\ngrace_seconds = 1\n")
    assert load_settings(config, {}).server.grace_seconds == 1.0

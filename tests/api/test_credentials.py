"""Credentials: where they come from, what is an error, and that they never print."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from liverecd.api.credentials import (
    Credentials,
    Secret,
    load_credentials,
    load_notify_auth_key,
)
from liverecd.errors import CredentialsError

AK = "LTAI5tFAKEexampleKeyId01"
SECRET = "FakeSecretForTestVectorsOnly0123"
TOKEN = "FakeStsTokenValue+/=0123456789"
ENV = {"ALIBABA_CLOUD_ACCESS_KEY_ID": AK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET}


def test_environment_pair_is_loaded() -> None:
    creds = load_credentials(ENV)
    assert creds.access_key_id == AK
    assert creds.secret.reveal() == SECRET
    assert creds.security_token is None
    assert not creds.is_sts


def test_environment_sts_token_is_loaded() -> None:
    creds = load_credentials({**ENV, "ALIBABA_CLOUD_SECURITY_TOKEN": TOKEN})
    assert creds.security_token is not None
    assert creds.security_token.reveal() == TOKEN
    assert creds.is_sts


def test_nothing_set_names_both_variables() -> None:
    with pytest.raises(CredentialsError) as err:
        load_credentials({})
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in str(err.value)
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in str(err.value)


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_ACCESS_KEY_ID"),
    ],
)
def test_half_a_pair_names_the_missing_variable(present: str, missing: str) -> None:
    with pytest.raises(CredentialsError) as err:
        load_credentials({present: ENV[present]})
    assert str(err.value).startswith(missing)
    assert SECRET not in str(err.value)


def test_whitespace_inside_the_secret_is_an_error_naming_the_variable() -> None:
    with pytest.raises(CredentialsError) as err:
        load_credentials({**ENV, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "Fake Secret"})
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in str(err.value)
    assert "Fake Secret" not in str(err.value)


def _write(directory: Path, **files: str) -> None:
    for name, content in files.items():
        (directory / name).write_text(content, encoding="utf-8")


def test_credentials_directory_wins_over_environment(tmp_path: Path) -> None:
    _write(tmp_path, access_key_id="AKFROMFILE\n", access_key_secret="SecretFromFile\n")
    creds = load_credentials({**ENV, "CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert creds.access_key_id == "AKFROMFILE"
    assert creds.secret.reveal() == "SecretFromFile"  # trailing newline stripped


def test_credentials_directory_reads_the_sts_token(tmp_path: Path) -> None:
    _write(tmp_path, access_key_id=AK, access_key_secret=SECRET, security_token=TOKEN + "\n")
    creds = load_credentials({"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert creds.security_token is not None
    assert creds.security_token.reveal() == TOKEN


def test_credentials_directory_missing_file_is_named(tmp_path: Path) -> None:
    _write(tmp_path, access_key_id=AK)
    with pytest.raises(CredentialsError) as err:
        load_credentials({**ENV, "CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert "access_key_secret" in str(err.value)


def test_credentials_file_with_inner_newline_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, access_key_id=AK, access_key_secret=SECRET + "\nmore\n")
    with pytest.raises(CredentialsError) as err:
        load_credentials({"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert "access_key_secret" in str(err.value)
    assert SECRET not in str(err.value)


def test_secrets_never_show_in_repr_or_str() -> None:
    creds = Credentials(AK, Secret(SECRET), Secret(TOKEN))
    for text in (repr(creds), str(creds), f"{creds}", repr(creds.secret), str(creds.secret)):
        assert SECRET not in text
        assert TOKEN not in text
    assert AK in repr(creds)


def test_secrets_cannot_be_pickled_out_of_the_wrapper() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(Secret(SECRET))


def test_notify_auth_key_from_file_then_environment(tmp_path: Path) -> None:
    assert load_notify_auth_key({}) is None
    assert load_notify_auth_key({"LIVERECD_NOTIFY_AUTH_KEY": "envkey123"}) == "envkey123"
    _write(tmp_path, notify_auth_key="filekey456\n")
    env = {"LIVERECD_NOTIFY_AUTH_KEY": "envkey123", "CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert load_notify_auth_key(env) == "filekey456"

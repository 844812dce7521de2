"""Where the AccessKey comes from (DESIGN.md §3), and a wrapper that keeps it out of logs.

Files in `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`) win over the official SDKs'
environment variables. Every failure names the file or variable, never its content.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from liverecd.config import (
    ENV_KEY_ID,
    ENV_NOTIFY_KEY,
    ENV_SECRET,
    ENV_TOKEN,
    FILE_KEY_ID,
    FILE_NOTIFY_KEY,
    FILE_SECRET,
    FILE_TOKEN,
)
from liverecd.errors import CredentialsError


class Secret:
    """A string that prints as `'***'`; only `reveal()` gives the value, at the signing site."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself; call only where it is used (signing), never to log it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would be a way out of the wrapper; nothing in liverecd needs it.
        raise TypeError("Secret cannot be pickled")


@dataclass(frozen=True, slots=True)
class Credentials:
    """An AccessKey pair and optional STS token (with its expiry, when the source says). Its repr
    shows the key id only."""

    access_key_id: str
    secret: Secret
    security_token: Secret | None = None
    expiration: datetime | None = None

    @property
    def is_sts(self) -> bool:
        """True for temporary (STS) credentials."""
        return self.security_token is not None


def _clean(value: str, where: str) -> str:
    """Strip one trailing newline (files, `echo >`); refuse inner whitespace, the classic
    cause of SignatureDoesNotMatch."""
    value = value.removesuffix("\n").removesuffix("\r")
    if not value:
        raise CredentialsError(f"{where} is empty")
    if any(ch.isspace() for ch in value):
        raise CredentialsError(f"{where} contains whitespace (check for a stray space or newline)")
    return value


def _read_file(directory: Path, name: str) -> str | None:
    path = directory / name
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(
            f"cannot read credential file {path}: {type(exc).__name__}"
        ) from None


def _from_directory(directory: Path, prefix: str = "") -> Credentials:
    names = [prefix + n for n in (FILE_KEY_ID, FILE_SECRET, FILE_TOKEN)]
    key_id, secret, token = (_read_file(directory, n) for n in names)
    if key_id is None or secret is None:
        missing = names[0] if key_id is None else names[1]
        raise CredentialsError(
            f"credential file {directory / missing} is missing "
            f"($CREDENTIALS_DIRECTORY is set: {names[0]} and {names[1]} must both be there)"
        )
    return Credentials(
        _clean(key_id, f"credential file {directory / names[0]}"),
        Secret(_clean(secret, f"credential file {directory / names[1]}")),
        None if token is None else Secret(_clean(token, f"credential file {directory / names[2]}")),
    )


def _from_environment(environ: Mapping[str, str]) -> Credentials:
    key_id = environ.get(ENV_KEY_ID)
    secret = environ.get(ENV_SECRET)
    if key_id is None and secret is None:
        raise CredentialsError(
            f"no credentials: set {ENV_KEY_ID} and {ENV_SECRET} (optionally {ENV_TOKEN}), "
            f"or provide files {FILE_KEY_ID}/{FILE_SECRET} in $CREDENTIALS_DIRECTORY"
        )
    if key_id is None or secret is None:
        missing = ENV_KEY_ID if key_id is None else ENV_SECRET
        present = ENV_SECRET if key_id is None else ENV_KEY_ID
        raise CredentialsError(f"{missing} is not set although {present} is (half a key pair)")
    token = environ.get(ENV_TOKEN)
    return Credentials(
        _clean(key_id, ENV_KEY_ID),
        Secret(_clean(secret, ENV_SECRET)),
        None if token is None else Secret(_clean(token, ENV_TOKEN)),
    )


def load_credentials(environ: Mapping[str, str] | None = None, *, prefix: str = "") -> Credentials:
    """The AccessKey from `$CREDENTIALS_DIRECTORY` files (named `prefix` + `access_key_id`, ...)
    if that is set, else the environment.

    Raises CredentialsError naming the missing or malformed file or variable.
    """
    env = os.environ if environ is None else environ
    directory = env.get("CREDENTIALS_DIRECTORY")
    if directory:
        return _from_directory(Path(directory), prefix)
    return _from_environment(env)


def load_record_auth_key(environ: Mapping[str, str] | None = None) -> str | None:
    """The recording-callback key (`record_auth_key` file, else `LIVERECD_RECORD_AUTH_KEY`), or
    None when neither is set (DESIGN §8)."""
    env = os.environ if environ is None else environ
    directory = env.get("CREDENTIALS_DIRECTORY")
    if directory:
        value = _read_file(Path(directory), "record_auth_key")
        if value is not None:
            return _clean(value, f"credential file {Path(directory) / 'record_auth_key'}")
    value = env.get("LIVERECD_RECORD_AUTH_KEY")
    return None if value is None else _clean(value, "LIVERECD_RECORD_AUTH_KEY")


def load_notify_auth_key(environ: Mapping[str, str] | None = None) -> str | None:
    """The ingest-callback key (`notify_auth_key` file, else `LIVERECD_NOTIFY_AUTH_KEY`), or
    None when neither is set."""
    env = os.environ if environ is None else environ
    directory = env.get("CREDENTIALS_DIRECTORY")
    if directory:
        value = _read_file(Path(directory), FILE_NOTIFY_KEY)
        if value is not None:
            return _clean(value, f"credential file {Path(directory) / FILE_NOTIFY_KEY}")
    value = env.get(ENV_NOTIFY_KEY)
    return None if value is None else _clean(value, ENV_NOTIFY_KEY)

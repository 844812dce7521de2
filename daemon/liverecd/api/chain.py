"""Where an account's credentials come from: the official default chain (DESIGN.md §10,
live-api.md §4.2), with the side effects of `alibabacloud-credentials` kept out of the daemon.

The library is imported lazily (a daemon fed by `$CREDENTIALS_DIRECTORY` never loads it) and
tamed once on import (`_library`):
- it snapshots the environment at import (`utils.auth_util`): every provider here is built
  with explicit arguments read from the mapping we are given, so the snapshot is never used;
- it adds a `StreamHandler` to the `credentials` logger at import, which would print
  unstructured lines to stderr: replaced by a handler that forwards warnings as a
  `credentials_library` event (secrets are scrubbed by the log pipeline);
- the ECS RAM role provider starts an APScheduler thread and a refresh thread pool unless
  `async_update_enabled=False`: we pass it, and so do the profile providers' own ECS entries.
  Refreshing is ours (`api.credsource`), on the event loop, on our clock.

The credentials URI is fetched here, not by the library's provider: that one copies the
response body (the secret) into its error messages and decides staleness on the real clock.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import structlog
from yarl import URL

from liverecd.api.credentials import Credentials, Secret, _from_environment
from liverecd.clock import Clock, SystemClock
from liverecd.config import ENV_KEY_ID, ENV_SECRET
from liverecd.errors import CredentialsError

log = structlog.get_logger(__name__)

ENV_URI = "ALIBABA_CLOUD_CREDENTIALS_URI"
ENV_PROFILE = "ALIBABA_CLOUD_PROFILE"
ENV_FILE = "ALIBABA_CLOUD_CREDENTIALS_FILE"
_OIDC = (
    "ALIBABA_CLOUD_ROLE_ARN",
    "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
    "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
)
URI_TIMEOUT = 10.0
_MESSAGE_LIMIT = 300


class SourceAbsent(CredentialsError):
    """The source is not configured here (no variables, no file, not on ECS): the chain moves
    on, and a chain of absent sources means no credentials are configured at all."""


class SourceMisconfigured(CredentialsError):
    """The source is configured but wrong in a way no retry can fix (half a key pair, a file
    missing from $CREDENTIALS_DIRECTORY): start-up stops with the message."""


class Provider(Protocol):
    """One source of credentials; `kind` names it in logs (never a value)."""

    @property
    def kind(self) -> str: ...

    async def fetch(self) -> Credentials:
        """Fresh credentials; CredentialsError naming the source when there are none."""
        ...


class FunctionProvider:
    """Credentials from a plain function (files, environment variables). Nothing on the host
    changes while we retry: what it cannot read (SourceAbsent aside) is SourceMisconfigured."""

    def __init__(self, kind: str, read: Callable[[], Credentials]) -> None:
        self.kind = kind
        self._read = read

    async def fetch(self) -> Credentials:
        """Whatever the function reads now."""
        try:
            return self._read()
        except (SourceAbsent, SourceMisconfigured):
            raise
        except CredentialsError as exc:
            raise SourceMisconfigured(str(exc)) from None


class UriProvider:
    """`ALIBABA_CLOUD_CREDENTIALS_URI`: GET answering `{"Code": "Success", "AccessKeyId",
    "AccessKeySecret", "SecurityToken", "Expiration"}` (the library's contract)."""

    kind = "credentials_uri"

    def __init__(self, uri: str, *, clock: Clock | None = None, timeout: float = URI_TIMEOUT):
        self._uri = uri
        # Shown without query or user info: either may carry a token.
        self._shown = str(URL(uri).with_query(None).with_user(None).with_fragment(None))
        self._clock = clock or SystemClock()
        self._timeout = timeout

    async def fetch(self) -> Credentials:
        """One GET within `timeout` on the clock; CredentialsError naming the URI (never the
        body) on any failure."""
        where = f"credentials URI {self._shown}"
        try:
            # The whole GET on our clock (a FakeClock daemon times a hung URI out too); none of
            # aiohttp's own, real-time deadlines.
            async with (
                self._clock.timeout(self._timeout),
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session,
                session.get(self._uri, allow_redirects=False) as resp,
            ):
                status = resp.status
                body = await resp.json(content_type=None) if status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise CredentialsError(f"{where} unreachable: {type(exc).__name__}") from None
        if status != 200:
            raise CredentialsError(f"{where} answered HTTP {status}")
        if not isinstance(body, dict) or body.get("Code") != "Success":
            code = body.get("Code") if isinstance(body, dict) else None
            raise CredentialsError(f"{where} answered Code {code!r}, expected 'Success'")
        fields = ("AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration")
        if absent := [f for f in fields if not isinstance(body.get(f), str)]:
            raise CredentialsError(f"{where} answer lacks {', '.join(absent)}")
        try:
            expires = datetime.strptime(body["Expiration"], "%Y-%m-%dT%H:%M:%S%z")
        except ValueError:
            raise CredentialsError(f"{where}: Expiration is not yyyy-mm-ddThh:mm:ssZ") from None
        return Credentials(
            body["AccessKeyId"], Secret(body["AccessKeySecret"]), Secret(body["SecurityToken"]),
            expires,
        )  # fmt: skip


def _scrub(message: str) -> str:
    """A library error message, cut before any echoed answer (it may hold a secret)."""
    for marker in (" result:", "response:", "body:"):
        message = message.split(marker, 1)[0]
    return message.strip()[:_MESSAGE_LIMIT]


class LibraryProvider:
    """A provider of `alibabacloud-credentials`, built on first use, asked asynchronously."""

    def __init__(
        self,
        kind: str,
        build: Callable[[Any], Any],
        *,
        needs_file: str | None = None,
        absent_on_failure: bool = False,
    ) -> None:
        self.kind = kind
        self._build = build
        self._needs_file = needs_file
        self._absent_on_failure = absent_on_failure  # ECS: failing means "not on ECS"
        self._provider: Any = None

    async def fetch(self) -> Credentials:
        """The library's current credentials; CredentialsError naming this source."""
        # A stat of a local file: not worth a thread.
        if self._needs_file is not None and not os.path.isfile(self._needs_file):  # noqa: ASYNC240, PTH113
            raise SourceAbsent(f"{self.kind}: no file {self._needs_file}")
        try:
            if self._provider is None:
                self._provider = self._build(_library())
            got = await self._provider.get_credentials_async()
        except Exception as exc:  # noqa: BLE001 - it raises ValueError, Tea and HTTP errors alike
            error = SourceAbsent if self._absent_on_failure else CredentialsError
            raise error(f"{self.kind}: {_scrub(str(exc))}") from None
        token = got.get_security_token()
        expires = getattr(got, "get_expiration", lambda: None)()
        return Credentials(
            got.get_access_key_id(), Secret(got.get_access_key_secret()),
            Secret(token) if token else None,
            datetime.fromtimestamp(expires, UTC) if isinstance(expires, int | float) else None,
        )  # fmt: skip


class ChainProvider:
    """The first source that answers, then that one only (as the library's default chain)."""

    def __init__(self, providers: list[Provider]) -> None:
        self._providers = providers
        self._chosen: Provider | None = None

    @property
    def kind(self) -> str:
        """The source in use (`default_chain` until one answered)."""
        return self._chosen.kind if self._chosen is not None else "default_chain"

    async def fetch(self) -> Credentials:
        """From the chosen source, or the first of the chain that answers."""
        if self._chosen is not None:
            return await self._chosen.fetch()
        errors, absent = [], True
        for provider in self._providers:
            try:
                creds = await provider.fetch()
            except SourceMisconfigured:
                raise
            except CredentialsError as exc:
                errors.append(str(exc))  # every source's errors name it
                absent = absent and isinstance(exc, SourceAbsent)
            else:
                self._chosen = provider
                return creds
        error = SourceAbsent if absent else CredentialsError
        raise error("no credentials from any source: " + "; ".join(errors))


class _Forward(logging.Handler):
    """The library's warnings as structured events instead of bare stderr lines."""

    def emit(self, record: logging.LogRecord) -> None:
        log.warning("credentials_library", message=_scrub(record.getMessage()))


@functools.cache
def _library() -> Any:
    """Import `alibabacloud_credentials.provider` once and take its side effects back."""
    import alibabacloud_credentials.provider as library
    from alibabacloud_credentials.provider import cli_profile, profile

    logger = logging.getLogger("credentials")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.addHandler(_Forward(logging.WARNING))
    logger.propagate = False
    quiet_ecs = functools.partial(library.EcsRamRoleCredentialsProvider, async_update_enabled=False)
    for module in (profile, cli_profile):
        module.EcsRamRoleCredentialsProvider = quiet_ecs
    return library


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or os.path.expanduser("~"))  # noqa: PTH111 - HOME may be unset


def _true(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "false").lower() == "true"


def _credentials_file(env: Mapping[str, str], profile: str | None) -> LibraryProvider:
    path = env.get(ENV_FILE) or str(_home(env) / ".alibabacloud" / "credentials.ini")
    name = profile or env.get(ENV_PROFILE) or "default"
    return LibraryProvider(
        f"credentials_file:{name}",
        lambda lib: lib.ProfileCredentialsProvider(profile_file=path, profile_name=name),
        needs_file=path,
    )


def _environment(env: Mapping[str, str]) -> Credentials:
    if ENV_KEY_ID not in env and ENV_SECRET not in env:
        raise SourceAbsent(f"environment: {ENV_KEY_ID} and {ENV_SECRET} are not set")
    return _from_environment(env)


def default_chain(
    environ: Mapping[str, str], *, profile: str | None = None, clock: Clock | None = None
) -> ChainProvider:
    """The official order (live-api.md §4.2) read from `environ`. An account with its own
    `profile` uses that profile of the credentials file alone. `clock` times the URI's GET."""
    env = dict(environ)
    if profile is not None:
        return ChainProvider([_credentials_file(env, profile)])
    chain: list[Provider] = [FunctionProvider("environment", lambda: _environment(env))]
    if all(env.get(name) for name in _OIDC):
        role, provider_arn, token_file = (env[name] for name in _OIDC)
        chain.append(LibraryProvider("oidc_role", lambda lib: lib.OIDCRoleArnCredentialsProvider(
            role_arn=role, oidc_provider_arn=provider_arn, oidc_token_file_path=token_file,
            role_session_name=env.get("ALIBABA_CLOUD_ROLE_SESSION_NAME"),
            sts_region_id=env.get("ALIBABA_CLOUD_STS_REGION"),
            enable_vpc=_true(env, "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"),
        )))  # fmt: skip
    if not _true(env, "ALIBABA_CLOUD_CLI_PROFILE_DISABLED"):
        cli_file = str(_home(env) / ".aliyun" / "config.json")
        chain.append(LibraryProvider("cli_profile", lambda lib: lib.CLIProfileCredentialsProvider(
            profile_name=env.get(ENV_PROFILE), profile_file=cli_file,
        ), needs_file=cli_file))  # fmt: skip
    chain.append(_credentials_file(env, None))
    if not _true(env, "ALIBABA_CLOUD_ECS_METADATA_DISABLED"):
        chain.append(LibraryProvider("ecs_ram_role", lambda lib: lib.EcsRamRoleCredentialsProvider(
            role_name=env.get("ALIBABA_CLOUD_ECS_METADATA"),
            disable_imds_v1=_true(env, "ALIBABA_CLOUD_IMDSV1_DISABLED"),
            async_update_enabled=False,
        ), absent_on_failure=not env.get("ALIBABA_CLOUD_ECS_METADATA")))  # fmt: skip
    if env.get(ENV_URI):
        chain.append(UriProvider(env[ENV_URI], clock=clock))
    return ChainProvider(chain)

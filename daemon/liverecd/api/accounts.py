"""Accounts (DESIGN.md §10): per account, a credential source, a client and a limiter.

Each stream is sent through its account's client and paced by its account's limiter, so two
accounts' bursts run side by side and neither is throttled by the other's traffic. The account
of a stream comes from the schedule in force (`streams`, given at construction), looked up per
command.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

import aiohttp
import structlog

from liverecd.api.chain import (
    FunctionProvider,
    Provider,
    SourceAbsent,
    SourceMisconfigured,
    default_chain,
)
from liverecd.api.client import LiveClient
from liverecd.api.credentials import Credentials, load_credentials
from liverecd.api.credsource import RETRY_DELAYS, CredentialSource
from liverecd.api.online import OnlineListResult
from liverecd.api.ratelimit import RateLimiter, limiter_for
from liverecd.api.result import ApiResult
from liverecd.clock import Clock
from liverecd.config import DEFAULT_ACCOUNT, AccountConfig, Config
from liverecd.errors import CredentialsError
from liverecd.streams import Command, StreamKey

log = structlog.get_logger(__name__)


def provider_for(
    account: AccountConfig, environ: Mapping[str, str], clock: Clock | None = None
) -> Provider:
    """Where `account`'s credentials come from: `$CREDENTIALS_DIRECTORY` files when that is
    set (named with the account's `credentials_prefix`), else the official default chain (an
    account's own `profile` of the credentials file; `clock` times a credentials URI)."""
    env = dict(environ)
    directory = env.get("CREDENTIALS_DIRECTORY")
    prefix = account.credentials_prefix
    if prefix is not None and not directory:
        raise CredentialsError(
            f"account {account.name!r}: credentials_prefix needs $CREDENTIALS_DIRECTORY "
            "(systemd LoadCredential=)"
        )
    if directory and account.profile is None:
        return FunctionProvider(
            "credentials_directory", lambda: load_credentials(env, prefix=prefix or "")
        )
    return default_chain(env, profile=account.profile, clock=clock)


async def start_sources(
    config: Config,
    environ: Mapping[str, str],
    clock: Clock,
    on_new: Callable[[Credentials], None] | None = None,
) -> dict[str, CredentialSource]:
    """Every account's source, fetched once. A source that is configured but failing (an
    unreachable credentials URI, a missing profile) is retried with error events until it
    answers: the daemon is not ready without credentials. SourceAbsent (nothing configured at
    all) is raised at once."""
    sources = {}
    for name in config.account_names:
        provider = provider_for(config.account(name), environ, clock)
        source = CredentialSource(provider, clock, account=name, on_new=on_new)
        await _start(source, clock)
        sources[name] = source
    return sources


Creds = Credentials | Mapping[str, CredentialSource] | None


async def sources_for(
    config: Config, credentials: Creds, clock: Clock, on_new: Callable[[Credentials], None]
) -> dict[str, CredentialSource]:
    """Each account's source: given (tests, embedding; a bare Credentials is the default
    account's), or from `$CREDENTIALS_DIRECTORY` and the default chain (None)."""
    if isinstance(credentials, Credentials):
        return {DEFAULT_ACCOUNT: CredentialSource.fixed(credentials, clock)}
    if credentials is not None:
        return dict(credentials)
    return await start_sources(config, os.environ, clock, on_new=on_new)


async def _start(source: CredentialSource, clock: Clock) -> None:
    attempt = 0
    while True:
        try:
            await source.start()
        except (SourceAbsent, SourceMisconfigured):
            raise  # nothing to wait for: start-up stops with the message
        except CredentialsError as exc:
            error = str(exc)
        else:
            return
        attempt += 1
        log.error("credentials_unavailable", account=source.account, source=source.kind,
                  error=error, attempt=attempt)  # fmt: skip
        await clock.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1])


class AccountPacers:
    """The limiters as the dispatcher sees them: the default account's by default, and each
    stream's own through its account (`group_of`, `for_group`)."""

    def __init__(self, limiters: Mapping[str, RateLimiter], account_of: Callable[[StreamKey], str]):
        self._limiters = limiters
        self._default = limiters[DEFAULT_ACCOUNT]
        self._account_of = account_of

    @property
    def limiters(self) -> Mapping[str, RateLimiter]:
        """Every account's limiter, by account name."""
        return self._limiters

    def group_of(self, stream: StreamKey) -> str:
        """`stream`'s account."""
        return self._account_of(stream)

    def for_group(self, group: str) -> RateLimiter:
        """The limiter of account `group` (the default account's for an unknown one)."""
        return self._limiters.get(group, self._default)

    @property
    def interval(self) -> float:
        """The default account's send interval (the release plan's spacing)."""
        return self._default.interval

    def next_slot(self) -> float:
        """The earliest slot of any account."""
        return min(limiter.next_slot() for limiter in self._limiters.values())

    def take(self) -> None:
        """Unused: the dispatcher takes from `for_group(group_of(stream))`."""
        self._default.take()

    def on_throttled(self, retry_after: float | None = None) -> None:
        """Unused: the dispatcher reports to `for_group(group_of(stream))`."""
        self._default.on_throttled(retry_after)

    def on_success(self) -> None:
        """Unused: the dispatcher reports to `for_group(group_of(stream))`."""
        self._default.on_success()


class Routed(Protocol):
    """A schedule's stream as routing sees it (schedule.model.Stream): which account sends it."""

    @property
    def key(self) -> StreamKey: ...
    @property
    def account(self) -> str: ...


class Accounts:
    """A client and a limiter per account, over one session; `send` routes by stream."""

    def __init__(
        self,
        config: Config,
        sources: Mapping[str, CredentialSource],
        clock: Clock,
        *,
        session: aiohttp.ClientSession | None = None,
        streams: Callable[[], tuple[Routed, ...]] = tuple,
    ) -> None:
        self.sources = dict(sources)
        self.clients: dict[str, LiveClient] = {}
        self.limiters: dict[str, RateLimiter] = {}
        for name in config.account_names:
            api = config.account(name).api
            source = self.sources[name]
            self.clients[name] = LiveClient(api, source, clock=clock, session=session)
            creds = source.current()
            # Static keys: one limiter per AccessKeyId in the process (the server counts per
            # key); STS keys change at every refresh, so their account names the limiter.
            key = f"account:{name}" if creds.is_sts else creds.access_key_id
            self.limiters[name] = limiter_for(key, api.qps, clock)
        self._streams: tuple[Routed, ...] | None = None
        self._routes: dict[StreamKey, str] = {}
        self._domains: dict[str, str] = {}
        self._current_streams = streams  # the schedule in force: each stream's account
        self.pacer = AccountPacers(self.limiters, self.account_of)

    @property
    def default_client(self) -> LiveClient:
        """The `api` block's client."""
        return self.clients[DEFAULT_ACCOUNT]

    def account_of(self, stream: StreamKey) -> str:
        """`stream`'s account (the default for a stream no schedule names)."""
        self._refresh_routes()
        return self._routes.get(stream, DEFAULT_ACCOUNT)

    def _refresh_routes(self) -> None:
        streams = self._current_streams()
        if streams is not self._streams:  # the same tuple until the next schedule load
            self._streams = streams
            self._routes = {s.key: s.account for s in streams}
            self._domains = {}
            for s in streams:  # a domain listed under two accounts: the first one lists it
                self._domains.setdefault(s.key.domain, s.account)

    async def describe_live_streams_online_list(
        self,
        domain: str,
        *,
        app: str | None = None,
        page_num: int = 1,
        page_size: int = 3000,
        stream: str | None = None,
    ) -> OnlineListResult:
        """The online list of `domain`, asked with the account whose streams use it."""
        self._refresh_routes()
        client = self.clients.get(self._domains.get(domain, DEFAULT_ACCOUNT), self.default_client)
        return await client.describe_live_streams_online_list(
            domain, app=app, page_num=page_num, page_size=page_size, stream=stream
        )

    async def send(self, command: Command, stream: StreamKey) -> ApiResult:
        """One RealTimeRecordCommand attempt through `stream`'s account."""
        client = self.clients.get(self.account_of(stream), self.default_client)
        return await client.real_time_record_command(command, stream)

    def expiry_seconds(self) -> dict[str, float]:
        """Seconds until each account's credentials expire (+inf: they do not)."""
        out = {}
        for name, source in self.sources.items():
            left = source.expiry_seconds()
            out[name] = math.inf if left is None else left
        return out

    def credential_states(self) -> dict[str, tuple[str, datetime | None]]:
        """Each account's credential source (its kind, never a value) and when its credentials
        expire (None: they do not)."""
        return {name: (source.kind, source.expires_at) for name, source in self.sources.items()}

    def apply(self, config: Config) -> None:
        """Take the limits that can change in place (qps, timeout) from a reloaded config."""
        for name in set(config.account_names) & set(self.clients):
            api = config.account(name).api
            self.limiters[name].set_qps(api.qps)
            self.clients[name].set_timeout(api)

    # -- as a service extension (ops.service): keeps the credentials fresh while it runs --

    async def start(self, daemon: object) -> None:
        """Nothing to prepare: the sources were fetched before the daemon was built."""

    async def run(self) -> None:
        """Refresh every account's credentials before they expire, until cancelled."""
        async with asyncio.TaskGroup() as tg:
            for name, source in self.sources.items():
                tg.create_task(source.run(), name=f"credentials-{name}")

    async def close(self) -> None:
        """The clients close with the `async with` block."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for client in self.clients.values():
            await client.close()

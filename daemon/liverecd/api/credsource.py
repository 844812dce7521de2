"""One account's credentials over time: fetched at start, refreshed before they expire, and
refreshed at once when the server says `InvalidSecurityToken.Expired` (DESIGN.md §10).

A refresh is due after two thirds of a token's life (20 min before the end of an hour-long STS
token, 10 s before the end of a 30 s one), so a call never waits on a refresh that could have
been done earlier; the call only waits when the server itself says the token expired. Refreshes
are single-flight: the background timer and any number of expired answers share one fetch.
A failed refresh is an error-level event naming the source; the old credentials stay in use and
the refresh is retried with backoff (commands meanwhile retry on their own timers).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

import structlog

from liverecd.api.chain import Provider
from liverecd.api.credentials import Credentials
from liverecd.clock import Clock
from liverecd.errors import CredentialsError

log = structlog.get_logger(__name__)

REFRESH_AT = 2 / 3  # of a token's remaining life at fetch time
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)  # after a failed refresh; the last one repeats


class CredentialSource:
    """Current credentials of one account; `run()` keeps them fresh."""

    def __init__(
        self,
        provider: Provider,
        clock: Clock,
        *,
        account: str = "default",
        on_new: Callable[[Credentials], None] | None = None,
    ) -> None:
        self._provider = provider
        self._clock = clock
        self.account = account
        self._on_new = on_new
        self._creds: Credentials | None = None
        self._refresh_at = math.inf  # monotonic
        self._inflight: asyncio.Future[bool] | None = None
        self._failures = 0
        self._changed = asyncio.Event()
        self.refreshes = 0

    @classmethod
    def fixed(cls, creds: Credentials, clock: Clock, kind: str = "static") -> CredentialSource:
        """A source that always has `creds` (tests, `fire`, static keys already read)."""
        from liverecd.api.chain import FunctionProvider

        source = cls(FunctionProvider(kind, lambda: creds), clock)
        source._adopt(creds)
        return source

    @property
    def kind(self) -> str:
        """The source's kind (environment, credentials_uri, ecs_ram_role...), never a value."""
        return self._provider.kind

    def current(self) -> Credentials:
        """The credentials to sign with now; CredentialsError before the first fetch."""
        if self._creds is None:
            raise CredentialsError(f"account {self.account!r}: no credentials fetched yet")
        return self._creds

    @property
    def expires_at(self) -> datetime | None:
        """When the current credentials expire (None: they do not, or none were fetched)."""
        return self._creds.expiration if self._creds is not None else None

    def expiry_seconds(self) -> float | None:
        """Seconds until the current credentials expire (None: they do not)."""
        creds = self._creds
        if creds is None or creds.expiration is None:
            return None
        return (creds.expiration - self._clock.wall()).total_seconds()

    async def start(self) -> None:
        """The first fetch; CredentialsError naming the source(s) when there is nothing."""
        self._adopt(await self._provider.fetch())
        log.info("credentials_loaded", account=self.account, source=self.kind,
                 expires_in_s=_rounded(self.expiry_seconds()))  # fmt: skip

    async def refresh(self, reason: str, stale: Credentials | None = None) -> bool:
        """Fetch new credentials now (joining a fetch in flight). With `stale`, nothing is
        fetched when those were already replaced. True when fresh credentials are in place."""
        if stale is not None and self._creds is not stale:
            return True
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._fetch(reason))
        inflight = self._inflight
        try:
            return await asyncio.shield(inflight)
        finally:
            if inflight.done() and self._inflight is inflight:
                self._inflight = None

    async def _fetch(self, reason: str) -> bool:
        error: str | None = None
        try:
            creds: Credentials | None = await self._provider.fetch()
        except CredentialsError as exc:
            creds, error = None, str(exc)
        if creds is None:
            self._failures += 1
            log.error(
                "credentials_refresh_failed", account=self.account, source=self.kind,
                reason=reason, error=error, expires_in_s=_rounded(self.expiry_seconds()),
            )  # fmt: skip
            delay = RETRY_DELAYS[min(self._failures, len(RETRY_DELAYS)) - 1]
            self._refresh_at = self._clock.monotonic() + delay
            self._changed.set()
            return False
        self._failures = 0
        self._adopt(creds)
        self.refreshes += 1
        log.info("credentials_refreshed", account=self.account, source=self.kind, reason=reason,
                 expires_in_s=_rounded(self.expiry_seconds()))  # fmt: skip
        return True

    def _adopt(self, creds: Credentials) -> None:
        self._creds = creds
        if self._on_new is not None:
            self._on_new(creds)
        left = self.expiry_seconds()
        now = self._clock.monotonic()
        # At least a second apart: an answer already expired must not spin the refresh loop.
        self._refresh_at = math.inf if left is None else now + max(1.0, left * REFRESH_AT)
        self._changed.set()

    async def run(self) -> None:
        """Refresh whenever due, until cancelled (returns at once for credentials that never
        expire and have not failed)."""
        while True:
            self._changed.clear()
            wait = self._refresh_at - self._clock.monotonic()
            if math.isinf(wait):
                await self._changed.wait()
                continue
            if wait > 0:
                await _first(self._clock.sleep(wait), self._changed.wait())
                continue
            await self.refresh("scheduled")


async def _first(*aws: Coroutine[Any, Any, Any]) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)

"""Who is live now: DescribeLiveStreamsOnlineList for a whole domain (every page) or for one
exact stream, paced by a limiter of its own (live-api.md §6.1: 10,000 calls per minute per
account, a quota separate from RealTimeRecordCommand's 50/s)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from liverecd.api.online import OnlineListResult
from liverecd.api.outcome import is_throttle
from liverecd.api.ratelimit import RateLimiter
from liverecd.clock import Clock
from liverecd.streams import StreamKey

ONLINE_LIST_PER_MINUTE = 10_000
MAX_PAGE_SIZE = 3000
MAX_PAGES = 1000  # a guard against a nonsense TotalPage, far above any real account

Listing = dict[StreamKey, datetime | None]  # online streams and their PublishTimes


class OnlineLister(Protocol):
    """The one API call listed here (`api.client.LiveClient` implements it)."""

    async def describe_live_streams_online_list(
        self,
        domain: str,
        *,
        app: str | None = None,
        page_num: int = 1,
        page_size: int = 3000,
        stream: str | None = None,
    ) -> OnlineListResult: ...


class ListLimiter(Protocol):
    """Pacing for the online list (`api.ratelimit.RateLimiter` implements it)."""

    async def acquire(self) -> float: ...

    def on_throttled(self, retry_after: float | None = None) -> None: ...

    def on_success(self) -> None: ...


def online_list_limiter(clock: Clock) -> RateLimiter:
    """A limiter at the online list's own quota (10,000 calls per minute)."""
    return RateLimiter(ONLINE_LIST_PER_MINUTE / 60.0, clock)


class Lister:
    """Listings through one client and one limiter; counts the calls it sends."""

    def __init__(
        self, client: OnlineLister, limiter: ListLimiter, *, page_size: int = MAX_PAGE_SIZE
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        self._client = client
        self._limiter = limiter
        self._page_size = page_size
        self.calls = 0

    async def domain(self, domain: str) -> Listing | OnlineListResult:
        """Every online stream of `domain` (one call per page, following TotalPage), or the
        first page that failed."""
        found: Listing = {}
        page, total = 1, 1
        while page <= total:
            result = await self._call(domain, page_num=page)
            if not result.ok:
                return result
            for s in result.streams:
                # Keyed by the domain asked for: that is how schedules name the stream.
                found[StreamKey(domain, s.app, s.stream)] = s.publish_time
            total, page = min(result.total_page, MAX_PAGES), page + 1
        return found

    async def stream(self, key: StreamKey) -> Listing | OnlineListResult:
        """`key` alone (`QueryType=strict`): an empty listing when it is not live."""
        result = await self._call(key.domain, app=key.app, stream=key.stream)
        if not result.ok:
            return result
        listed = {StreamKey(key.domain, s.app, s.stream): s.publish_time for s in result.streams}
        return {key: listed[key]} if key in listed else {}

    async def _call(
        self, domain: str, *, page_num: int = 1, app: str | None = None, stream: str | None = None
    ) -> OnlineListResult:
        await self._limiter.acquire()
        self.calls += 1
        result = await self._client.describe_live_streams_online_list(
            domain, app=app, page_num=page_num, page_size=self._page_size, stream=stream
        )
        if result.ok:
            self._limiter.on_success()
        elif is_throttle(result):
            self._limiter.on_throttled(result.retry_after)
        return result

"""The online-list watch: keeps windows armed when streams drop and come back (issue 5).

Every `interval` it lists the streams live on each domain that has an open window (one
DescribeLiveStreamsOnlineList call per page, through the online list's own limiter, see
`engine.online.lister`), updates each stream's session (`engine.online.sessions`), and asks the
daemon through `on_online` to start every stream that is online inside its open window and not
armed in its current session: once per session. The daemon reports successful starts back
(`note_started`), which arms the stream. Ingest callbacks feed the same state (`publish`,
`publish_done`), so the two sources never ask twice for one session. With no open window there
are no calls at all.
"""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta

import structlog

from liverecd.api.online import OnlineListResult
from liverecd.clock import Clock
from liverecd.engine.online import sessions
from liverecd.engine.online.lister import MAX_PAGE_SIZE, Lister, Listing, ListLimiter, OnlineLister
from liverecd.engine.online.sessions import Event, OpenWindow, Requested, StartMark, Track
from liverecd.streams import StreamKey

log = structlog.get_logger(__name__)

WindowsProvider = Callable[[], Mapping[StreamKey, OpenWindow]]
OnOnline = Callable[[StreamKey, OpenWindow, datetime | None], Awaitable[None] | None]


class OnlineWatch:
    """Polls the online list for domains with open windows and asks for (re)starts.

    `windows()` returns the streams whose window is open now. `on_online(key, window,
    publish_time)` is called once per session of a stream that needs a start (sync or async; it
    should hand the start to the dispatcher and return). `on_event` hears every state change
    (drops, returns, re-arms) for metrics; each is also logged once at info.
    """

    def __init__(
        self, client: OnlineLister, limiter: ListLimiter, clock: Clock, *, interval: float,
        windows: WindowsProvider, on_online: OnOnline,
        on_event: Callable[[Event], None] | None = None, page_size: int = MAX_PAGE_SIZE,
        tolerance: timedelta = sessions.SKEW_TOLERANCE, stall_after: float | None = None,
    ) -> None:  # fmt: skip
        self._lister = Lister(client, limiter, page_size=page_size)
        self._clock = clock
        self._stall = stall_after
        self.set_interval(interval)
        self._windows = windows
        self._on_online = on_online
        self._on_event = on_event
        self._tolerance = tolerance
        self._tracks: dict[StreamKey, Track] = {}
        self._marks: dict[StreamKey, StartMark] = {}
        self._requested: dict[StreamKey, Requested] = {}
        self._touched: dict[StreamKey, float] = {}  # last callback sighting (monotonic)
        self._confirming: set[StreamKey] = set()
        self._failed: dict[str, OnlineListResult] = {}
        self._polling_since: float | None = None
        self._crashed = False  # the last poll raised (a bug, not an API answer)
        self.polls = 0  # polls that listed at least one domain
        self.failures = 0  # domain listings that failed

    # -- what the daemon reads ----------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """False when `watch.interval` is 0."""
        return self._interval > 0

    @property
    def calls(self) -> int:
        """Online-list calls sent so far."""
        return self._lister.calls

    @property
    def healthy(self) -> bool:
        """True while the daemon may rely on the watch to see streams come online: enabled,
        the last poll listed every domain, and no poll has hung for `stall_after`."""
        if not self.enabled or self._failed or self._crashed:
            return False
        since = self._polling_since
        return since is None or self._clock.monotonic() - since <= self._stall_after

    def is_online(self, key: StreamKey) -> bool | None:
        """Whether the last sighting found `key` online; None when unknown (not watched yet,
        not in an open window, or the watch is not healthy)."""
        track = self._tracks.get(key)
        if track is None or not self.healthy:
            return None
        return track.present

    # -- what the daemon tells ----------------------------------------------------------------

    def set_interval(self, interval: float) -> None:
        """Poll every `interval` seconds (0: off) from the next `run()` (WatchLink restarts it)."""
        self._interval = interval
        self._stall_after = self._stall if self._stall is not None else max(3 * interval, 30.0)

    def note_started(self, key: StreamKey, window_id: str, at: datetime) -> None:
        """A start (or restart) of `window_id` succeeded (TaskAlreadyStarted included); `at` is
        when the successful attempt was sent."""
        track = self._tracks.get(key)
        mark = sessions.mark_start(track, window_id, at, self._requested.get(key), self._tolerance)
        self._marks[key] = mark
        if track is not None:
            self._rearmed(key, track, mark)

    def note_start_failed(self, key: StreamKey) -> None:
        """The start asked for by `on_online` gave up (retries exhausted): ask again at the
        next poll if the stream is still online."""
        self._requested.pop(key, None)

    # -- polling ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Poll every `interval` (a fixed grid: an overrun skips ticks, never bursts) until
        cancelled. Returns at once when disabled."""
        if not self.enabled:
            log.info("online_watch_disabled")
            return
        next_at = self._clock.monotonic()
        while True:
            try:
                await self.poll_once()
            except Exception:
                # A bug must not take the daemon down with it: it falls back to its retries.
                log.exception("online_watch_poll_crashed")
                self._crashed = True
            now = self._clock.monotonic()
            next_at += self._interval
            if next_at < now:
                next_at += math.ceil((now - next_at) / self._interval) * self._interval
            await self._clock.sleep(next_at - now)

    async def poll_once(self) -> bool:
        """List every domain with an open window once, update sessions, ask for the starts
        due. False when any domain's listing failed."""
        windows = self._windows()
        self._forget(windows)
        domains = sorted({key.domain for key in windows})
        if not domains:
            self._failed, self._crashed = {}, False
            return True
        started = self._clock.monotonic()
        self._polling_since = started
        try:
            listings = await asyncio.gather(*(self._lister.domain(d) for d in domains))
        finally:
            self._polling_since = None
        self.polls += 1
        now, windows = self._clock.wall(), self._windows()
        failed: dict[str, OnlineListResult] = {}
        for domain, got in zip(domains, listings, strict=True):
            if isinstance(got, OnlineListResult):
                failed[domain] = got
            else:
                self._apply((k for k in windows if k.domain == domain), got, windows, now, started)
        self._report(domains, failed, started)
        self._crashed = False
        await self._ask(windows, self._due(windows))
        return not failed

    def _apply(
        self, keys: Iterable[StreamKey], listing: Listing,
        windows: Mapping[StreamKey, OpenWindow], now: datetime, asked_at: float,
    ) -> None:  # fmt: skip
        for key in keys:
            if self._touched.get(key, -math.inf) > asked_at:
                continue  # a callback saw this stream after the listing was asked for
            track = self._tracks.get(key)
            if key in listing:
                track, event = sessions.seen_online(key, track, listing[key], now)
            else:
                track, event = sessions.seen_offline(key, track, now)
            self._update(key, track, event, windows[key], "poll")

    def _report(self, domains: list[str], failed: dict[str, OnlineListResult], t0: float) -> None:
        for domain, got in failed.items():
            log.warning(
                "online_list_failed", domain=domain, code=got.code, http_status=got.http_status,
                transport_error=got.transport_error, request_id=got.request_id,
                transport_detail=got.detail,
            )  # fmt: skip
        for domain in self._failed.keys() - failed.keys():
            if domain in domains:
                log.info("online_list_recovered", domain=domain)
        self._failed = failed
        self.failures += len(failed)
        seconds = round(self._clock.monotonic() - t0, 3)
        log.debug("online_list_polled", domains=len(domains), failed=len(failed), seconds=seconds)

    # -- ingest callbacks ---------------------------------------------------------------------

    async def publish(self, key: StreamKey) -> None:
        """An authenticated `publish` callback (streaming-domain key). Confirmed with a strict
        listing of that one stream, as Alibaba advises: listed → a sighting like a poll's;
        not listed → ignored (the next poll decides); listing failed → trusted as a new
        session. A start is asked for at once when one is due."""
        if key not in self._windows() or key in self._confirming:
            return
        self._confirming.add(key)
        try:
            got = await self._lister.stream(key)
        finally:
            self._confirming.discard(key)
        windows, now = self._windows(), self._clock.wall()
        window = windows.get(key)
        if window is None:
            return
        track = self._tracks.get(key)
        event: Event | None
        if isinstance(got, OnlineListResult):
            track, event = sessions.published(key, track, now)
        elif key in got:
            track, event = sessions.seen_online(key, track, got[key], now)
        else:
            log.info("ingest_publish_not_listed", stream=str(key))
            return
        self._touched[key] = self._clock.monotonic()
        self._update(key, track, event, window, "callback")
        await self._ask(windows, self._due({key: window}))

    def publish_done(self, key: StreamKey) -> None:
        """An authenticated `publish_done` callback: the stream dropped now."""
        window = self._windows().get(key)
        if window is None:
            return
        track, event = sessions.seen_offline(key, self._tracks.get(key), self._clock.wall())
        self._touched[key] = self._clock.monotonic()
        self._update(key, track, event, window, "callback")

    # -- state --------------------------------------------------------------------------------

    def _due(self, windows: Mapping[StreamKey, OpenWindow]) -> list[StreamKey]:
        return sessions.starts_due(windows, self._tracks, self._marks, self._requested)

    def _update(
        self, key: StreamKey, track: Track, event: Event | None, window: OpenWindow, source: str
    ) -> None:
        self._tracks[key] = track
        if event is not None:
            self._emit(event, window, source)
        mark = self._marks.get(key)
        if mark is not None:
            adopted = sessions.adopt(mark, track, self._tolerance)
            self._marks[key] = adopted
            self._rearmed(key, track, adopted)

    def _rearmed(self, key: StreamKey, track: Track, mark: StartMark) -> None:
        track, event = sessions.rearmed(key, track, mark)
        self._tracks[key] = track
        if event is not None:
            self._emit(event, None, "start")

    def _emit(self, event: Event, window: OpenWindow | None, source: str) -> None:
        fields: dict[str, object] = {
            "stream": str(event.stream), "source": source,
            "window": window.window_id if window else None,
            "publish_time": event.publish_time.isoformat() if event.publish_time else None,
            "down_seconds": event.down_seconds, "lost_seconds": event.lost_seconds,
            "rearm_seconds": event.rearm_seconds, "missed_drop": event.missed_drop or None,
        }  # fmt: skip
        log.info(str(event.change), **{k: v for k, v in fields.items() if v is not None})
        if self._on_event is not None:
            self._on_event(event)

    async def _ask(self, windows: Mapping[StreamKey, OpenWindow], due: list[StreamKey]) -> None:
        for key in due:
            track, window = self._tracks[key], windows[key]
            self._requested[key] = (window.window_id, track.session)
            try:
                result = self._on_online(key, window, track.publish_time)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("online_callback_failed", stream=str(key))

    def _forget(self, windows: Mapping[StreamKey, OpenWindow]) -> None:
        """Drop what is known of streams whose window closed: a new window starts afresh."""
        tables = (self._tracks, self._marks, self._requested, self._touched)
        gone = set().union(*tables) - windows.keys()
        for key in gone:
            for table in tables:
                table.pop(key, None)

"""The daemon's side of the online watch (issue 5): the watch's starts go to the engine, the
engine's outcomes go back to the watch, and a start the API answered StreamNotFound waits for the
watch instead of retrying on a timer, while the watch can be relied on.

Waiting. While the watch is healthy, such a start is *parked* (`PARK` seconds at most, a safety
net, and never past its window's end): when the watch (or a signed ingest callback) sees the
stream come online, `Engine.rearm` hurries it. 1,000 streams retried every 10 s would cost 100
calls/s, twice the whole quota; parked, they cost nothing until their stream shows up. When the
watch is off or unhealthy, the capped backoff of DESIGN.md §5 applies, and when it turns
unhealthy, parked starts go back to that backoff at once (a failed online-list call is seen as it
is answered; a stalled poll or a recovery at the next check, every watch interval).

Metrics. Every online-list call, every drop and re-arm (with the recording it cost) and every
change of health reach the `EngineObserver`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime

import structlog

from liverecd.api.online import OnlineListResult
from liverecd.clock import Clock
from liverecd.engine.core import Engine
from liverecd.engine.dispatch.orders import Settled
from liverecd.engine.observer import EngineObserver, tell
from liverecd.engine.online.lister import OnlineLister, online_list_limiter
from liverecd.engine.online.sessions import Change, Event, OpenWindow
from liverecd.engine.online.watch import OnlineWatch
from liverecd.streams import StreamKey

log = structlog.get_logger(__name__)

PARK = 300.0  # seconds: how long a parked start waits at most before it asks again by itself


class CountingLister:
    """An `OnlineLister` that reports whether each call was answered OK."""

    def __init__(self, client: OnlineLister, heard: Callable[[bool], None]) -> None:
        self._client = client
        self._heard = heard

    async def describe_live_streams_online_list(
        self,
        domain: str,
        *,
        app: str | None = None,
        page_num: int = 1,
        page_size: int = 3000,
        stream: str | None = None,
    ) -> OnlineListResult:
        """The wrapped client's call; `heard(result.ok)` once it is answered."""
        result = await self._client.describe_live_streams_online_list(
            domain, app=app, page_num=page_num, page_size=page_size, stream=stream
        )
        self._heard(result.ok)
        return result


class WatchLink:
    """Glue between the engine and its `OnlineWatch`. Create before the engine (whose dispatcher
    takes `stream_wait`), then `attach` the engine."""

    def __init__(
        self, observer: EngineObserver, clock: Clock, *, park: float = PARK,
        event_listeners: Sequence[Callable[[Event], None]] = (),
    ) -> None:  # fmt: skip
        self._observer = observer
        self._clock = clock
        self._park = park
        self._engine: Engine | None = None
        self._watch: OnlineWatch | None = None
        self._interval = 0.0
        self._retuned = asyncio.Event()  # the interval changed: restart the poll loop
        self._failing = False  # the last online-list call answered was not OK
        self._reported: bool | None = None  # the health last reported
        self._event_listeners = tuple(event_listeners)  # e.g. the verifier's evidence

    def attach(self, engine: Engine, client: OnlineLister, interval: float) -> OnlineWatch:
        """Build the watch over `client` for `engine`'s open windows; returns it."""
        self._engine, self._interval = engine, interval
        self._watch = OnlineWatch(
            CountingLister(client, self._listed), online_list_limiter(self._clock), self._clock,
            interval=interval, windows=engine.watched, on_online=self._on_online,
            on_event=self._on_event,
        )  # fmt: skip
        return self._watch

    @property
    def healthy(self) -> bool:
        """True while the watch can be relied on to see streams come online."""
        return self._watch is not None and self._watch.healthy and not self._failing

    def stream_wait(self, stream: StreamKey) -> float | None:
        """How long a start of `stream` answered StreamNotFound waits to be hurried: `park`
        while the watch is healthy and has not seen the stream online (once it has, it will not
        ask again in that session, so the start retries by itself); None: back off."""
        if self._watch is None or not self.healthy or self._watch.is_online(stream):
            return None
        return self._park

    def set_interval(self, interval: float) -> None:
        """A reloaded `watch.interval` (seconds; 0 turns polling off): `run()` restarts the
        poll loop with it."""
        if self._watch is not None and interval != self._interval:
            self._interval = interval
            self._watch.set_interval(interval)
            self._retuned.set()

    async def run(self) -> None:
        """Run the watch, and check its health every interval, until cancelled; restarted
        (polling at once) when the interval changes."""
        assert self._watch is not None, "attach() first"
        while True:
            self._retuned.clear()
            self.check()
            if not self._watch.enabled:
                await self._retuned.wait()
                continue
            async with asyncio.TaskGroup() as tg:
                tasks = [
                    tg.create_task(self._watch.run(), name="online-watch"),
                    tg.create_task(self._checks(), name="online-watch-health"),
                ]
                await self._retuned.wait()
                for task in tasks:
                    task.cancel()

    async def _checks(self) -> None:
        while True:
            await self._clock.sleep(self._interval)
            self.check()

    def check(self) -> None:
        """Report a change of health; on turning unhealthy, send parked starts back to the
        backoff timer."""
        healthy = self.healthy
        if healthy == self._reported:
            return
        self._reported = healthy
        self._observer.watch_healthy(healthy)
        moved = 0
        if not healthy and self._engine is not None:
            moved = self._engine.dispatcher.unpark()
        log.info("online_watch_health", healthy=healthy, starts_back_on_timer=moved)

    # -- hooks --------------------------------------------------------------------------------

    def _listed(self, ok: bool) -> None:
        self._observer.online_list_call(ok)
        self._failing = not ok
        if not ok:
            self.check()

    def _on_online(self, key: StreamKey, window: OpenWindow, publish: datetime | None) -> None:
        if self._engine is not None:
            self._engine.rearm(key, window.window_id)

    def _on_event(self, event: Event) -> None:
        tell(self._event_listeners, event)
        if event.change is Change.DROPPED or (
            event.change is Change.RETURNED and event.missed_drop
        ):
            self._observer.stream_dropped()
        elif event.change is Change.REARMED:
            self._observer.stream_rearmed(event.lost_seconds or 0.0)

    def settled(self, settled: Settled) -> None:
        """A settle listener: tell the watch how an opening command ended. Only a start that
        gave up on transient errors is worth asking for again: after a fatal answer (e.g.
        CodeConfigNotFound) the watch would ask for one failing start per poll until the window
        closes."""
        watch = self._watch
        if watch is None or not settled.order.opens:
            return
        stream, wid = settled.order.stream, settled.order.window_id
        if settled.succeeded:
            watch.note_started(stream, wid, settled.sent_at or self._clock.wall())
        elif settled.reason == "retries_exhausted":
            watch.note_start_failed(stream)

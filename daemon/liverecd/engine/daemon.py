"""The daemon: loads the timetable, keeps the engine running, reloads, and stops cleanly.

`run()` owns one TaskGroup (dispatcher, reload loop, file watch); `request_stop()` and
`request_reload()` are plain methods a signal handler (or a test) calls. Stopping never stops a
recording: attempts in flight get `drain_grace` seconds, unsent commands are left to the next
start-up's reconcile, and the state is flushed before `run()` returns.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Protocol

import structlog

from liverecd.api.retry import RetryPolicy
from liverecd.clock import Clock, SystemClock
from liverecd.engine import reload as loading
from liverecd.engine.core import Engine
from liverecd.engine.dispatch import Sender
from liverecd.engine.listing import OnlineLister
from liverecd.engine.observer import EngineObserver, NullObserver
from liverecd.engine.online_watch import OnlineWatch
from liverecd.engine.snapshot import build_snapshot
from liverecd.engine.state import RecordingState, StateStore
from liverecd.engine.timing import Pacer
from liverecd.engine.watch_link import WatchLink
from liverecd.engine.watchfs import watch
from liverecd.schedule.actions import Recording
from liverecd.schedule.loader import LoadResult
from liverecd.schedule.model import Config, Stream
from liverecd.schedule.timeline import Timeline

log = structlog.get_logger(__name__)

HORIZON_STEP = timedelta(hours=1)
DRAIN_GRACE = 5.0
PUBLISH_DELAY = 0.5  # seconds: status snapshots are coalesced, never rebuilt per command
# An idle daemon has no timer that would notice a stepped wall clock (APScheduler's next wake-up
# is a monotonic delay computed from the wall clock), so it compares the two this often: once a
# second keeps a window that a step brings forward on time, for a few microseconds of CPU.
# (timerfd's TFD_TIMER_CANCEL_ON_SET would make it event-driven; Python exposes it from 3.13.)
CLOCK_WATCH = 1.0


class Lifecycle(Protocol):
    """What a service manager hears (ops.notify.Notifier implements it)."""

    def ready(self, status: str | None = None) -> object: ...

    def reloading(self, status: str | None = None) -> object: ...

    def stopping(self, status: str | None = None) -> object: ...


class _Quiet:
    def ready(self, status: str | None = None) -> object:
        return None

    def reloading(self, status: str | None = None) -> object:
        return None

    def stopping(self, status: str | None = None) -> object:
        return None


class Daemon:
    """The recording scheduler. Create and run on one event loop."""

    def __init__(
        self,
        config: Config,
        *,
        sender: Sender,
        pacer: Pacer,
        store: StateStore,
        clock: Clock | None = None,
        observer: EngineObserver | None = None,
        policy: RetryPolicy | None = None,
        lifecycle: Lifecycle | None = None,
        watch_files: bool = True,
        drain_grace: float = DRAIN_GRACE,
        online_lister: OnlineLister | None = None,
        status_extra: Callable[[], Mapping[str, object]] | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self._observer: EngineObserver = observer or NullObserver()
        self._lifecycle: Lifecycle = lifecycle or _Quiet()
        self._watch_files = watch_files
        self._drain_grace = drain_grace
        self._status_extra = status_extra  # e.g. the HA role, merged into every snapshot
        # The online watch (issue 5): its starts, and how a start waits for its stream.
        link = WatchLink(self._observer, self.clock) if online_lister is not None else None
        self.engine = Engine(
            config, sender=sender, pacer=pacer, store=store, clock=self.clock,
            observer=self._observer, policy=policy or RetryPolicy.from_config(config.api.retry),
            on_change=self._changed, stream_wait=link.stream_wait if link else None,
        )  # fmt: skip
        self.engine.on_clock_jump = self._refresh_soon
        self.watch_link = link
        self.watch: OnlineWatch | None = None
        if link is not None and online_lister is not None:
            interval = config.watch.interval.total_seconds()
            self.watch = link.attach(self.engine, online_lister, interval)
        self._loaded: LoadResult | None = None
        self._streams: tuple[Stream, ...] = ()
        self._schedule: Timeline | None = None
        self._stop = asyncio.Event()
        self._reload_wanted = asyncio.Event()
        self._reload_triggers: list[str] = []
        self._lock = asyncio.Lock()  # reloads and horizon refreshes one at a time
        self.ready = asyncio.Event()
        self.reloads = 0
        self._reloaded = asyncio.Condition()
        self._last_reload: tuple[datetime, bool] | None = None
        self._publish_handle: asyncio.TimerHandle | None = None
        self._snapshot: Mapping[str, object] = MappingProxyType({"config_loaded": False})

    # -- control --------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask `run()` to drain and return (idempotent; safe from a signal handler)."""
        self._stop.set()

    def request_reload(self, trigger: str = "sighup") -> None:
        """Ask for a reload of the schedule files (coalesced, debounced)."""
        self._reload_triggers.append(trigger)
        self._reload_wanted.set()

    async def wait_reloads(self, count: int) -> None:
        """Until `count` reloads have completed since start-up."""
        async with self._reloaded:
            await self._reloaded.wait_for(lambda: self.reloads >= count)

    def snapshot(self) -> Mapping[str, object]:
        """The latest status (immutable; safe to read from another thread)."""
        if self._status_extra is not None:
            return MappingProxyType({**self._snapshot, **self._status_extra()})
        return self._snapshot

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self) -> None:
        """Start, serve until `request_stop()`, drain, persist. StateError when the state
        cannot be read at start-up."""
        rows = self.engine.book.load()
        await self._load()
        timeline = self._expand(rows)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.engine.dispatcher.run(), name="dispatcher")
            self.engine.alarms.start()
            self.engine.replace_timeline(timeline)
            plan = self.engine.reconcile(previous=None)
            await self.engine.apply(plan)
            log.info("reconcile", trigger="startup", **plan.counts)
            self.engine.alarms.every("horizon", HORIZON_STEP, self._refresh_soon)
            background = [
                tg.create_task(self._reload_loop(), name="reload"),
                tg.create_task(self._clock_watch(), name="clock-watch"),
            ]
            if self._watch_files:
                background.append(tg.create_task(self._watch(), name="watch-files"))
            if self.watch_link is not None:
                background.append(tg.create_task(self.watch_link.run(), name="online-watch"))
            self._publish()
            log.info("daemon_started", windows=len(timeline), state_rows=len(self.engine.book))
            self._lifecycle.ready()
            self.ready.set()
            await self._stop.wait()
            await self._shutdown(background)

    async def _shutdown(self, background: list[asyncio.Task[None]]) -> None:
        log.info("daemon_stopping", queued=len(self.engine.dispatcher))
        self._lifecycle.stopping()
        for task in background:
            task.cancel()
        self.engine.alarms.shutdown()
        await self.engine.cancel_tasks()
        await self.engine.dispatcher.drain(self._drain_grace)
        await self.engine.book.close()
        if self._publish_handle is not None:
            self._publish_handle.cancel()
        log.info("daemon_stopped", state_rows=len(self.engine.book))

    # -- loading and reloading ------------------------------------------------------------

    async def _load(self) -> None:
        result = await loading.load(self.config, self._loaded)
        loading.report(result)
        self._loaded = result
        self._schedule = Timeline(result.schedule)
        self._streams = result.schedule.streams()

    def _expand(self, rows: list[RecordingState]) -> dict[str, Recording]:
        """The timeline ahead; while a file has failed with no last good version to keep, the
        windows the state remembers stay in force too (see `reload.remembered`)."""
        now = self.clock.wall()
        timeline = loading.expand(self._timeline(), now, self.config.horizon)
        loaded = self._loaded
        if loaded is not None and any(f not in loaded.files for f in loaded.failed):
            timeline.update(loading.remembered(rows, timeline, now))
        return timeline

    def _timeline(self) -> Timeline:
        assert self._schedule is not None
        return self._schedule

    async def _reload_loop(self) -> None:
        while True:
            await self._reload_wanted.wait()
            await self.clock.sleep(loading.DEBOUNCE)
            self._reload_wanted.clear()
            triggers, self._reload_triggers = self._reload_triggers, []
            await self.reload(",".join(sorted(set(triggers))) or "request")

    async def reload(self, trigger: str) -> None:
        """Reload the schedule files now and apply the difference (one `reload` event)."""
        async with self._lock:
            self._lifecycle.reloading()
            await self._load()
            assert self._loaded is not None
            now = self.clock.wall()
            old = self.engine.timeline
            new = self._expand(self.engine.book.rows())
            diff = self.engine.replace_timeline(new)
            plan = self.engine.reconcile(previous=old)
            await self.engine.apply(plan)
            ok = not self._loaded.failed
            self.reloads += 1
            self._last_reload = (now, ok)
            log.info(
                "reload", trigger=trigger, files_failed=len(self._loaded.failed),
                files_ok=sum(1 for f in self._loaded.files if f not in self._loaded.failed),
                windows=len(new), **diff,
                **{f"reconcile_{k}": v for k, v in plan.counts.items()},
            )  # fmt: skip
            self._observer.reloaded(ok, now.timestamp())
            self._lifecycle.ready()
            self._publish()
        async with self._reloaded:
            self._reloaded.notify_all()

    def _refresh_soon(self) -> None:
        self.engine.spawn(self.refresh_horizon(), name="refresh-horizon")

    async def refresh_horizon(self) -> None:
        """Extend the timeline to `horizon` ahead of now (hourly, and after a clock jump)."""
        async with self._lock:
            now = self.clock.wall()
            new = loading.expand(self._timeline(), now, self.config.horizon)
            new.update({k: r for k, r in self.engine.timeline.items()
                        if r.sources[0].file == "<state>" and r.end > now})  # fmt: skip
            diff = self.engine.replace_timeline(new)
            log.debug("horizon_extended", windows=len(new), **diff)

    async def _clock_watch(self) -> None:
        while True:
            await self.clock.sleep(CLOCK_WATCH)
            self.engine.dispatcher.check_clock()  # a jump re-arms alarms and the horizon

    async def _watch(self) -> None:
        base = self.config.path.parent
        with contextlib.suppress(OSError):
            await watch(base, self.config.schedules, lambda: self.request_reload("file_change"))

    def schedule_streams(self) -> tuple[Stream, ...]:
        """Every stream entry of the schedule in force (for the ingest endpoint's domains): the
        same tuple object until the next load, so a caller may cache what it derives from it."""
        return self._streams

    # -- status ---------------------------------------------------------------------------

    def _changed(self) -> None:
        if self._publish_handle is None:
            loop = asyncio.get_running_loop()
            self._publish_handle = loop.call_later(PUBLISH_DELAY, self._publish)

    def _publish(self) -> None:
        self._publish_handle = None
        snap = build_snapshot(self.engine, self._loaded, self.clock.wall(), self._last_reload)
        self._snapshot = MappingProxyType(snap)
        w = snap["windows"]
        assert isinstance(w, Mapping)
        self._observer.windows_changed(w["total"], w["open_now"], w["recording"])

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
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.triggers.interval import IntervalTrigger

from liverecd.api.retry import RetryPolicy
from liverecd.clock import Clock, SystemClock
from liverecd.config import Config
from liverecd.engine import reload as loading
from liverecd.engine.core import Engine
from liverecd.engine.dispatch import Sender
from liverecd.engine.lifecycle import RecordingState
from liverecd.engine.listing import OnlineLister
from liverecd.engine.observer import EngineObserver, Lifecycle, NullObserver, Quiet
from liverecd.engine.online_watch import OnlineWatch
from liverecd.engine.state import StateStore
from liverecd.engine.status import Status
from liverecd.engine.timing import Pacer
from liverecd.engine.watch_link import WatchLink
from liverecd.engine.watchfs import watch
from liverecd.schedule.actions import Recording
from liverecd.schedule.loader import LoadResult
from liverecd.schedule.model import Stream
from liverecd.schedule.timeline import Timeline

log = structlog.get_logger(__name__)

HORIZON_STEP = timedelta(hours=1)
# A large timetable arms this much of the horizon before READY (it holds every window that is
# open or whose start may leave early) and fills the rest in the background; a smaller one is
# armed for the whole horizon before READY, which takes well under a second.
FIRST_SLICE = timedelta(minutes=15)
PHASED_START_STREAMS = 2000
DRAIN_GRACE = 5.0
PUBLISH_DELAY = 0.5  # seconds: status snapshots are coalesced, never rebuilt per command
UPCOMING = 8  # next actions kept in the status
# An idle daemon has no timer that would notice a stepped wall clock (APScheduler's next wake-up
# is a monotonic delay computed from the wall clock), so it compares the two this often: once a
# second keeps a window that a step brings forward on time, for a few microseconds of CPU.
# (timerfd's TFD_TIMER_CANCEL_ON_SET would make it event-driven; Python exposes it from 3.13.)
CLOCK_WATCH = 1.0


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
        reload_config: Callable[[Config], Config] | None = None,
        status_extra: Callable[[], Mapping[str, object]] | None = None,
        intent_timeout: float | None = None,
    ) -> None:
        self.config = config
        # Re-reads the main config on each reload (ops.config_reload); None: schedules only.
        self._reload_config = reload_config
        self.clock: Clock = clock or SystemClock()
        self._observer: EngineObserver = observer or NullObserver()
        self._lifecycle: Lifecycle = lifecycle or Quiet()
        self._watch_files = watch_files
        self._drain_grace = drain_grace
        self.pacer = pacer  # the status page shows its quota in use
        self._status_extra = status_extra  # e.g. the HA role, merged into every snapshot
        # The online watch (issue 5): its starts, and how a start waits for its stream.
        link = WatchLink(self._observer, self.clock) if online_lister is not None else None
        self.engine = Engine(
            config, sender=sender, pacer=pacer, store=store, clock=self.clock,
            observer=self._observer, policy=policy or RetryPolicy.from_config(config.api.retry),
            on_change=self._changed, stream_wait=link.stream_wait if link else None,
            intent_timeout=intent_timeout,
        )  # fmt: skip
        self.engine.on_clock_jump = self._refresh_soon
        self.watch_link = link
        self.watch: OnlineWatch | None = None
        if link is not None and online_lister is not None:
            interval = config.watch.interval.total_seconds()
            self.watch = link.attach(self.engine, online_lister, interval)
        self._loaded: LoadResult | None = None
        self._gone: dict[str, float] = {}  # vanished schedule file -> first missed (monotonic)
        self._gone_check = False
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
        self._publishing = False
        self._status = Status(time=self.clock.wall())

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

    @property
    def loaded(self) -> LoadResult | None:
        """The schedule files in force and their problems (None before the first load)."""
        return self._loaded

    def status(self) -> Status:
        """The latest status (immutable; safe to read from another thread)."""
        return self._status

    def snapshot(self) -> Mapping[str, object]:
        """The latest status as /healthz shows it, current at the time of the call (with what
        `status_extra` adds, e.g. the HA role)."""
        view = self._status.view(self.clock.wall())
        if self._status_extra is not None:
            view.update(self._status_extra())
        return view

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self) -> None:
        """Start, serve until `request_stop()`, drain, persist. StateError when the state
        cannot be read at start-up."""
        rows = self.engine.book.load()
        with loading.collector_paused():
            await self._load()
            now = self.clock.wall()
            first = self.config.horizon
            if self._timeline().stream_count >= PHASED_START_STREAMS:
                first = max(FIRST_SLICE, 2 * self.config.max_lead)
            timeline = await asyncio.to_thread(self._expand, rows, now, now + first)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.engine.alarms.run(), name="alarms")
            tg.create_task(self.engine.dispatcher.run(), name="dispatcher")
            await self.engine.replace_timeline(timeline)
            plan = self.engine.reconcile(previous=None)
            await self.engine.apply(plan)
            log.info("reconcile", trigger="startup", **plan.counts)
            trigger = IntervalTrigger(
                seconds=HORIZON_STEP.total_seconds(), start_date=now + HORIZON_STEP, timezone=UTC
            )
            self.engine.alarms.every("horizon", trigger, self._refresh_soon)
            background = [
                tg.create_task(self._reload_loop(), name="reload"),
                tg.create_task(self._clock_watch(), name="clock-watch"),
                tg.create_task(self.refresh_horizon(), name="fill-horizon"),
            ]
            if self._watch_files:
                background.append(tg.create_task(self._watch(), name="watch-files"))
            if self.watch_link is not None:
                background.append(tg.create_task(self.watch_link.run(), name="online-watch"))
            assert self._loaded is not None
            # The first load counts as a load: the last-good gauge is set, a failure counted.
            self._observer.reloaded(not self._loaded.errors, now.timestamp())
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
        log.info("daemon_stopped", state_rows=len(self.engine.book))

    # -- loading and reloading ------------------------------------------------------------

    async def _load(self, *, confirmed: bool = False) -> None:
        result = await loading.load(self.config, self._loaded)
        grace = self.config.missing_file_grace.total_seconds()
        result = loading.keep_vanished(
            result, self._loaded, self._gone, self.clock.monotonic(), grace, confirmed=confirmed
        )
        if self._gone and not self._gone_check:
            self._gone_check = True
            self.engine.spawn(self._recheck_gone(grace), name="recheck-gone")
        await loading.report(result)
        self._loaded = result
        self._schedule = await asyncio.to_thread(Timeline, result.schedule, self._schedule)
        self._streams = result.schedule.streams()

    async def _recheck_gone(self, grace: float) -> None:
        """Reload once the grace of a vanished file has passed (it may be back by then)."""
        await self.clock.sleep(grace + loading.DEBOUNCE)
        self._gone_check = False
        self.request_reload("file_gone")

    def _expand(
        self, rows: list[RecordingState], now: datetime, until: datetime
    ) -> dict[str, Recording]:
        """The timeline from `now` to `until` (pure; run off the loop); while a file has failed
        with no last good version to keep, the windows the state remembers stay in force too
        (see `reload.remembered`)."""
        timeline = loading.expand(self._timeline(), now, until - now)
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
        async with self._lock, loading.paused():
            self._lifecycle.reloading()
            if self._reload_config is not None:
                self.config = self._reload_config(self.config)
            await self._load(confirmed="sighup" in trigger)
            assert self._loaded is not None
            now = self.clock.wall()
            old = self.engine.timeline
            new = await asyncio.to_thread(
                self._expand, self.engine.book.rows(), now, now + self.config.horizon
            )
            diff = await self.engine.replace_timeline(new)
            plan = self.engine.reconcile(previous=old)
            await self.engine.apply(plan)
            ok = not self._loaded.errors
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
        """Extend the timeline to `horizon` ahead of now (after start-up, hourly, and after a
        clock jump), off the loop; windows the state remembers stay."""
        async with self._lock, loading.paused():
            now = self.clock.wall()
            new = await asyncio.to_thread(
                loading.expand, self._timeline(), now, self.config.horizon
            )
            new.update({k: r for k, r in self.engine.timeline.items()
                        if r.sources[0].file == "<state>" and r.end > now})  # fmt: skip
            diff = await self.engine.replace_timeline(new)
            log.debug("horizon_extended", windows=len(new), **diff)

    async def _clock_watch(self) -> None:
        while True:
            await self.clock.sleep(CLOCK_WATCH)
            self.engine.dispatcher.check_clock()  # a jump re-arms alarms and the horizon

    async def _watch(self) -> None:
        base = self.config.path.parent
        with contextlib.suppress(OSError):
            files = (*self.config.schedules, self.config.path.name)  # and liverecd.yaml itself
            await watch(base, files, lambda: self.request_reload("file_change"))

    def schedule_streams(self) -> tuple[Stream, ...]:
        """Every stream entry of the schedule in force (for the ingest endpoint's domains): the
        same tuple object until the next load, so a caller may cache what it derives from it."""
        return self._streams

    # -- status ---------------------------------------------------------------------------

    def _changed(self) -> None:
        if not self._publishing:
            self._publishing = True
            self.engine.spawn(self._publish_soon(), name="publish-status")

    async def _publish_soon(self) -> None:
        await self.clock.sleep(PUBLISH_DELAY)
        self._publish()

    def _publish(self) -> None:
        """Build the status from counters and indexes (no scan of the timetable)."""
        self._publishing = False
        engine, loaded = self.engine, self._loaded
        open_now, recording = engine.counts()
        self._status = Status(
            time=self.clock.wall(),
            config_loaded=loaded is not None,
            files_loaded=len(loaded.files) if loaded else 0,
            files_failed=tuple(loaded.failed) if loaded else (),
            file_problems=tuple(str(p) for p in loaded.errors) if loaded else (),
            windows_total=len(engine.timeline),
            open_now=open_now,
            recording=recording,
            upcoming=tuple(engine.upcoming(UPCOMING)),
            queue=len(engine.dispatcher),
            last_failure=engine.last_failure,
            state_error=engine.book.last_error,
            last_reload=self._last_reload,
            clock_jumps=engine.clock_jumps,
        )
        self._observer.windows_changed(len(engine.timeline), open_now, recording)

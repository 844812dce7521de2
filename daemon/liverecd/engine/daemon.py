"""The daemon: loads the timetable, keeps the engine running, reloads, and stops cleanly.

Its loops (alarms, dispatcher, reload loop, file watch, online watch) run in the service's one
`TaskSet` (its own when it runs alone); `request_stop()` and `request_reload()` are plain
methods a signal handler (or a test) calls. Stopping never stops a recording: attempts in
flight get `drain_grace` seconds, unsent commands are left to the next start-up's reconcile,
and the state is flushed before `run()` returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.triggers.interval import IntervalTrigger

from liverecd.api.retry import RetryPolicy
from liverecd.clock import Clock, SystemClock
from liverecd.config import Config, ConfigSource
from liverecd.engine import reload as loading
from liverecd.engine.core import Engine
from liverecd.engine.dispatch.dispatcher import Sender
from liverecd.engine.dispatch.timing import Pacer
from liverecd.engine.observer import EngineObserver, Lifecycle, Listeners, NullObserver, Quiet
from liverecd.engine.online.link import WatchLink
from liverecd.engine.online.lister import OnlineLister
from liverecd.engine.online.watch import OnlineWatch
from liverecd.engine.status import Status, status_of
from liverecd.engine.store.interface import StateStore
from liverecd.engine.tasks import TaskSet
from liverecd.engine.timetable import Timetable
from liverecd.engine.watchfs import watch
from liverecd.schedule.loader import LoadResult
from liverecd.schedule.model import Stream

log = structlog.get_logger(__name__)

# A large timetable arms this much of the horizon before READY (it holds every window that is
# open or whose start may leave early) and fills the rest in the background; a smaller one is
# armed for the whole horizon before READY, which takes well under a second.
FIRST_SLICE = timedelta(minutes=15)
PHASED_START_STREAMS = 2000
DRAIN_GRACE = 5.0
PUBLISH_DELAY = 0.5  # seconds: status snapshots are coalesced, never rebuilt per command
# An idle daemon has no timer that would notice a stepped wall clock (the alarms' next wake-up
# is a monotonic delay computed from the wall clock), so it compares the two this often: once a
# second keeps a window that a step brings forward on time, for a few microseconds of CPU.
# (timerfd's TFD_TIMER_CANCEL_ON_SET would make it event-driven; Python exposes it from 3.13.)
CLOCK_WATCH = 1.0


class Daemon:
    """The recording scheduler. Create and run on one event loop."""

    def __init__(
        self, config: Config, *, sender: Sender, pacer: Pacer, store: StateStore,
        clock: Clock | None = None, observer: EngineObserver | None = None,
        policy: RetryPolicy | None = None, lifecycle: Lifecycle | None = None,
        watch_files: bool = True, drain_grace: float = DRAIN_GRACE,
        online_lister: OnlineLister | None = None,
        reload_config: ConfigSource | None = None,
        status_extra: Callable[[], Mapping[str, object]] | None = None,
        intent_timeout: float | None = None, tasks: TaskSet | None = None,
        listeners: Listeners | None = None, timetable: Timetable | None = None,
    ) -> None:  # fmt: skip
        self.config = config
        self._tasks = tasks or TaskSet()  # the service's, or its own when it runs alone
        self._scope = self._tasks.scope()  # what the daemon cancels when it stops
        # Re-reads the main config on each reload (ops.config_reload); None: schedules only.
        self._reload_config = reload_config
        self._listeners = listeners = listeners or Listeners()
        self.clock: Clock = clock or SystemClock()
        self._observer: EngineObserver = observer or NullObserver()
        self._lifecycle: Lifecycle = lifecycle or Quiet()
        self._watch_files, self._drain_grace = watch_files, drain_grace
        self.pacer = pacer  # the status page shows its quota in use
        self._status_extra = status_extra  # e.g. the HA role, merged into every snapshot
        link, settled = None, listeners.settled  # the online watch's link hears settles first
        if online_lister is not None:
            link = WatchLink(self._observer, self.clock, event_listeners=listeners.watch)
            settled = (link.settled, *settled)
        self.engine = Engine(
            config, sender=sender, pacer=pacer, store=store, clock=self.clock,
            observer=self._observer, policy=policy or RetryPolicy.from_config(config.api.retry),
            on_change=self._changed, tasks=self._scope, listeners=settled,
            on_clock_jump=lambda: self._refresh_soon(True), intent_timeout=intent_timeout,
            stream_wait=link.stream_wait if link else None,
        )  # fmt: skip
        self.watch_link = link
        self.watch: OnlineWatch | None = None
        if link is not None and online_lister is not None:
            every = config.watch.interval.total_seconds()
            self.watch = link.attach(self.engine, online_lister, every)
        self.timetable = timetable or Timetable(self.clock)  # shared with the accounts' routes
        self._recheck: asyncio.Task[None] | None = None  # reload when a vanished file's grace ends
        self._stop, self._reload_wanted = asyncio.Event(), asyncio.Event()
        self._rewatch = asyncio.Event()  # `schedules` changed in place: the file watch follows
        self._reload_triggers: list[str] = []
        self._lock = asyncio.Lock()  # reloads and horizon refreshes one at a time
        self.ready, self.reloads = asyncio.Event(), 0
        self._reloaded = asyncio.Condition()
        self._last_reload: tuple[datetime, bool, tuple[str, ...]] | None = None
        self._publishing = False  # a status publish is due
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
        if self._tasks.open:
            await self._run()
            return
        async with self._tasks:
            await self._run()

    async def _run(self) -> None:
        rows = await self.engine.book.load()
        with loading.collector_paused():
            loaded = await self._load()
            now = self.clock.wall()
            first = self.config.horizon
            if self.timetable.schedule.stream_count >= PHASED_START_STREAMS:
                first = max(FIRST_SLICE, 2 * self.config.max_lead)
            windows = await asyncio.to_thread(self.timetable.expand, rows, now, now + first)
        scope, engine = self._scope, self.engine
        essential = (scope.start(engine.alarms.run(), "alarms"),
                     scope.start(engine.dispatcher.run(), "dispatcher"))  # fmt: skip
        await engine.replace_windows(windows)
        plan = engine.reconcile(previous=None)
        await engine.apply(plan)
        log.info("reconcile", trigger="startup", **plan.counts)
        hourly = IntervalTrigger(hours=1, start_date=now + timedelta(hours=1), timezone=UTC)
        engine.alarms.every("horizon", hourly, self._refresh_soon)
        scope.start(self._reload_loop(), "reload")
        scope.start(self._clock_watch(), "clock-watch")
        scope.start(self.refresh_horizon(), "fill-horizon")
        if self._watch_files:
            scope.start(self._watch(), "watch-files")
        if self.watch_link is not None:
            scope.start(self.watch_link.run(), "online-watch")
        # The first load counts as a load: the last-good gauge is set, a failure counted.
        self._observer.reloaded(not loaded.errors, now.timestamp())
        self._publish()
        log.info("daemon_started", windows=len(windows), state_rows=len(engine.book))
        self._lifecycle.ready()
        self.ready.set()
        await self._stop.wait()
        await self._shutdown(essential)

    async def _shutdown(self, essential: tuple[asyncio.Task[None], ...]) -> None:
        log.info("daemon_stopping", queued=len(self.engine.dispatcher))
        self._lifecycle.stopping()
        await self._scope.close(*essential)  # the loops and hand-overs; no new ones
        self.engine.alarms.shutdown()
        await self.engine.dispatcher.drain(self._drain_grace)
        await asyncio.wait(essential)
        await self.engine.book.close()
        log.info("daemon_stopped", state_rows=len(self.engine.book))

    # -- loading and reloading ------------------------------------------------------------

    async def _load(self, *, confirmed: bool = False) -> LoadResult:
        if self._reload_config is not None:  # at start-up too: an HA member's next term
            self._use(self._reload_config(self.config))  # is built with the first config
        loaded = await self.timetable.load(self.config, confirmed=confirmed)
        delay, pending = self.timetable.look_again, self._recheck
        if delay is not None and (pending is None or pending.done()):  # files kept while gone
            self._recheck = self._scope.spawn(self._reload_after(delay), name="recheck-gone")
        return loaded

    async def _reload_after(self, delay: float) -> None:
        await self.clock.sleep(delay)
        self.request_reload("file_gone")

    def _use(self, config: Config) -> None:
        """A reloaded main config: what changes in place (DESIGN §12) reaches the engine, the
        watch and the companions that asked to hear it."""
        if config is not self.config:
            self.config = config
            self.engine.set_max_lead(config.max_lead)
            self._rewatch.set()
            if self.watch_link is not None:
                self.watch_link.set_interval(config.watch.interval.total_seconds())
            self._listeners.reloaded(config)

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
            loaded = await self._load(confirmed="sighup" in trigger)
            now = self.clock.wall()
            old = self.engine.windows
            new = await asyncio.to_thread(
                self.timetable.expand, self.engine.book.rows(), now, now + self.config.horizon
            )
            diff = await self.engine.replace_windows(new)
            plan = self.engine.reconcile(previous=old)
            await self.engine.apply(plan)
            problems = self._reload_config.problems if self._reload_config else ()
            ok = not loaded.errors and not problems  # a file kept its last good version
            self.reloads += 1
            self._last_reload = (now, ok, problems)
            log.info(
                "reload", trigger=trigger, files_failed=len(loaded.failed),
                files_ok=sum(1 for f in loaded.files if f not in loaded.failed),
                windows=len(new), **diff,
                **{f"reconcile_{k}": v for k, v in plan.counts.items()},
            )  # fmt: skip
            self._observer.reloaded(ok, now.timestamp())
            self._lifecycle.ready()
            self._publish()
        async with self._reloaded:
            self._reloaded.notify_all()

    def _refresh_soon(self, stepped: bool = False) -> None:
        self._scope.spawn(self.refresh_horizon(stepped), name="refresh-horizon")

    async def refresh_horizon(self, stepped: bool = False) -> None:
        """Extend the windows to `horizon` ahead of now (after start-up, hourly, and after a
        clock jump), off the loop; windows the state remembers stay. After a clock step
        (`stepped`), what is owed now is reconciled too: a window the step opened may have lain
        beyond the horizon, with no alarm ever armed for its opening."""
        async with self._lock, loading.paused():
            now, old = self.clock.wall(), self.engine.windows
            new = await asyncio.to_thread(self.timetable.roll, old, now, self.config.horizon)
            diff = await self.engine.replace_windows(new)
            if stepped:
                await self.engine.apply(self.engine.reconcile(previous=old))
            log.debug("horizon_extended", windows=len(new), **diff)

    async def _clock_watch(self) -> None:
        while True:
            await self.clock.sleep(CLOCK_WATCH)
            self.engine.dispatcher.check_clock()  # a jump re-arms alarms and the horizon

    async def _watch(self) -> None:
        base = self.config.path.parent
        files = lambda: (*self.config.schedules, self.config.path.name)  # noqa: E731
        await watch(
            base, files, lambda: self.request_reload("file_change"), self._rewatch, self.clock.sleep
        )

    def schedule_streams(self) -> tuple[Stream, ...]:
        """The stream entries in force (the ingest endpoint's domains): one tuple per load."""
        return self.timetable.streams

    # -- status ---------------------------------------------------------------------------

    def _changed(self) -> None:
        if not self._publishing:  # (a closing daemon spawns nothing, and publishes no more)
            self._publishing = bool(self._scope.spawn(self._publish_soon(), "publish-status"))

    async def _publish_soon(self) -> None:
        await self.clock.sleep(PUBLISH_DELAY)
        self._publish()

    def _publish(self) -> None:
        """Build the status from counters and indexes (no scan of the timetable)."""
        self._publishing = False
        status = self._status = status_of(self.engine, self.timetable.loaded, self._last_reload)
        self._observer.windows_changed(status.windows_total, status.open_now, status.recording)

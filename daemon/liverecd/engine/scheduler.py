"""APScheduler 3.11 glue: wall-clock alarms that wake the engine, and nothing more.

One `DateTrigger` job per action, id `WINDOW:COMMAND`, firing `ARM_AHEAD` before the dispatcher
must act (for a start, before it may leave early), so the intent write and the hand-over are
off the critical path: the dispatcher's own monotonic timer releases the command on time.
Jobs only hand work to the engine; retries, pacing and lateness are the dispatcher's business.

Deliberate job settings: `misfire_grace_time=None` (a late alarm still runs: the dispatcher
drops what has become useless, the default 1 s grace would silently drop a stop), `coalesce`,
`max_instances=1`, `replace_existing`. An alarm whose time has passed is never handed to
APScheduler (a past DateTrigger is not a promise): `set` returns False and the caller acts now.
Job functions are coroutines, so APScheduler runs them on the loop, not in its thread pool,
and they return at once: the work they start is the engine's own task (tracked and cancelled
at shutdown), so no job is still running when the loop closes (APScheduler would log the
cancellation of a job task as an error).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from liverecd.clock import Clock

log = structlog.get_logger(__name__)

ARM_AHEAD = timedelta(seconds=1)
JOB_DEFAULTS = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}

Handler = Callable[[str, str], None]
Job = Callable[[], None]


class Alarms:
    """Named one-shot alarms `(kind, window_id)` and periodic jobs, on an AsyncIOScheduler."""

    def __init__(self, handler: Handler, clock: Clock) -> None:
        self._handler = handler
        self._clock = clock
        self._sched = AsyncIOScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
        # APScheduler logs every job added and run at INFO: thousands of lines per horizon.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)

    def start(self) -> None:
        """Start on the running event loop."""
        self._sched.start()

    def shutdown(self) -> None:
        """Stop firing; jobs in memory are dropped (the timeline re-creates them at start-up)."""
        if self._sched.running:
            # shutdown() only takes effect on the loop's next turn; pause() at once makes a
            # wake-up already due in this turn fire nothing.
            self._sched.pause()
            self._sched.shutdown(wait=False)

    def set(self, kind: str, window_id: str, at: datetime) -> bool:
        """Arm (or re-arm) the alarm `window_id:kind` at `at`; False when `at` has passed."""
        job_id = f"{window_id}:{kind}"
        if at <= self._clock.wall():
            self.cancel(kind, window_id)
            return False
        self._sched.add_job(
            self._fire,
            DateTrigger(run_date=at, timezone=UTC),
            args=(kind, window_id),
            id=job_id,
            name=job_id,
            replace_existing=True,
        )
        return True

    def cancel(self, kind: str, window_id: str) -> None:
        """Disarm `window_id:kind` if armed."""
        job_id = f"{window_id}:{kind}"
        if self._sched.get_job(job_id) is not None:
            self._sched.remove_job(job_id)

    def every(self, job_id: str, interval: timedelta, func: Job) -> None:
        """Call `func` every `interval` (first call one interval from now); it must not block."""
        self._sched.add_job(
            self._tick, IntervalTrigger(seconds=interval.total_seconds(), timezone=UTC),
            args=(job_id, func), id=job_id, name=job_id, replace_existing=True,
        )  # fmt: skip

    def armed(self) -> int:
        """How many jobs are armed."""
        return len(self._sched.get_jobs())

    def wakeup(self) -> None:
        """Re-read the wall clock now (after a clock jump)."""
        if self._sched.running:
            self._sched.wakeup()

    async def _fire(self, kind: str, window_id: str) -> None:
        try:
            self._handler(kind, window_id)
        except Exception:
            log.exception("alarm_failed", kind=kind, window=window_id)

    async def _tick(self, job_id: str, func: Job) -> None:
        try:
            func()
        except Exception:
            log.exception("alarm_failed", kind=job_id)

"""Wall-clock alarms on one timer, read through the `Clock`.

A window has at most two alarms, its opening and its stop, keyed `(kind, window_id)`. They live in
one heap and one dict: arming 280,000 of them is a dict write and a heap push each (or one
`heapify` for a batch), re-arming replaces the dict entry and leaves the old heap entry to be
skipped when it surfaces (lazy deletion), and the event loop is woken once per due instant, not
once per alarm. Time is read only through `Clock`, so the whole daemon runs on `FakeClock`.

Periodic work (rolling the horizon, housekeeping) is driven by APScheduler 3 triggers: their
`get_next_fire_time(previous, now)` is pure trigger maths that we feed our clock's `now`. The
scheduler classes of APScheduler 3 read `datetime.now()` themselves and cost a job object per
alarm (41 s for 282,000 alarms at 100,000 windows); their triggers cost neither.

A wall clock stepped by NTP or an operator is noticed by `wakeup()` (the daemon calls it when
its clock check sees a jump): every alarm is then measured against the new wall time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import partial

import structlog
from apscheduler.triggers.base import BaseTrigger

from liverecd.clock import Clock
from liverecd.schedule.actions import Recording
from liverecd.streams import Command

log = structlog.get_logger(__name__)

STOP = "stop"  # the alarm kind of a window's end; the others are named by their command
ARM_AHEAD = timedelta(seconds=1)  # alarms ring this early: the dispatcher's own timer is exact
MAX_NAP = 60.0  # seconds: the longest single sleep, a bound on how long a missed wake-up costs

Handler = Callable[[str, str], None]
Job = Callable[[], None]
Entry = tuple[datetime, int, str, str]  # when, sequence, kind, window id


class Alarms:
    """One-shot alarms `(kind, window_id)` and periodic jobs, run by `run()` on the loop."""

    def __init__(self, handler: Handler, clock: Clock) -> None:
        self._handler = handler
        self._clock = clock
        self._due: dict[tuple[str, str], datetime] = {}
        self._heap: list[Entry] = []
        self._seq = itertools.count()
        self._jobs: dict[str, tuple[BaseTrigger, Job, datetime]] = {}
        self._changed = asyncio.Event()
        self._stopped = False

    # -- arming -------------------------------------------------------------------------------

    def set(self, kind: str, window_id: str, at: datetime) -> bool:
        """Arm (or re-arm) `window_id:kind` at `at`; False (and disarmed) when `at` has passed."""
        if at <= self._clock.wall():
            self._due.pop((kind, window_id), None)
            return False
        self._due[kind, window_id] = at
        heap_was_later = not self._heap or at < self._heap[0][0]
        heapq.heappush(self._heap, (at, next(self._seq), kind, window_id))
        if heap_was_later:
            self._changed.set()
        return True

    def set_many(self, alarms: Iterable[tuple[str, str, datetime]]) -> list[tuple[str, str]]:
        """Arm a batch; returns the `(kind, window_id)` already due (disarmed, for the caller)."""
        now, passed, fresh = self._clock.wall(), [], []
        for kind, wid, at in alarms:
            if at <= now:
                self._due.pop((kind, wid), None)
                passed.append((kind, wid))
            else:
                self._due[kind, wid] = at
                fresh.append((at, next(self._seq), kind, wid))
        if len(fresh) * 8 > len(self._heap):  # a big batch: one O(n) heapify beats n pushes
            self._heap.extend(fresh)
            heapq.heapify(self._heap)
        else:
            for entry in fresh:
                heapq.heappush(self._heap, entry)
        if fresh:
            self._changed.set()
        return passed

    def cancel(self, kind: str, window_id: str) -> None:
        """Disarm `window_id:kind` if armed (its heap entry is skipped when it surfaces)."""
        self._due.pop((kind, window_id), None)

    def every(self, job_id: str, trigger: BaseTrigger, func: Job) -> None:
        """Call `func` at each fire time of `trigger` (from now on); `func` must not block."""
        now = self._clock.wall()
        first = trigger.get_next_fire_time(None, now)
        if first is not None:
            self._jobs[job_id] = (trigger, func, first)
            self._changed.set()

    def is_set(self, kind: str, window_id: str) -> bool:
        """True while `window_id:kind` is armed (it has not rung)."""
        return (kind, window_id) in self._due

    def armed(self) -> int:
        """How many one-shot alarms are armed."""
        return len(self._due)

    def next_due(self) -> tuple[datetime, str, str] | None:
        """The earliest armed alarm `(when, kind, window_id)`, or None."""
        self._prune()
        if not self._heap:
            return None
        at, _, kind, wid = self._heap[0]
        return at, kind, wid

    def upcoming(self, count: int) -> list[tuple[datetime, str, str]]:
        """The `count` earliest armed alarms `(when, kind, window_id)`, earliest first."""
        out: list[tuple[datetime, str, str]] = []
        for at, _, kind, wid in heapq.nsmallest(4 * count + 16, self._heap):
            if self._due.get((kind, wid)) == at:
                out.append((at, kind, wid))
                if len(out) == count:
                    break
        return out

    def wakeup(self) -> None:
        """Re-read the wall clock now (after a clock jump)."""
        self._changed.set()

    def shutdown(self) -> None:
        """Fire nothing more, from this instant on."""
        self._stopped = True
        self._changed.set()

    # -- running ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Ring alarms as they fall due, until cancelled or `shutdown()`."""
        while not self._stopped:
            self._ring(self._clock.wall())
            delay = self._delay(self._clock.wall())
            self._changed.clear()
            await self._nap(delay)

    def _ring(self, now: datetime) -> None:
        for job_id, (trigger, func, at) in list(self._jobs.items()):
            if at <= now and not self._stopped:
                nxt = trigger.get_next_fire_time(at, now)
                while nxt is not None and nxt <= now:  # a long nap or a jump: run once
                    nxt = trigger.get_next_fire_time(nxt, now)
                if nxt is None:
                    del self._jobs[job_id]
                else:
                    self._jobs[job_id] = (trigger, func, nxt)
                self._call(job_id, "", func)
        while self._heap and self._heap[0][0] <= now and not self._stopped:
            at, _, kind, wid = heapq.heappop(self._heap)
            if self._due.get((kind, wid)) == at:
                del self._due[kind, wid]
                self._call(kind, wid, partial(self._handler, kind, wid))

    def _call(self, kind: str, window_id: str, func: Callable[[], None]) -> None:
        try:
            func()
        except Exception:
            log.exception("alarm_failed", kind=kind, window=window_id)

    def _prune(self) -> None:
        heap, due = self._heap, self._due
        while heap and due.get((heap[0][2], heap[0][3])) != heap[0][0]:
            heapq.heappop(heap)

    def _delay(self, now: datetime) -> float:
        self._prune()
        times = [at for _, _, at in self._jobs.values()]
        if self._heap:
            times.append(self._heap[0][0])
        if not times:
            return MAX_NAP
        return min(MAX_NAP, max(0.0, (min(times) - now).total_seconds()))

    async def _nap(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
        changed = asyncio.ensure_future(self._changed.wait())
        try:
            await asyncio.wait((sleeper, changed), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            changed.cancel()


def alarms_for(
    recs: Iterable[Recording], now: datetime, max_lead: timedelta, *, stops: bool = True
) -> list[tuple[str, str, datetime]]:
    """(kind, window id, when) of the alarms `recs` need from `now`: its opening command's
    (a start's `max_lead` early, as it may leave that early) unless it has opened, and its
    stop. Each rings `ARM_AHEAD` before its time: the dispatcher's own timer is exact."""
    out: list[tuple[str, str, datetime]] = []
    for rec in recs:
        if rec.start > now:
            lead = max_lead if rec.opens_with is Command.START else timedelta(0)
            out.append((str(rec.opens_with), rec.window_id, rec.start - lead - ARM_AHEAD))
        if stops and rec.closes:
            out.append((STOP, rec.window_id, rec.end - ARM_AHEAD))
    return out

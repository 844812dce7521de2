"""The engine proper: the windows in force, the alarms that wake it, the state it keeps and the
dispatcher it feeds. Lifecycle (loading, reload triggers, shutdown) is `daemon.py`'s.

Every decision that is not I/O is a pure function (`lifecycle`, `reconcile`); this class applies
them: intents are written (durably) before an opening command may leave, outcomes move the rows
on, alarms are kept in step with the windows by window id. Everything it talks to is handed to
it at construction: its tasks' scope, who hears settled commands, who hears a clock jump.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TypeVar

import structlog

from liverecd.api.retry import RetryPolicy
from liverecd.clock import Clock
from liverecd.config import Config
from liverecd.engine.alarms import ARM_AHEAD, STOP, Alarms, alarms_for
from liverecd.engine.dispatch.dispatcher import DROPS, Dispatcher, Sender, StreamWait
from liverecd.engine.dispatch.orders import Failure, Order, Settled
from liverecd.engine.dispatch.timing import Pacer
from liverecd.engine.lifecycle import Phase, after_settled, opening_row, stop_targets
from liverecd.engine.observer import EngineObserver, tell
from liverecd.engine.online.sessions import OpenWindow, watch_rank
from liverecd.engine.reconcile import ReconcilePlan, reconcile, resolve_order
from liverecd.engine.store.book import StateBook
from liverecd.engine.store.interface import StateStore
from liverecd.engine.tasks import Scope
from liverecd.schedule.actions import Recording
from liverecd.streams import Command, StreamKey

log = structlog.get_logger(__name__)

DROPPED = ("fatal", *DROPS)  # a failure the status shows
OPENS = (Command.START, Command.RESTART)
SLICE = 2000  # windows re-armed per turn of the loop during a reload
INTENT_WAIT = timedelta(seconds=1)  # then openings wait for their intent in the background
T = TypeVar("T")


def diff_windows(
    old: Mapping[str, Recording], new: Mapping[str, Recording]
) -> tuple[list[str], list[str], list[str]]:
    """Window ids removed, changed and added from `old` to `new` (pure; runs off the loop)."""
    removed = [k for k in old if k not in new]
    added = [k for k in new if k not in old]
    changed = [k for k, r in new.items() if k in old and old[k] != r]
    return removed, changed, added


def _slices(ids: list[T]) -> list[list[T]]:
    return [ids[i : i + SLICE] for i in range(0, len(ids), SLICE)]


def _deadline(order: Order) -> datetime:
    return order.deadline or order.due


class Engine:
    """Timeline + state + alarms + dispatcher. Create on the event loop."""

    def __init__(
        self, config: Config, *, sender: Sender, pacer: Pacer, store: StateStore, clock: Clock,
        observer: EngineObserver, policy: RetryPolicy, on_change: Callable[[], None],
        tasks: Scope, listeners: Sequence[Callable[[Settled], None]] = (),
        on_clock_jump: Callable[[], None] | None = None, stream_wait: StreamWait | None = None,
        intent_timeout: float | None = None,
    ) -> None:  # fmt: skip
        self.config = config
        self.clock = clock
        self._observer = observer
        self.book = StateBook(store, clock, intent_timeout=intent_timeout, on_change=on_change)
        self.windows: dict[str, Recording] = {}
        self.last_failure: Failure | None = None
        self._on_change = on_change
        self.tasks = tasks
        self._listeners = tuple(listeners)  # e.g. the watch's notes, verification, the page
        self._on_clock_jump = on_clock_jump or (lambda: None)  # the daemon re-expands windows
        self._max_lead = config.max_lead
        self.alarms = Alarms(self._alarm, clock)
        self.dispatcher = Dispatcher(
            sender, pacer, policy, clock,
            max_lead=config.max_lead.total_seconds(), on_settled=self._settled,
            resolve=self._resolve, observer=observer, on_clock_jump=self._clock_jumped,
            stream_wait=stream_wait,
        )  # fmt: skip
        self.clock_jumps = 0

    # -- applying plans -----------------------------------------------------------------------

    async def apply(self, plan: ReconcilePlan) -> None:
        """Write the plan's rows, submit its stops and cancel_delays at once and its opening
        commands once their intent is durable (no start leaves without it; past `INTENT_WAIT` they
        wait in the background, so a failing store holds no start-up or reload)."""
        self.book.delete(*plan.deletes)
        durable = self.book.put(*plan.puts)
        opening = [o for o in plan.orders if o.opens]
        for order in plan.orders:
            if not order.opens:
                self.dispatcher.submit(order)
        if opening and not await self.book.durable(durable, self.clock.wall() + INTENT_WAIT):
            opening = [o for o in opening if _deadline(o) > self.clock.wall()]
            self.tasks.spawn(self._submit_when_durable(durable, opening), name="reconcile-intents")
            opening = []
        for order in opening:
            self.dispatcher.submit(order)
        self._on_change()

    async def _submit_when_durable(self, fut: asyncio.Future[None], orders: list[Order]) -> None:
        for order in sorted(orders, key=_deadline):
            if await self.book.durable(fut, _deadline(order)):
                self.dispatcher.submit(order)

    def reconcile(self, previous: Mapping[str, Recording] | None) -> ReconcilePlan:
        """The commands owed now (`previous`: the windows before a reload; None at start-up)."""
        return reconcile(self.windows, self.book.rows(), self.clock.wall(), previous=previous)

    # -- keeping alarms in step with the windows ---------------------------------------------

    async def replace_windows(self, new: dict[str, Recording]) -> dict[str, int]:
        """Switch to `new`, re-arming by window id: unchanged windows are not touched, removed
        ones lose their alarms and unsent opening commands, a moved end moves the stop.

        The diff is computed off the loop and applied in slices, so that a reload of 100,000
        windows never holds the loop for long (the watchdog and /healthz keep answering)."""
        old = self.windows
        removed, changed, added = await asyncio.to_thread(diff_windows, old, new)
        self.windows = new
        for chunk in _slices(removed):
            for wid in chunk:
                for kind in (*OPENS, STOP):
                    self.alarms.cancel(str(kind), wid)
                self.dispatcher.cancel(wid, set(OPENS))
            await asyncio.sleep(0)
        for chunk in _slices(changed):
            for wid in chunk:
                self._rearm_changed(old[wid], new[wid])
            await asyncio.sleep(0)
        for chunk in _slices([*added, *changed]):
            self._arm_many([new[wid] for wid in chunk], self.clock.wall())
            await asyncio.sleep(0)
        self._on_change()
        return {"added": len(added), "removed": len(removed), "changed": len(changed),
                "unchanged": len(new) - len(added) - len(changed)}  # fmt: skip

    def _rearm_changed(self, before: Recording, after: Recording) -> None:
        wid = after.window_id
        if (before.end, before.closes) != (after.end, after.closes):
            self.alarms.cancel(STOP, wid)
            self.dispatcher.cancel(wid, {Command.STOP})
            self.dispatcher.update_deadline(wid, after.end)
        if before.opens_with != after.opens_with:
            self.alarms.cancel(str(before.opens_with), wid)

    def _arm_many(self, recs: list[Recording], now: datetime, *, stops: bool = True) -> None:
        for kind, wid in self.alarms.set_many(alarms_for(recs, now, self._max_lead, stops=stops)):
            self._alarm(kind, wid)

    def _alarm(self, kind: str, window_id: str) -> None:
        rec = self.windows.get(window_id)
        if rec is None:
            return
        self._on_change()  # the next action moved on
        if kind == STOP:
            self.close_due(rec)
        else:
            self.tasks.spawn(self.open_due(rec), name=f"open-{window_id}")

    async def open_due(self, rec: Recording) -> None:
        """Hand `rec`'s opening command to the dispatcher, its intent durable first."""
        now = self.clock.wall()
        if rec.end <= now or any(self.dispatcher.pending(rec.window_id, c) for c in OPENS):
            return
        own = self.book.get(rec.window_id)
        command = rec.opens_with  # the resolver has the last word when it leaves
        if (own is None or not own.phase.running) and not await self.book.durable(
            self.book.put(opening_row(rec, command, now)), rec.end
        ):
            # The window ended before its intent could be written: no start. The row stays in
            # the mirror, so its stop still goes out (a stop is never skipped on a guess).
            log.error("start_not_sent", window=rec.window_id, stream=str(rec.stream),
                      reason="state_write_failed", error=self.book.last_error)  # fmt: skip
            return
        rec = self.windows.get(rec.window_id, rec)  # as a reload during the write left it
        for row in self.book.of_stream(rec.stream):  # their stops first: never overtaken
            if (prev := self.windows.get(row.window_id)) is not None and prev.end <= rec.start:
                self.close_due(prev)
        self.dispatcher.submit(
            Order(command=command, stream=rec.stream, window_id=rec.window_id, due=rec.start,
                  deadline=rec.end, early=command is Command.START)
        )  # fmt: skip

    def close_due(self, rec: Recording) -> None:
        """Queue `rec`'s stop at its end, when something of its stream is running."""
        if not rec.closes:
            return
        rows = self.book.of_stream(rec.stream)
        if stop_targets(rec.window_id, rows, self.windows, rec.end):
            self.dispatcher.submit(
                Order(command=Command.STOP, stream=rec.stream, window_id=rec.window_id,
                      due=rec.end)
            )  # fmt: skip

    def rearm(self, stream: StreamKey, window_id: str) -> bool:
        """The watch saw `stream` live in a session our last start did not cover: start the
        open window again (or hurry a start already waiting for the stream). True when a
        command was queued or hurried."""
        rec = self.windows.get(window_id)
        if rec is None or not rec.is_open(self.clock.wall()):
            return False
        if self.dispatcher.expedite(window_id):
            return True
        if any(self.dispatcher.pending(window_id, c) for c in OPENS):
            return False
        return self.dispatcher.submit(
            Order(command=Command.START, stream=stream, window_id=window_id,
                  due=self.clock.wall(), deadline=rec.end, reassert=True)
        )  # fmt: skip

    def watched(self) -> dict[StreamKey, OpenWindow]:
        """Windows the daemon opened or is opening that have not ended, for the watch: a start
        sent early under `max_lead` is watched from then on, so the watch remembers it when its
        window opens instead of asking for a second start. Reads the rows (few), not the
        timetable."""
        now, out = self.clock.wall(), dict[StreamKey, OpenWindow]()
        for row in self.book.rows_running():
            rec = self.windows.get(row.window_id)
            if rec is not None and rec.end > now:
                seen = out.get(rec.stream)
                if seen is None or watch_rank(rec.start, now) > watch_rank(seen.start, now):
                    out[rec.stream] = OpenWindow(rec.window_id, rec.start, rec.end)
        return out

    def counts(self) -> tuple[int, int]:
        """Windows held open (opening or recording), and recordings the API confirmed."""
        return self.book.count(Phase.OPENING, Phase.RECORDING), self.book.count(Phase.RECORDING)

    def _resolve(self, order: Order) -> Command | None:
        rows = self.book.of_stream(order.stream)
        return resolve_order(order, rows, self.windows, self.clock.wall())

    def _settled(self, settled: Settled) -> None:
        now = self.clock.wall()
        rows = self.book.of_stream(settled.order.stream)
        t = after_settled(settled, rows, self.windows, now)
        if t.puts:
            self.book.put(*t.puts)
        if t.deletes:
            self.book.delete(*t.deletes)
        for order in t.orders:
            self.dispatcher.submit(order)
        wid = settled.order.window_id
        rec = self.windows.get(wid)
        if rec and settled.succeeded and settled.order.opens and not self.alarms.is_set(STOP, wid):
            self.close_due(rec)  # its stop alarm rang before it had a row (start-up, clock step)
        if self._listeners:
            tell(self._listeners, replace(settled, window=rec))
        if settled.reason in DROPPED:
            result = settled.result
            cause = (result.code or result.transport_error) if result else None
            if settled.reason != "fatal":  # a refusal is counted at its attempt ("refused")
                self._observer.command_dropped(settled.command, settled.reason)
            self.last_failure = Failure(
                now, f"{settled.command} {settled.order.stream}: {settled.reason} ({cause})"
            )
        self._on_change()

    def _clock_jumped(self, jump: float) -> None:
        self.clock_jumps += 1
        self.alarms.wakeup()
        self._on_clock_jump()
        self._on_change()

    def set_max_lead(self, max_lead: timedelta) -> None:
        """Use `max_lead` from now on (main-config reload): queued starts are planned again, and
        the alarms of starts not handed over yet move (in the background, in slices)."""
        old, self._max_lead = self._max_lead, max_lead
        if old != max_lead:
            self.dispatcher.set_max_lead(max_lead.total_seconds())
            self.tasks.spawn(self._move_start_alarms(old), name="max-lead")

    async def _move_start_alarms(self, old: timedelta) -> None:
        waiting = [r for r in self.windows.values() if r.opens_with is Command.START]
        for chunk in _slices(waiting):
            now = self.clock.wall()
            # An alarm that rang handed its start to the dispatcher (re-planned above): arming
            # it again would send that start twice.
            due = [
                r for r in chunk
                if r.start - old - ARM_AHEAD > now and self.windows.get(r.window_id) is r
            ]  # fmt: skip
            self._arm_many(due, now, stops=False)
            await asyncio.sleep(0)

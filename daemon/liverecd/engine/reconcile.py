"""Reconcile: from the windows, what the daemon remembers, and now, the commands owed. Pure.

Start-up and every reload reconcile from the timetable instead of replaying missed events:

- a recording open now gets its opening command (at start-up always, re-asserting what may
  already run: TaskAlreadyStarted is success; on reload only when its window is new);
- a running row whose window has closed or vanished, on a stream with nothing open now, gets its
  stop (and, once that lands, its cancel_delay); a stop that landed before a crash gets the
  cancel_delay it was still owed;
- a running row whose stream is still open under another window id (a start moved earlier while
  recording, a chain of touching windows) is carried over: on reload no command at all, at
  start-up the re-asserted start takes the row over. Stopping the daemon never stops anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from liverecd.engine.dispatch.orders import Order
from liverecd.engine.lifecycle import Phase, RecordingState, is_stale, opening_row, stop_targets
from liverecd.schedule.actions import Recording
from liverecd.streams import Command, StreamKey


@dataclass(frozen=True, slots=True)
class ReconcilePlan:
    """Rows to write (before sending), rows to forget, orders to submit, and counts to log."""

    orders: tuple[Order, ...] = ()
    puts: tuple[RecordingState, ...] = ()
    deletes: tuple[str, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)


def opening_command(rec: Recording, rows: Iterable[RecordingState], now: datetime) -> Command:
    """The command that opens `rec` at start-up or reload, given its stream's rows: `start`
    re-asserting a recording the daemon opened (or may have opened: a restart whose outcome
    is unknown is not repeated), else `resolve_opening` of what the windows planned."""
    own = next((r for r in rows if r.window_id == rec.window_id), None)
    if own is not None and own.phase.running:
        return Command.START
    return resolve_opening(rec.opens_with, rec, rows, now)


def resolve_opening(
    planned: Command, rec: Recording, rows: Iterable[RecordingState], now: datetime
) -> Command:
    """The opening command to send now for `rec`, which the windows planned as `planned`.

    `restart` when the stream's task is known to be held by an earlier recording: a split
    boundary (the earlier one still runs and hands over), or a delayed stop whose delay is not
    over (start would be answered TaskAlreadyStarted while nothing records). Otherwise `start`,
    also when a restart was planned but nothing is known to hold the task (a restart of an
    idle task is not a documented transition).
    """
    before = [r for r in rows if r.window_id != rec.window_id and r.start < rec.start]
    if planned is Command.RESTART and any(r.phase.running for r in before):
        return Command.RESTART
    if any(r.phase is Phase.DELAYING and not r.delay_over(now) for r in before):
        return Command.RESTART
    return Command.START


def resolve_order(
    order: Order, rows: list[RecordingState], windows: Mapping[str, Recording], now: datetime
) -> Command | None:
    """What `order` becomes just before its first attempt leaves (None: nothing to send): an
    opening command is settled from its stream's rows then (unless it re-asserts), a stop goes
    only while something of its stream still runs for it."""
    if order.opens:
        rec = windows.get(order.window_id)
        if rec is None:
            return None
        return order.command if order.reassert else resolve_opening(order.command, rec, rows, now)
    if order.command is Command.STOP:
        return Command.STOP if stop_targets(order.window_id, rows, windows, now) else None
    return order.command


def reconcile(
    windows: Mapping[str, Recording],
    rows: Iterable[RecordingState],
    now: datetime,
    *,
    previous: Mapping[str, Recording] | None = None,
) -> ReconcilePlan:
    """The commands owed now. `previous` is the windows before a reload (None at start-up).

    `windows` holds the recordings that have not ended (end > now), keyed by window id.
    """
    by_stream: dict[StreamKey, list[RecordingState]] = {}
    for r in rows:
        by_stream.setdefault(r.stream, []).append(r)
    open_now = {rec.stream: rec for rec in windows.values() if rec.is_open(now)}
    plan = _Builder(windows, now, previous)
    for stream in sorted(set(by_stream) | set(open_now)):
        plan.stream(stream, open_now.get(stream), by_stream.get(stream, []))
    return plan.build()


class _Builder:
    def __init__(
        self,
        windows: Mapping[str, Recording],
        now: datetime,
        previous: Mapping[str, Recording] | None,
    ) -> None:
        self.windows, self.now, self.previous = windows, now, previous
        self.orders: list[Order] = []
        self.puts: list[RecordingState] = []
        self.deletes: list[str] = []
        self.counts = dict.fromkeys(
            ("opened", "reasserted", "carried", "stopped", "finalized", "forgotten"), 0
        )

    def build(self) -> ReconcilePlan:
        return ReconcilePlan(tuple(self.orders), tuple(self.puts), tuple(self.deletes), self.counts)

    def order(
        self,
        command: Command,
        stream: StreamKey,
        window_id: str,
        deadline: datetime | None = None,
        *,
        reassert: bool = False,
    ) -> None:
        self.orders.append(
            Order(command=command, stream=stream, window_id=window_id, due=self.now,
                  deadline=deadline, reassert=reassert)
        )  # fmt: skip

    def stream(self, stream: StreamKey, rec: Recording | None, rows: list[RecordingState]) -> None:
        for r in rows:
            if r.phase is Phase.DELAYING and r.delay_over(self.now):
                self.deletes.append(r.window_id)
                self.counts["forgotten"] += 1
        finalizing = [r for r in rows if r.phase is Phase.FINALIZING]
        if finalizing:
            self.order(Command.CANCEL_DELAY, stream, finalizing[-1].window_id)
            self.counts["finalized"] += 1
        orphans = [r for r in rows if r.phase.running and is_stale(r, self.windows, self.now)]
        if rec is not None:
            self.open(rec, rows, orphans)
        elif orphans:
            latest = max(orphans, key=lambda r: r.start)
            self.order(Command.STOP, stream, latest.window_id)
            self.counts["stopped"] += 1

    def open(
        self, rec: Recording, rows: list[RecordingState], orphans: list[RecordingState]
    ) -> None:
        own = next((r for r in rows if r.window_id == rec.window_id), None)
        own_running = own is not None and own.phase.running
        if self.previous is not None:
            before = self.previous.get(rec.window_id)
            # A window this daemon had already closed and that an edit opens again (its end
            # moved later) is owed its opening command like a new one; any other is not touched.
            if before is not None and (own_running or before.end > self.now):
                return
            if orphans and not own_running:
                self.carry(rec, orphans)
                return
        # Opened again inside its own stop's delay: restart (start would be TaskAlreadyStarted
        # while nothing records), final as it is (its intent row replaces the delaying one).
        delaying = own is not None and own.phase is Phase.DELAYING and not own.delay_over(self.now)
        command = Command.RESTART if delaying else opening_command(rec, rows, self.now)
        if not own_running:
            self.puts.append(opening_row(rec, command, self.now))
        self.order(command, rec.stream, rec.window_id, rec.end, reassert=own_running or delaying)
        self.counts["reasserted" if own_running or orphans else "opened"] += 1

    def carry(self, rec: Recording, orphans: list[RecordingState]) -> None:
        """The stream keeps recording under a new window id: move the row, send nothing."""
        donor = max(orphans, key=lambda r: r.start)
        row = opening_row(rec, donor.last_command, self.now)
        self.puts.append(replace(row, phase=donor.phase, started_at=donor.started_at))
        self.deletes.extend(r.window_id for r in orphans)
        self.counts["carried"] += 1

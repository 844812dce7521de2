"""The window lifecycle (DESIGN.md §6): where each window stands, and what every outcome
changes. Pure; the engine applies it, the state store persists its rows.

A window moves `scheduled → opening → recording → closing → finalizing → verifying → done`,
with the exits `missed` (it ended before any opening command landed), `failed` (the API refused
for good) and `cancelled` (a reload removed it before it opened). What is persisted is the
window's `RecordingState` row, whose `Phase` carries the stages a restarted daemon must know:

| stage | how it is kept |
|---|---|
| scheduled | in the windows; no row |
| opening | row `opening`: the intent is durable, the opening command is out or about to go |
| recording | row `recording`: the API confirmed (TaskAlreadyStarted included) |
| closing | row `recording` with its stop queued or in flight (the dispatcher's) |
| finalizing | row `finalizing` (stop done, cancel_delay owed) or `delaying` (finalize: delayed) |
| verifying, done | row gone; the verifier's own row until its result is stored (`verify/`) |

Every event is one of these pure functions: an opening alarm (`opening_row`), an outcome
(`after_settled`), a stop alarm (`stop_targets`), start-up and reload (`engine/reconcile.py`,
which asks "what is owed now?" of the rows and the windows).

What an outcome changes:
- an opening command that landed: its row records; earlier rows of the stream it took over (a
  split boundary, a carried-over recording, a task that was waiting out its stop delay) are
  forgotten; if its window has meanwhile closed or vanished, a stop follows at once;
- an opening command that surely did nothing (never sent, or refused with nothing carried out):
  its intent row is forgotten; one that may have acted keeps its row, so the stop is still owed;
- an opening command whose window a reload moved while it was out (its row carried over to the
  window open now): the outcome is the new window's, which records, or is opened if it failed;
- a stop that landed: every running row it ended moves on (`finalizing` and a cancel_delay that
  takes the stop's place in the stream's lane, or `delaying` for finalize: delayed); if a reload
  gave the stream a window open now while it was out (its own end moved later, or a window the
  recording was carried over to), that window is opened again (also when the stop may have acted);
- a cancel_delay that landed (or was refused: the stop already ended the recording, and the
  file comes after the delay anyway): the stream's finalizing rows are forgotten.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from liverecd.engine.dispatch.orders import Order, Settled
from liverecd.schedule.actions import Recording
from liverecd.schedule.model import Finalize
from liverecd.streams import Command, StreamKey


class Phase(StrEnum):
    """Where a window's recording stands, as far as this daemon knows."""

    OPENING = "opening"  # the opening command is going out (or went): outcome not known yet
    RECORDING = "recording"  # the opening command succeeded
    FINALIZING = "finalizing"  # stop succeeded, cancel_delay pending (finalize: immediate)
    DELAYING = "delaying"  # stop succeeded (finalize: delayed): the task waits out its delay

    @property
    def running(self) -> bool:
        """True while a stop is still owed for this row."""
        return self in (Phase.OPENING, Phase.RECORDING)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingState:
    """One window the daemon opened or is opening. Instants are aware UTC."""

    window_id: str
    stream: StreamKey
    start: datetime
    end: datetime
    finalize: Finalize
    delay: timedelta
    phase: Phase
    last_command: Command
    updated_at: datetime
    started_at: datetime | None = None  # when the opening command first succeeded
    stopped_at: datetime | None = None  # when stop succeeded

    def delay_over(self, now: datetime) -> bool:
        """True when a DELAYING task has surely finished its stop delay by `now`."""
        return self.stopped_at is None or self.stopped_at + self.delay <= now


def is_stale(row: RecordingState, windows: Mapping[str, Recording], now: datetime) -> bool:
    """True when the row's window has closed or is no longer in the windows."""
    rec = windows.get(row.window_id)
    return rec is None or rec.end <= now


def opening_row(rec: Recording, command: Command, now: datetime) -> RecordingState:
    """The intent written before an opening command goes out."""
    return RecordingState(
        window_id=rec.window_id,
        stream=rec.stream,
        start=rec.start,
        end=rec.end,
        finalize=rec.finalize,
        delay=rec.delay,
        phase=Phase.OPENING,
        last_command=command,
        updated_at=now,
    )


DEFAULT_DELAY = timedelta(seconds=180)  # the platform's stop delay, when nothing else is known


@dataclass(frozen=True, slots=True)
class Transition:
    """Rows to write, rows to forget, orders to submit."""

    puts: tuple[RecordingState, ...] = ()
    deletes: tuple[str, ...] = ()
    orders: tuple[Order, ...] = ()


def after_settled(
    settled: Settled,
    rows: Sequence[RecordingState],
    windows: Mapping[str, Recording],
    now: datetime,
) -> Transition:
    """The transition for `settled`, given the rows of its stream and the current windows."""
    if settled.order.opens:
        return _after_open(settled, rows, windows, now)
    if settled.order.command is Command.STOP:
        return _after_stop(settled, rows, windows, now)
    return _after_cancel_delay(settled, rows)


def stop_targets(
    window_id: str,
    rows: Sequence[RecordingState],
    windows: Mapping[str, Recording],
    now: datetime,
) -> list[RecordingState]:
    """The running rows a stop for `window_id` ends: its own, and any whose window is over."""
    return [
        r
        for r in rows
        if r.phase.running and (r.window_id == window_id or is_stale(r, windows, now))
    ]


def _after_open(
    s: Settled, rows: Sequence[RecordingState], windows: Mapping[str, Recording], now: datetime
) -> Transition:
    wid = s.order.window_id
    own = next((r for r in rows if r.window_id == wid), None)
    rec = windows.get(wid)
    if own is None and (rec is None or rec.end <= now):
        heir = next((r for r in rows if r.phase.running and _open(r, windows, now)), None)
        if heir is not None:  # a reload carried its row over to the window open now
            return _carried(s, heir, windows[heir.window_id], now)
    if not s.succeeded:
        if own is not None and own.phase is Phase.OPENING and not s.maybe_acted:
            return Transition(deletes=(wid,))
        return Transition()
    row = _recording_row(s, own, rec, now)
    taken_over = tuple(
        r.window_id
        for r in rows
        if r.window_id != wid
        and r.start < row.start
        and (r.phase.running or r.phase is Phase.DELAYING)
    )
    orders: tuple[Order, ...] = ()
    if rec is None or rec.end <= now:
        # The window closed or vanished while its opening command was out: stop it now.
        orders = (Order(command=Command.STOP, stream=s.order.stream, window_id=wid, due=now),)
    return Transition(puts=(row,), deletes=taken_over, orders=orders)


def _open(row: RecordingState, windows: Mapping[str, Recording], now: datetime) -> bool:
    rec = windows.get(row.window_id)
    return rec is not None and rec.is_open(now)


def _carried(s: Settled, heir: RecordingState, rec: Recording, now: datetime) -> Transition:
    """The outcome of an opening command whose window a reload moved while it was out: the
    command was the heir's (never a stop for the old window: the stream records for the new
    one). Landed: the heir records. Not landed: the heir, which nothing opens else, is opened."""
    if s.succeeded:
        row = replace(heir, phase=Phase.RECORDING, last_command=s.command, updated_at=now,
                      started_at=heir.started_at or now)  # fmt: skip
        return Transition(puts=(row,))
    if heir.phase is not Phase.OPENING:
        return Transition()
    order = Order(command=Command.START, stream=heir.stream, window_id=heir.window_id, due=now,
                  deadline=rec.end)  # fmt: skip
    return Transition(orders=(order,))


def _recording_row(
    s: Settled, own: RecordingState | None, rec: Recording | None, now: datetime
) -> RecordingState:
    if own is not None:
        return replace(
            own,
            phase=Phase.RECORDING,
            last_command=s.command,
            updated_at=now,
            started_at=own.started_at or now,
            end=rec.end if rec is not None else own.end,
        )
    start, end = (rec.start, rec.end) if rec is not None else (s.order.due, now)
    return RecordingState(
        window_id=s.order.window_id,
        stream=s.order.stream,
        start=start,
        end=end,
        finalize=rec.finalize if rec is not None else Finalize.IMMEDIATE,
        delay=rec.delay if rec is not None else DEFAULT_DELAY,
        phase=Phase.RECORDING,
        last_command=s.command,
        updated_at=now,
        started_at=now,
    )


def _after_stop(
    s: Settled, rows: Sequence[RecordingState], windows: Mapping[str, Recording], now: datetime
) -> Transition:
    targets = stop_targets(s.order.window_id, rows, windows, now) if s.succeeded else []
    puts = []
    finalizing = False
    for r in targets:
        if r.finalize is Finalize.IMMEDIATE:
            finalizing = True
            puts.append(replace(r, phase=Phase.FINALIZING, last_command=Command.STOP,
                                updated_at=now, stopped_at=now))  # fmt: skip
        else:
            puts.append(replace(r, phase=Phase.DELAYING, last_command=Command.STOP,
                                updated_at=now, stopped_at=now))  # fmt: skip
    orders: tuple[Order, ...] = ()
    if finalizing:
        orders = (
            Order(
                command=Command.CANCEL_DELAY,
                stream=s.order.stream,
                window_id=s.order.window_id,
                due=now,
                chain_due=s.order.chain_due or s.order.due,
            ),
        )
    return Transition(puts=tuple(puts), orders=orders + _reopen(s, rows, windows, now, finalizing))


def _reopen(
    s: Settled, rows: Sequence[RecordingState], windows: Mapping[str, Recording], now: datetime,
    cancels: bool,
) -> tuple[Order, ...]:  # fmt: skip
    """A stop that may have acted while a reload had given its stream a window open now: its
    own window, whose end an edit moved later while the stop was out, or the window a reload
    carried the stream's recording over to. That window is opened again: start after the
    cancel_delay that `cancels` the stop's delay, else restart (the task may be in it)."""
    wid, rec = s.order.window_id, windows.get(s.order.window_id)
    if rec is None or rec.end <= s.order.due or not rec.is_open(now):
        heir = next((r for r in rows if r.window_id != wid and r.phase is Phase.RECORDING
                     and _open(r, windows, now)), None)  # fmt: skip
        rec = windows[heir.window_id] if heir is not None else None
    if rec is None or not s.maybe_acted:
        return ()
    command = Command.START if cancels else Command.RESTART
    return (Order(command=command, stream=s.order.stream, window_id=rec.window_id, due=now,
                  deadline=rec.end, reassert=not cancels),)  # fmt: skip


def _after_cancel_delay(s: Settled, rows: Sequence[RecordingState]) -> Transition:
    if s.reason in ("cancelled", "skipped"):
        return Transition()
    return Transition(deletes=tuple(r.window_id for r in rows if r.phase is Phase.FINALIZING))

"""Will the starts fit the quota? A model of the dispatcher's deadline-first pacing of starts.

DESIGN.md §5: when more starts are due than `qps` allows, they leave up to `max_lead` early, as
late as possible, so that each lands by its window's open. Here starts are spaced `1 / qps`
apart (the limiter's steady rate), ordered by due time then stream. Two passes, O(n log n):

1. Backward, from the last start: each leaves at its due time or one slot before its successor,
   whichever is earlier. That is the as-late-as-possible plan.
2. Forward: no start leaves before `due - max_lead` nor within one slot of its predecessor. Where
   the plan asked for more lead than allowed, the forward pass pushes starts later, and those
   that then leave after their due time are late, by as little as any pacing could manage.

Stops and cancel_delays are left out: starts go first, so they never delay a start.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from liverecd.schedule.actions import Action, Recording
from liverecd.schedule.model import Source
from liverecd.streams import Command, StreamKey

_OPENS = (Command.START, Command.RESTART)
_EPSILON = 1e-6  # seconds; float noise is not lateness


@dataclass(frozen=True, slots=True)
class PlannedStart:
    """A start (or restart) and when the dispatcher is expected to send it."""

    action: Action
    send_at: datetime
    lateness: timedelta  # zero when it lands by its due time

    @property
    def early(self) -> bool:
        """Whether it leaves before its due time."""
        return self.send_at < self.action.time


@dataclass(frozen=True, slots=True)
class LateStart:
    """A window whose start cannot land by its open under the quota."""

    source: Source
    stream: StreamKey
    window_id: str
    due: datetime
    lateness: timedelta


def plan_starts(
    items: Iterable[Action | Recording], qps: float, max_lead: timedelta
) -> list[PlannedStart]:
    """Expected send time and lateness of every start and restart in `items`, in send order.

    Recordings count by their opening action; other commands are ignored. `qps` > 0.
    """
    starts = _openings(items)
    if not starts:
        return []
    base, send, due = _simulate(starts, qps, max_lead)
    out: list[PlannedStart] = []
    for item, d, s in zip(starts, due, send, strict=True):
        action = _as_action(item)
        when = action.time if abs(s - d) < _EPSILON else base + timedelta(seconds=s)
        late = timedelta(seconds=s - d) if s - d > _EPSILON else timedelta(0)
        out.append(PlannedStart(action, when, late))
    return out


def late_starts(
    items: Iterable[Action | Recording], qps: float, max_lead: timedelta
) -> list[LateStart]:
    """The starts in `items` that cannot land by their due time, and by how much."""
    starts = _openings(items)
    if not starts:
        return []
    _, send, due = _simulate(starts, qps, max_lead)
    return [
        LateStart(a.source, a.stream, a.window_id, _order(a)[0], timedelta(seconds=s - d))
        for a, d, s in zip(starts, due, send, strict=True)
        if s - d > _EPSILON
    ]


def _openings(items: Iterable[Action | Recording]) -> list[Action | Recording]:
    """The openings in `items`, in dispatch order (due time; the window id breaks ties)."""
    found = [item for item in items if isinstance(item, Recording) or item.command in _OPENS]
    found.sort(key=_order)
    return found


def _as_action(item: Action | Recording) -> Action:
    if isinstance(item, Action):
        return item
    return Action(item.start, item.opens_with, item.stream, item.window_id, item.source)


def _order(item: Action | Recording) -> tuple[datetime, str]:
    return (item.time if isinstance(item, Action) else item.start, item.window_id)


def _simulate(
    starts: Sequence[Action | Recording], qps: float, max_lead: timedelta
) -> tuple[datetime, list[float], list[float]]:
    """(base, send, due): seconds after `base` (the first due time), which keeps the floats
    small enough for microsecond precision."""
    base = _order(starts[0])[0]
    due = [(_order(a)[0] - base).total_seconds() for a in starts]
    slot = 1.0 / qps
    send = _as_late_as_possible(due, slot)
    _push_within_lead(send, due, slot, max_lead.total_seconds())
    return base, send, due


def _as_late_as_possible(due: Sequence[float], slot: float) -> list[float]:
    send = list(due)
    for i in range(len(send) - 2, -1, -1):
        limit = send[i + 1] - slot
        if limit < send[i]:
            send[i] = limit
    return send


def _push_within_lead(send: list[float], due: Sequence[float], slot: float, lead: float) -> None:
    previous = float("-inf")
    for i, d in enumerate(due):
        earliest = max(d - lead, previous + slot)
        if send[i] < earliest:
            send[i] = earliest
        previous = send[i]

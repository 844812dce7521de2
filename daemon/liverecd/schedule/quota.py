"""Will the starts fit the quota? The dispatcher's release plan, played through the limiter.

DESIGN.md §5: when more starts are due than `qps` allows, they leave up to `max_lead` early, as
late as possible, so that each lands by its window's open. The release times come from the very
function the dispatcher plans with (`liverecd.release_plan.plan_releases`), starts ordered by
due time then window id, spaced `1 / qps` apart (the limiter's steady rate). Then the limiter:
no start leaves before its release nor within one slot of its predecessor; those that then leave
after their due time are late, by as little as any pacing could manage. O(n log n).

Stops and cancel_delays are left out: starts go first, so they never delay a start.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from liverecd.config import Source
from liverecd.release_plan import Release, plan_releases
from liverecd.schedule.actions import Action, Recording
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
    starts, whens = _openings(items)
    if not starts:
        return []
    base, send, due = _simulate(whens, qps, max_lead)
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
    starts, whens = _openings(items)
    if not starts:
        return []
    _, send, due = _simulate(whens, qps, max_lead)
    return [
        LateStart(a.source, a.stream, a.window_id, when, timedelta(seconds=s - d))
        for a, when, d, s in zip(starts, whens, due, send, strict=True)
        if s - d > _EPSILON
    ]


def _openings(
    items: Iterable[Action | Recording],
) -> tuple[list[Action | Recording], list[datetime]]:
    """The openings in `items` in dispatch order (due time; the window id breaks ties), and
    their due times."""
    found = [item for item in items if isinstance(item, Recording) or item.command in _OPENS]
    found.sort(key=_order)
    return found, [item.start if isinstance(item, Recording) else item.time for item in found]


def _order(item: Action | Recording) -> tuple[datetime, str]:
    return (item.start if isinstance(item, Recording) else item.time, item.window_id)


def _as_action(item: Action | Recording) -> Action:
    if isinstance(item, Action):
        return item
    return Action(item.start, item.opens_with, item.stream, item.window_id, item.source)


def _simulate(
    whens: Sequence[datetime], qps: float, max_lead: timedelta
) -> tuple[datetime, list[float], list[float]]:
    """(base, send, due): seconds after `base` (the first due time), which keeps the floats
    small enough for microsecond precision."""
    base = whens[0]
    due = [(when - base).total_seconds() for when in whens]
    slot = 1.0 / qps
    return base, _through_limiter(plan_releases(due, slot, max_lead.total_seconds()), slot), due


def _through_limiter(plan: Sequence[Release], slot: float) -> list[float]:
    """When each start leaves: at its release, but never within one slot of the previous."""
    send: list[float] = []
    previous = float("-inf")
    for item in plan:
        previous = max(item.release, previous + slot)
        send.append(previous)
    return send

"""What expansion produces: merged recordings and the timed actions that drive them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from liverecd.config import Source
from liverecd.schedule.model import Finalize
from liverecd.streams import Command, StreamKey


@dataclass(frozen=True, slots=True)
class Recording:
    """One recording of one stream after merging, padding and the DST rule.

    `window_id` is stable across reloads: it derives from the stream and the padded start
    instant only, so editing a window's end keeps its id (and moves its stop).
    `opens_with` is RESTART at a `split: true` boundary, or when the previous recording of the
    stream (finalize: delayed) is still inside stop's delay; otherwise START.
    `closes` is False when the next split window takes over with a restart instead of a stop.
    """

    window_id: str
    stream: StreamKey
    start: datetime
    end: datetime
    sources: tuple[Source, ...]
    finalize: Finalize = Finalize.IMMEDIATE
    delay: timedelta = timedelta(seconds=180)
    opens_with: Command = Command.START
    closes: bool = True

    def is_open(self, now: datetime) -> bool:
        """True when `now` lies in [start, end)."""
        return self.start <= now < self.end

    @property
    def source(self) -> Source:
        """Where the recording's first window is written."""
        return self.sources[0]


@dataclass(frozen=True, slots=True)
class Action:
    """One command due at one instant (UTC) for one recording."""

    time: datetime
    command: Command
    stream: StreamKey
    window_id: str
    source: Source

    def sort_key(self) -> tuple[datetime, int, str, str, str, str]:
        """Time, then command class (start < stop < cancel_delay), then stream (as StreamKey
        orders: domain, app, name), then window id."""
        # The stream's fields, not the StreamKey: its generated comparisons run in Python, and
        # sorting a day of actions compares keys a few million times.
        key = self.stream
        return (self.time, _RANK[self.command], key.domain, key.app, key.stream, self.window_id)


_RANK = {command: command.rank for command in Command}


def actions_in(recs: list[Recording], start: datetime, end: datetime) -> list[Action]:
    """The actions of `recs` due in [start, end), sorted: open (`start` or `restart`), then at
    close `stop` and, for immediate finalize, `cancel_delay` at the same instant."""
    return sorted(unsorted_actions(recs, start, end), key=Action.sort_key)


def unsorted_actions(recs: list[Recording], start: datetime, end: datetime) -> list[Action]:
    """The actions of `actions_in`, in no particular order."""
    out: list[Action] = []
    for r in recs:
        if start <= r.start < end:
            out.append(Action(r.start, r.opens_with, r.stream, r.window_id, r.source))
        if r.closes and start <= r.end < end:
            out.append(Action(r.end, Command.STOP, r.stream, r.window_id, r.source))
            if r.finalize is Finalize.IMMEDIATE:
                out.append(Action(r.end, Command.CANCEL_DELAY, r.stream, r.window_id, r.source))
    return out

"""The next windows, by start, without looking at every window on each request.

The engine keeps its timeline as a dict by window id (what reconcile and the alarms need); the
page needs "the next N windows from now, maybe of streams matching a substring". `WindowIndex`
sorts the timeline once (and groups it by stream), and a request is then a bisection: O(log n)
for the whole list, O(streams + page) with a filter; it runs in the status thread, never on
the daemon's loop. It is rebuilt only when the engine
switches to another timeline object (a reload, the hourly horizon), which the engine does by
replacing the dict, never by mutating it: `IndexCache` keys on that identity.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping
from datetime import datetime

from liverecd.schedule.actions import Recording


def _timestamp(rec: Recording) -> float:
    return rec.start.timestamp()


class WindowIndex:
    """The windows of one timeline, sorted by start, overall and per stream. Immutable."""

    def __init__(self, timeline: Mapping[str, Recording]) -> None:
        # One C-level copy: safe against a concurrent replacement. A float key keeps the
        # C part of the sort (which holds the GIL, so the daemon's loop too) to a few ms at
        # 100,000 windows; tuples of datetimes took 100 ms. Ties keep the timeline's order.
        recs = list(timeline.values())
        recs.sort(key=_timestamp)
        self._recs = recs
        self._starts = [r.start for r in recs]
        by_stream: dict[str, list[int]] = {}
        for i, rec in enumerate(recs):
            by_stream.setdefault(str(rec.stream), []).append(i)
        self._streams = by_stream  # positions in `_recs`, ascending
        self._names = sorted(by_stream)
        self.size = len(recs)

    def upcoming(
        self, now: datetime, *, needle: str = "", offset: int = 0, limit: int = 50
    ) -> tuple[list[Recording], int]:
        """Windows starting after `now` whose stream contains `needle`: one page of them, by
        start, and how many there are in all."""
        first = bisect_right(self._starts, now)
        if not needle:
            return self._recs[first + offset : first + offset + limit], self.size - first
        tails: list[Iterator[int]] = []
        total = 0
        for name in self._names:
            if needle in name:
                positions = self._streams[name]
                at = bisect_left(positions, first)
                tails.append(itertools.islice(positions, at, None))
                total += len(positions) - at
        merged = itertools.islice(heapq.merge(*tails), offset, offset + limit)
        return [self._recs[i] for i in merged], total


class IndexCache:
    """The index of the timeline in force, rebuilt when the engine replaced its timeline.
    Thread-safe: the status thread builds it; the event loop never waits for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._source: Mapping[str, Recording] | None = None
        self._index: WindowIndex | None = None

    def get(self, timeline: Mapping[str, Recording]) -> WindowIndex:
        """The index of `timeline` (built now if it is not the one indexed last)."""
        with self._lock:
            if self._index is None or self._source is not timeline:
                self._index = WindowIndex(timeline)
                self._source = timeline
            return self._index

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
from collections.abc import Mapping
from datetime import datetime

from liverecd.schedule.actions import Recording

WIDE = 20  # a filter matching 1/WIDE of the streams or more walks the overall order


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
        self._stream_at = [str(rec.stream) for rec in recs]  # the stream of each position
        for i, name in enumerate(self._stream_at):
            by_stream.setdefault(name, []).append(i)
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
        names = [n for n in self._names if needle in n]
        firsts = [bisect_left(self._streams[n], first) for n in names]
        total = sum(len(self._streams[n]) for n in names) - sum(firsts)
        if len(names) * WIDE >= len(self._names):
            # Many streams match: walking the overall order finds a page within about
            # WIDE * (offset + limit) windows, and allocates nothing per stream.
            wanted, at = frozenset(names), self._stream_at
            hits = (i for i in range(first, self.size) if at[i] in wanted)
        else:
            pairs = zip(names, firsts, strict=True)
            hits = heapq.merge(*(itertools.islice(self._streams[n], i, None) for n, i in pairs))
        return [self._recs[i] for i in itertools.islice(hits, offset, offset + limit)], total


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

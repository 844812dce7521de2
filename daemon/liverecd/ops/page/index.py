"""The next windows, by start, without looking at every window on each request.

The engine keeps its timeline as a dict by window id (what reconcile and the alarms need); the
page needs "the next N windows from now, maybe of streams matching a substring". `WindowIndex`
sorts the timeline once (per stream too), and a request is then a bisection: O(log n) for the
whole list, O(matching streams + page) with a filter. It is rebuilt only when the engine
switches to another timeline object (a reload, the hourly horizon), which the engine does by
replacing the dict, never by mutating it: `IndexCache` keys on that identity.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

from liverecd.schedule.actions import Recording


def _start_key(rec: Recording) -> tuple[datetime, str]:
    return (rec.start, rec.window_id)


class _Run:
    """Recordings sorted by start, with their starts alongside for bisection."""

    __slots__ = ("recs", "starts")

    def __init__(self, recs: list[Recording]) -> None:
        recs.sort(key=_start_key)
        self.recs = recs
        self.starts = [r.start for r in recs]

    def after(self, now: datetime) -> int:
        """Index of the first recording starting after `now`."""
        return bisect_right(self.starts, now)


class WindowIndex:
    """The windows of one timeline, sorted by start, overall and per stream."""

    def __init__(self, timeline: Mapping[str, Recording]) -> None:
        # One C-level copy: safe against a concurrent replacement, cheap at 100,000 windows.
        recs = list(timeline.values())
        by_stream: dict[str, list[Recording]] = {}
        for rec in recs:
            by_stream.setdefault(str(rec.stream), []).append(rec)
        self._all = _Run(recs)
        self._streams = {name: _Run(rs) for name, rs in by_stream.items()}
        self._names = sorted(self._streams)
        self.size = len(recs)

    def upcoming(
        self, now: datetime, *, needle: str = "", offset: int = 0, limit: int = 50
    ) -> tuple[list[Recording], int]:
        """Windows starting after `now` whose stream contains `needle`: one page of them, by
        start, and how many there are in all."""
        if not needle:
            first = self._all.after(now)
            return self._all.recs[first + offset : first + offset + limit], self.size - first
        runs = [self._streams[n] for n in self._names if needle in n]
        tails = [(run, run.after(now)) for run in runs]
        total = sum(len(run.recs) - i for run, i in tails)
        merged: Iterator[Recording] = heapq.merge(
            *(itertools.islice(run.recs, i, None) for run, i in tails), key=_start_key
        )
        return list(itertools.islice(merged, offset, offset + limit)), total

    def streams_matching(self, needle: str) -> Sequence[str]:
        """Stream names (DOMAIN/APP/STREAM) containing `needle`, sorted."""
        return [n for n in self._names if needle in n]


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

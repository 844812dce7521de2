"""One stream key's windows into complete recordings: the expansion maths under `Timeline`.

Everything a stream key contributes (across files and stream entries) is prepared once as a
`Group`: its recurring rules' firing tables, its one-off intervals, its settings. A query pads
the windows that can touch the range, merges those that overlap or touch into chains, follows a
chain as far as it goes (up to `MAX_CHAIN`), and makes each chain a `Recording` (see
`timeline`'s module doc for the rules and the window ids).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from operator import itemgetter
from zoneinfo import ZoneInfo

from liverecd.config import Source
from liverecd.schedule.actions import Recording
from liverecd.schedule.model import CronWindow, DateRange, Finalize, Schedule, Stream
from liverecd.schedule.occurrences import FiringTable
from liverecd.streams import Command, StreamKey

MAX_CHAIN = timedelta(days=31)  # how far a chain of touching windows is followed
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)

Interval = tuple[datetime, datetime, Source]  # padded start, padded end, window
_BY_SPAN = itemgetter(0, 1)  # intervals in order of start, then end


@dataclass(frozen=True, slots=True)
class _Cron:
    firings: FiringTable
    tail: timedelta  # from a firing to the padded end: duration + pad_after
    before: timedelta
    excepts: tuple[DateRange, ...]
    source: Source


@dataclass(frozen=True, slots=True)
class Group:
    """Everything one stream key contributes, across files and stream entries."""

    key: StreamKey
    tz: ZoneInfo
    finalize: Finalize
    delay: timedelta
    split: bool
    crons: tuple[_Cron, ...]
    oneoffs: tuple[Interval, ...]
    longest: timedelta  # longest padded recurring window
    reach: timedelta  # longest padded one-off: how far back a known window may begin
    key_hash: str
    lookback: timedelta  # how long before a recording its predecessor matters (delayed restart)
    entries: tuple[Stream, ...]  # what it was built from


@dataclass(slots=True)
class _Comp:
    """A merged chain of intervals, while merging."""

    start: datetime
    end: datetime
    sources: list[Source]
    handover_in: bool = False  # a split predecessor hands over with a restart
    closes: bool = True


@lru_cache(maxsize=1 << 14)  # windows cluster on a few instants; ids and plans repeat them
def iso_utc(instant: datetime) -> str:
    """`2026-11-25T12:00:00Z`: an instant in ISO 8601 UTC (fractions only when present)."""
    if instant.tzinfo is not UTC:
        instant = instant.astimezone(UTC)
    return instant.isoformat()[:-6] + "Z"  # drop "+00:00"


def key_hash(text: str) -> str:
    """8 hex digits of a BLAKE2s hash of `text` (a stream key): the tail of its window ids."""
    return hashlib.blake2s(text.encode(), digest_size=4).hexdigest()


# ---------------------------------------------------------------------------------------------
# Grouping


def build_groups(schedule: Schedule, previous: list[Group]) -> list[Group]:
    """One group per enabled stream key, in schedule order; a key whose entries equal those a
    group of `previous` was built from keeps that group."""
    entries: dict[StreamKey, list[Stream]] = {}
    for stream in schedule.streams():
        if stream.enabled:
            entries.setdefault(stream.key, []).append(stream)
    before = {g.key: g for g in previous}
    # Shared by every window with the same rule text in the same zone (hashing the text is
    # cheaper than hashing the parsed spec).
    tables: dict[tuple[str, ZoneInfo], FiringTable] = {}
    groups = []
    for key, streams in entries.items():
        group = before.get(key)
        # Equal entries, not only the same objects: a file parsed again because one of its
        # streams changed gives new but equal entries for all the others.
        if group is None or group.entries != tuple(streams):
            group = _group(key, streams, tables)
        groups.append(group)
    return groups


def _group(
    key: StreamKey, streams: list[Stream], tables: dict[tuple[str, ZoneInfo], FiringTable]
) -> Group:
    # The loader makes a stream's settings agree across entries; the first entry speaks.
    first = streams[0]
    crons: list[_Cron] = []
    oneoffs: list[Interval] = []
    for s in streams:
        for w in s.windows:
            before = s.pad_before if w.pad_before is None else w.pad_before
            after = s.pad_after if w.pad_after is None else w.pad_after
            if isinstance(w, CronWindow):
                excepts = s.excepts + w.excepts
                table = tables.get((w.cron.expr, s.timezone))
                if table is None or (table.spec is not w.cron and table.spec != w.cron):
                    table = tables[w.cron.expr, s.timezone] = FiringTable(w.cron, s.timezone)
                crons.append(_Cron(table, w.duration + after, before, excepts, w.source))
            else:
                oneoffs.append((w.start - before, w.end + after, w.source))
    oneoffs.sort(key=_BY_SPAN)
    longest = max((c.before + c.tail for c in crons), default=timedelta(0))
    reach = max((end - start for start, end, _ in oneoffs), default=timedelta(0))
    return Group(
        key=key,
        tz=first.timezone,
        finalize=first.finalize,
        delay=first.delay,
        split=first.split,
        crons=tuple(crons),
        oneoffs=tuple(oneoffs),
        longest=longest,
        reach=reach,
        key_hash=key_hash(str(key)),
        lookback=first.delay if first.finalize is Finalize.DELAYED else timedelta(0),
        entries=tuple(streams),
    )


# ---------------------------------------------------------------------------------------------
# One stream key: intervals, merging, recordings


def _intervals(group: Group, lo: datetime, hi: datetime) -> list[Interval]:
    """Every padded interval with end >= lo and start < hi."""
    out = [iv for iv in group.oneoffs if iv[1] >= lo and iv[0] < hi] if group.oneoffs else []
    for c in group.crons:
        # Firing t gives [t - before, t + tail): keep t in [lo - tail, hi + before).
        before, tail, source = c.before, c.tail, c.source
        if c.excepts:
            firings = c.firings.between(lo - tail, hi + before)
            ats = [o.at for o in firings if not any(o.local.date() in r for r in c.excepts)]
        else:
            ats = c.firings.instants(lo - tail, hi + before)
        out.extend([(t - before, t + tail, source) for t in ats])
    out.sort(key=_BY_SPAN)
    return out


def _merge(intervals: list[Interval], split: bool) -> list[_Comp]:
    comps: list[_Comp] = []
    for start, end, source in intervals:
        cur = comps[-1] if comps else None
        if cur is not None and (start < cur.end or (start == cur.end and not split)):
            if end > cur.end:
                cur.end = end
            if source not in cur.sources:
                cur.sources.append(source)
            continue
        handover = cur is not None and start == cur.end
        if cur is not None and handover:
            cur.closes = False
        comps.append(_Comp(start, end, [source], handover_in=handover))
    return comps


def within_reach(group: Group, found: list[Recording], a: datetime, c: datetime) -> bool:
    """Whether expanding [a, c) itself would follow `found`'s chains as far (`MAX_CHAIN`):
    kept recordings of a wider span may be reused for [a, c) only then."""
    limit = MAX_CHAIN + group.reach
    return not found or (found[0].start >= a - limit and found[-1].end < c + limit)


def group_recordings(group: Group, a: datetime, c: datetime) -> tuple[list[Recording], bool]:
    """`group`'s recordings with end >= a and start < c, each complete (see module doc), and
    whether they are exact: no chain was cut by MAX_CHAIN (only then do they not depend on the
    range)."""
    # Usually one round: the first fetch reaches one longest window past each end.
    lo, hi = a - group.lookback - group.longest, c + group.longest
    # Only a chain of touching windows is cut: a single window, however long, is followed.
    limit = MAX_CHAIN + group.reach
    lo_cap, hi_cap = min(lo, a - group.lookback - limit), max(hi, c + limit)
    step = max(group.longest, _HOUR)
    while True:
        intervals = _intervals(group, lo, hi)
        if not intervals:
            return [], True  # most streams, on a short range
        comps = _merge(intervals, group.split)
        wanted = [i for i, k in enumerate(comps) if k.end >= a and k.start < c]
        if not wanted:
            break
        # Complete when no interval outside [lo, hi) can touch a wanted recording or be the
        # predecessor that decides a delayed restart; otherwise widen and fetch again.
        first, last = comps[wanted[0]], comps[wanted[-1]]
        new_lo = (
            lo
            if first.start - group.lookback >= lo
            else max(lo_cap, min(first.start - group.lookback, lo - step))
        )
        new_hi = hi if last.end < hi else min(hi_cap, max(last.end + step, hi + step))
        if (new_lo, new_hi) == (lo, hi):
            break
        lo, hi, step = new_lo, new_hi, step * 2
    left_cut = bool(wanted) and comps[wanted[0]].start - group.lookback < lo
    exact = not wanted or (not left_cut and comps[wanted[-1]].end < hi)
    return [_recording(group, comps, i, left_cut and i == wanted[0]) for i in wanted], exact


def _recording(group: Group, comps: list[_Comp], i: int, cut: bool) -> Recording:
    comp = comps[i]
    opens = Command.RESTART if comp.handover_in else Command.START
    if opens is Command.START and group.finalize is Finalize.DELAYED and i > 0 and not cut:
        prev = comps[i - 1]
        if prev.closes and comp.start - prev.end < group.delay:
            # stop's delay still holds the previous task: start would be TaskAlreadyStarted.
            opens = Command.RESTART
    key = group.key
    when = "continuous" if cut else iso_utc(comp.start)  # window_id(), inlined: hot at scale
    return Recording(
        f"{key.stream}@{when}#{group.key_hash}",
        key,
        comp.start,
        comp.end,
        tuple(comp.sources),
        group.finalize,
        group.delay,
        opens,
        comp.closes,
    )

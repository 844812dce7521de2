"""Warnings `check` adds to a valid schedule: DST-affected cron firings and very short windows.

Both are warnings (exit 0): the daemon's behaviour is defined (DESIGN.md §5), but probably not
what the author pictured.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from liverecd.config import Source
from liverecd.durations import format_duration
from liverecd.errors import Problem
from liverecd.schedule.model import CronWindow, Schedule, Stream
from liverecd.schedule.occurrences import Occurrence, day_occurrences, transition_near
from liverecd.schedule.zones import LocalTimeKind

SHORT_WINDOW = timedelta(seconds=10)
_DAY = timedelta(days=1)


def dst_findings(schedule: Schedule, start: datetime, end: datetime) -> list[Problem]:
    """A warning for each cron firing in [start, end) whose local time falls in a DST gap
    (it moves forward by the gap) or in an ambiguous hour (it fires once, at the first)."""
    out: list[Problem] = []
    near: dict[ZoneInfo, list[date]] = {}  # per zone, the local days near a transition
    for stream in schedule.streams():
        if not stream.enabled:
            continue
        tz = stream.timezone
        days = near.get(tz)
        if days is None:
            days = near[tz] = [d for d in _local_days(tz, start, end) if transition_near(tz, d)]
        if not days:
            continue  # the common case: no transition in range, nothing to look at
        for window in stream.windows:
            if isinstance(window, CronWindow):
                out.extend(_window_dst(stream, window, days, start, end))
    return out


def _window_dst(
    stream: Stream, window: CronWindow, days: list[date], start: datetime, end: datetime
) -> list[Problem]:
    tz = stream.timezone
    excepts = stream.excepts + window.excepts
    out: list[Problem] = []
    for day in days:
        if any(day in r for r in excepts):
            continue
        hits = [
            o
            for o in day_occurrences(window.cron, tz, day)
            if o.kind is not LocalTimeKind.NORMAL and start <= o.at < end
        ]
        for kind in (LocalTimeKind.GAP, LocalTimeKind.AMBIGUOUS):
            same = [o for o in hits if o.kind is kind]
            if same:  # one warning per window, day and kind: `* * * * *` hits 60 times
                out.append(_dst_problem(window.source, window.cron.expr, tz, same))
    return out


def _local_days(tz: ZoneInfo, start: datetime, end: datetime) -> list[date]:
    day = start.astimezone(tz).date() - _DAY
    last = end.astimezone(tz).date() + _DAY
    days: list[date] = []
    while day <= last:
        days.append(day)
        day += _DAY
    return days


def _dst_problem(source: Source, expr: str, tz: ZoneInfo, hits: list[Occurrence]) -> Problem:
    occ = hits[0]
    wall = f"{occ.local:%Y-%m-%d %H:%M}"
    local = occ.at.astimezone(tz)
    fired = f"{local:%H:%M %Z} ({occ.at:%H:%M} UTC)"
    more = f" (and {len(hits) - 1} more firings like it that day)" if len(hits) > 1 else ""
    if occ.kind is LocalTimeKind.GAP:
        message = (
            f"cron {expr!r} matches {wall}, which does not exist in {tz.key} (clocks go "
            f"forward); it fires at {fired}, moved forward by the gap{more}"
        )
    else:
        message = (
            f"cron {expr!r} matches {wall}, which happens twice in {tz.key} (clocks go "
            f"back); it fires once, at the first: {fired}{more}"
        )
    return Problem(source.file, source.line, source.col, message, "warning")


def short_windows(schedule: Schedule) -> list[Problem]:
    """A warning for each window (of an enabled stream) shorter than 10 s before padding: a
    recording that short may stop before the stream's first segment is written."""
    out: list[Problem] = []
    for stream in schedule.streams():
        if not stream.enabled:
            continue
        for w in stream.windows:
            length = w.duration if isinstance(w, CronWindow) else w.end - w.start
            if length < SHORT_WINDOW:
                out.append(
                    Problem(
                        w.source.file,
                        w.source.line,
                        w.source.col,
                        f"window lasts {format_duration(length)}, shorter than "
                        f"{format_duration(SHORT_WINDOW)}: the recording may hold nothing",
                        "warning",
                    )
                )
    return out

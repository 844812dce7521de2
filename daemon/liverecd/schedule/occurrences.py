"""When a cron rule fires: crontab matches in a zone's wall time, turned into UTC instants.

Crontab semantics (DESIGN.md §4): weekdays 0 = Sunday; when both day-of-month and day-of-week
are restricted a day matches if EITHER does. DST (DESIGN.md §5): a wall time inside a
spring-forward gap moves forward by the gap, an ambiguous one takes its first occurrence, and a
rule never fires twice at the same instant (in a one-hour gap, `30 2,3 * * *` fires once, at
03:30 after the shift).

Iteration steps by matching day, then hour, then minute, so a two-day range costs a handful of
date checks per rule. A day's firings are cached per (rule, zone, date): thousands of windows
share a few rules.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from liverecd.schedule.model import CronSpec
from liverecd.schedule.zones import LocalTimeKind, classify_local, resolve_local

_DAY = timedelta(days=1)
_NOON = time(12)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One firing of a rule: the UTC instant, the local wall time that matched, and its kind."""

    at: datetime  # aware, UTC
    local: datetime  # naive wall time in the rule's zone, as the rule matched it
    kind: LocalTimeKind


def day_matches(spec: CronSpec, day: date) -> bool:
    """Whether `spec`'s month, day-of-month and day-of-week fields accept `day` (crontab rule)."""
    if day.month not in spec.months:
        return False
    dom = day.day in spec.days_of_month
    # date.weekday() counts from Monday = 0; crontab counts from Sunday = 0.
    dow = (day.weekday() + 1) % 7 in spec.days_of_week
    if spec.dom_restricted and spec.dow_restricted:
        return dom or dow
    return dom and dow


def matching_days(spec: CronSpec, first: date, last: date) -> Iterator[date]:
    """The days in [first, last] (inclusive) on which `spec` fires, in order."""
    day = first
    while day <= last:
        if day_matches(spec, day):
            yield day
        day += _DAY


def day_occurrences(spec: CronSpec, tz: ZoneInfo, day: date) -> tuple[Occurrence, ...]:
    """Every firing of `spec` whose local match falls on `day`, sorted by instant, deduplicated."""
    if not day_matches(spec, day):
        return ()
    return _day_occurrences(spec, tz, day)


class FiringTable:
    """The firings of one rule in one zone, kept sorted over a span of time for bisection.

    Expansion asks thousands of windows that share a rule for nearly the same range; the first
    request computes the span (widened by a day each way), the others bisect it. The span
    restarts from the request once it would exceed `MAX_SPAN`, so memory stays bounded.
    """

    MAX_SPAN = timedelta(days=64)
    __slots__ = ("_ats", "_hi", "_lo", "_occs", "spec", "tz")

    def __init__(self, spec: CronSpec, tz: ZoneInfo) -> None:
        self.spec = spec
        self.tz = tz
        self._lo = datetime.max.replace(tzinfo=UTC)  # empty span: the first call fills it
        self._hi = datetime.min.replace(tzinfo=UTC)
        self._occs: list[Occurrence] = []
        self._ats: list[datetime] = []

    def between(self, start: datetime, end: datetime) -> list[Occurrence]:
        """Same as `occurrences(spec, tz, start, end)`."""
        if start < self._lo or end > self._hi:
            self._cover(start, end)
        i = bisect_left(self._ats, start)
        return self._occs[i : bisect_left(self._ats, end, i)]

    def instants(self, start: datetime, end: datetime) -> list[datetime]:
        """The instants of `between(start, end)`."""
        if start < self._lo or end > self._hi:
            self._cover(start, end)
        i = bisect_left(self._ats, start)
        return self._ats[i : bisect_left(self._ats, end, i)]

    def _cover(self, start: datetime, end: datetime) -> None:
        lo, hi = min(start, self._lo), max(end, self._hi)
        if hi - lo > self.MAX_SPAN:
            lo, hi = start, end
        self._lo, self._hi = lo - _DAY, hi + _DAY
        self._occs = occurrences(self.spec, self.tz, self._lo, self._hi)
        self._ats = [o.at for o in self._occs]


@lru_cache(maxsize=1 << 15)
def _day_occurrences(spec: CronSpec, tz: ZoneInfo, day: date) -> tuple[Occurrence, ...]:
    times = [(h, m) for h in sorted(spec.hours) for m in sorted(spec.minutes)]
    offset = _steady_offset(tz, day)
    if offset is not None:
        # No transition near this day: one subtraction per firing instead of a zone lookup.
        # Wall times are naive on purpose: they name a zone's clock, not an instant.
        walls = [datetime.combine(day, time(h, m)) for h, m in times]
        return tuple(
            Occurrence((w - offset).replace(tzinfo=UTC), w, LocalTimeKind.NORMAL) for w in walls
        )
    found: list[Occurrence] = []
    for h, m in times:
        local = datetime.combine(day, time(h, m))
        found.append(Occurrence(resolve_local(local, tz), local, classify_local(local, tz)))
    return _dedupe(sorted(found, key=lambda o: (o.at, o.local)))


def transition_near(tz: ZoneInfo, day: date) -> bool:
    """Whether `tz` changes its UTC offset within about a day of `day`'s wall times."""
    return _steady_offset(tz, day) is None


@lru_cache(maxsize=4096)
def _steady_offset(tz: ZoneInfo, day: date) -> timedelta | None:
    # Offsets at noon the day before, on, and after bracket every wall time of `day` (and any
    # gap that pushes one past midnight), assuming no zone changes offset twice within a day.
    offsets = {tz.utcoffset(datetime.combine(day + timedelta(days=k), _NOON)) for k in (-1, 0, 1)}
    if len(offsets) == 1:
        (offset,) = offsets
        return offset
    return None


def _dedupe(found: list[Occurrence]) -> tuple[Occurrence, ...]:
    # Two wall times can resolve to one instant (a gap time and the time it moved to); the
    # rule fires once there, and the earlier wall time names it.
    out: list[Occurrence] = []
    for occ in found:
        if out and out[-1].at == occ.at:
            continue
        out.append(occ)
    return tuple(out)


def occurrences(spec: CronSpec, tz: ZoneInfo, start: datetime, end: datetime) -> list[Occurrence]:
    """Every firing of `spec` in `tz` whose instant lies in [start, end), sorted, deduplicated.

    `start` and `end` are aware datetimes. Days are scanned from one day before `start`'s local
    date to one day after `end`'s, since a gap can carry a wall time past midnight.
    """
    if end <= start:
        return []
    first = start.astimezone(tz).date() - _DAY
    last = end.astimezone(tz).date() + _DAY
    found: list[Occurrence] = []
    for day in matching_days(spec, first, last):
        found.extend(o for o in _day_occurrences(spec, tz, day) if start <= o.at < end)
    found.sort(key=lambda o: (o.at, o.local))
    return list(_dedupe(found))

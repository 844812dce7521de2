"""Expansion: a Schedule and a UTC range in, merged recordings and ordered actions out.

Pure: no clock reads; the caller passes the range. Per stream key (which several files or
stream entries may share) every window is padded, then windows that overlap or touch merge into
one `Recording` (DESIGN.md §5). With `split: true`, touching windows stay apart and the later one
opens with `restart` (the earlier one does not close). With `finalize: delayed`, a recording that
opens less than `delay` after the previous one closed opens with `restart`.

Results do not depend on the queried range: a recording is the whole chain of windows it merges,
found by looking back and ahead as far as the chain goes, so `expand([a, c))` equals
`expand([a, b)) + expand([b, c))`. The one exception is a chain of touching windows that runs
for more than `MAX_CHAIN` beyond the range (a stream recorded around the clock): it is followed
that far only, and its id then says `continuous` so that reloads keep recognising it.

Window ids read `NAME@START#HASH`: the stream name, the padded start instant in ISO 8601 UTC
(`news@2026-11-25T12:00:00Z#1a2b3c4d`), and 8 hex digits of a BLAKE2s hash of the full
DOMAIN/APP/STREAM key. They depend on nothing else, so editing a window's end keeps its id and
moves its stop; a chain cut by `MAX_CHAIN` reads `NAME@continuous#HASH`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from liverecd.schedule.actions import Action, Recording, actions_in
from liverecd.schedule.chains import (
    MAX_CHAIN,
    Group,
    build_groups,
    group_recordings,
    iso_utc,
    within_reach,
)
from liverecd.schedule.chains import key_hash as _key_hash
from liverecd.schedule.model import Schedule
from liverecd.schedule.yamlload import gc_paused
from liverecd.streams import StreamKey

__all__ = ["MAX_CHAIN", "Timeline", "expand", "iso_utc", "recordings", "window_id"]

_DAY = timedelta(days=1)


class Timeline:
    """A schedule prepared for repeated expansion. Build one per Schedule and query it.

    Built with `previous` (the timeline it replaces), a stream key whose entries are equal to
    the previous ones keeps its prepared group and the recordings kept for it (`keep_until`), so
    a reload redoes only the streams that changed."""

    def __init__(self, schedule: Schedule, previous: Timeline | None = None) -> None:
        # Building and expanding make many acyclic objects; in the daemon (collector on) the
        # collector would rescan them over and over: about 0.5 s of a 100k-window build.
        with gc_paused():
            self._groups: list[Group] = build_groups(schedule, previous._groups if previous else [])
        self._zones = {g.key: g.tz for g in self._groups}
        # id(group) -> (start, end, recordings touching [start, end)); ids of live groups only
        self._kept: dict[int, tuple[datetime, datetime, list[Recording]]] = {}
        if previous is not None:
            kept = previous._kept
            self._kept = {id(g): kept[id(g)] for g in self._groups if id(g) in kept}

    def zone(self, key: StreamKey) -> ZoneInfo:
        """The zone of the file that first names `key` (for showing local times)."""
        return self._zones.get(key, ZoneInfo("UTC"))

    @property
    def stream_count(self) -> int:
        """How many distinct enabled stream keys the schedule names."""
        return len(self._groups)

    def recordings(
        self, start: datetime, end: datetime, *, keep_until: datetime | None = None
    ) -> list[Recording]:
        """Every recording that overlaps [start, end), by stream then start."""
        return [r for r in self.touching(start, end, keep_until=keep_until) if r.end > start]

    def expand(self, start: datetime, end: datetime) -> list[Action]:
        """Every action due in [start, end), sorted by `Action.sort_key`."""
        return actions_in(self.touching(start, end), start, end)

    def open_at(self, instant: datetime) -> list[Recording]:
        """The recordings open at `instant` (start <= instant < end)."""
        return [r for r in self.recordings(instant, instant + _DAY) if r.start <= instant]

    def touching(
        self, start: datetime, end: datetime, *, keep_until: datetime | None = None
    ) -> list[Recording]:
        """Every recording with an action that can fall in [start, end): end >= start and
        start < end (so one that stops exactly at `start` is included).

        `keep_until` (after `end`): also work out what touches [start, keep_until) and keep
        it, so that later queries inside that span (a daemon's horizon sliding forward, a
        reload) filter it instead of expanding again. Results are the same either way."""
        out: list[Recording] = []
        kept = self._kept
        until = end if keep_until is None else max(end, keep_until)
        with gc_paused():
            for group in self._groups:
                span = kept.get(id(group))
                if span is None or span[0] > start or span[1] < end:
                    span = None
                    if until > end:
                        recs, exact = group_recordings(group, start, until)
                        if exact:
                            span = kept[id(group)] = (start, until, recs)
                if span is not None:
                    found = [r for r in span[2] if r.end >= start and r.start < end]
                    if within_reach(group, found, start, end):
                        out.extend(found)
                        continue
                out.extend(group_recordings(group, start, end)[0])
        return out


def recordings(schedule: Schedule, start: datetime, end: datetime) -> list[Recording]:
    """Every merged recording that overlaps [start, end) (aware datetimes)."""
    return Timeline(schedule).recordings(start, end)


def expand(schedule: Schedule, start: datetime, end: datetime) -> list[Action]:
    """Every action whose time falls in [start, end), sorted by `Action.sort_key`."""
    return Timeline(schedule).expand(start, end)


def window_id(key: StreamKey, start: datetime | None, key_hash: str | None = None) -> str:
    """The id of `key`'s recording opening at `start` (None: a chain cut by MAX_CHAIN)."""
    when = "continuous" if start is None else iso_utc(start)
    return f"{key.stream}@{when}#{key_hash or _key_hash(str(key))}"

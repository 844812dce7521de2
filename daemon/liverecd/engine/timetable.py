"""The timetable in force: the last good load of the schedule files, its `Timeline`, and the
windows it expands to over the horizon.

A load keeps what must not be lost to a bad moment: a file that fails keeps its last good
version (`reload.load`), a file gone for less than `missing_file_grace` keeps its windows unless
a SIGHUP confirms it (`reload.keep_vanished`; the daemon is asked to look again when the grace
is over), and while a file has failed with no good version to keep, the windows the state
remembers stay in force (`reload.remembered`). Expanding is pure and runs off the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta

from liverecd.clock import Clock
from liverecd.config import Config
from liverecd.engine import reload as loading
from liverecd.engine.lifecycle import RecordingState
from liverecd.schedule.actions import Recording
from liverecd.schedule.loader import LoadResult
from liverecd.schedule.model import Stream
from liverecd.schedule.timeline import Timeline


class Timetable:
    """What the schedule files say, as last loaded."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.loaded: LoadResult | None = None
        self._gone: dict[str, float] = {}  # vanished schedule file -> first missed (monotonic)
        self._schedule: Timeline | None = None
        self.streams: tuple[Stream, ...] = ()  # the same tuple object until the next load
        self.look_again: float | None = None

    async def load(self, config: Config, *, confirmed: bool = False) -> LoadResult:
        """Load the files of `config` (a SIGHUP `confirmed` a vanished file) and report
        their problems; the result is in force from now on. `look_again` is then the delay
        after which files kept while vanished should be looked for again, else None."""
        result = await loading.load(config, self.loaded)
        grace = config.missing_file_grace.total_seconds()
        result = loading.keep_vanished(
            result, self.loaded, self._gone, self._clock.monotonic(), grace, confirmed=confirmed
        )
        self.look_again = grace + loading.DEBOUNCE if self._gone else None
        await loading.report(result)
        self.loaded = result
        # Streams whose entries did not change keep what the previous timeline worked out.
        self._schedule = await asyncio.to_thread(Timeline, result.schedule, self._schedule)
        self.streams = result.schedule.streams()
        return result

    @property
    def schedule(self) -> Timeline:
        """The `Timeline` of the last load."""
        assert self._schedule is not None, "load() first"
        return self._schedule

    def expand(
        self, rows: list[RecordingState], now: datetime, until: datetime
    ) -> dict[str, Recording]:
        """The windows from `now` to `until` (pure; run it off the loop), with the ones the
        state remembers while a file has failed with no last good version."""
        windows = loading.expand(self.schedule, now, until - now)
        loaded = self.loaded
        if loaded is not None and any(f not in loaded.files for f in loaded.failed):
            windows.update(loading.remembered(rows, windows, now))
        return windows

    def roll(
        self, current: Mapping[str, Recording], now: datetime, horizon: timedelta
    ) -> dict[str, Recording]:
        """The windows from `now` to `horizon` ahead (the hourly roll; pure, off the loop),
        keeping the windows of `current` that only the state remembers and that are open."""
        windows = loading.expand(self.schedule, now, horizon)
        windows.update({k: r for k, r in current.items()
                         if r.sources[0].file == "<state>" and r.end > now})  # fmt: skip
        return windows

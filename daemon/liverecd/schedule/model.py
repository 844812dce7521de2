"""Parsed, validated schedules: frozen dataclasses that the rest of liverecd trusts (the main
config's are in liverecd.config).

Durations are `timedelta`; instants are aware UTC `datetime`; every node remembers where in
which YAML file it came from (`Source`), so later findings can point at the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from liverecd.config import Source
from liverecd.errors import Problem
from liverecd.streams import StreamKey

__all__ = ["StreamKey"]  # re-exported: schedules name streams by it


class Finalize(StrEnum):
    """How a window's recording is closed."""

    IMMEDIATE = "immediate"  # stop, then cancel_delay: the file appears at once
    DELAYED = "delayed"  # stop only: the file appears after the stream's delay


@dataclass(frozen=True, slots=True)
class CronSpec:
    """A standard 5-field crontab expression, already expanded to value sets.

    Weekdays use crontab numbering: 0 = Sunday ... 6 = Saturday (7 is folded into 0).
    `dom_restricted`/`dow_restricted` record whether the field was something other than `*`:
    when both are restricted a day matches if EITHER matches (crontab's rule).
    """

    expr: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    dom_restricted: bool
    dow_restricted: bool


@dataclass(frozen=True, slots=True)
class DateRange:
    """Inclusive range of local dates (in the file's zone) on which a stream does not record."""

    first: date
    last: date
    source: Source

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last


@dataclass(frozen=True, slots=True)
class OneOffWindow:
    """A single window between two instants (already resolved to UTC by the DST rule)."""

    start: datetime
    end: datetime
    source: Source
    pad_before: timedelta | None = None  # None: inherit the stream's
    pad_after: timedelta | None = None
    excepts: tuple[DateRange, ...] = ()


@dataclass(frozen=True, slots=True)
class CronWindow:
    """A recurring window: opens at each cron match (local time), lasts `duration` (elapsed)."""

    cron: CronSpec
    duration: timedelta
    source: Source
    pad_before: timedelta | None = None
    pad_after: timedelta | None = None
    excepts: tuple[DateRange, ...] = ()


Window = OneOffWindow | CronWindow


@dataclass(frozen=True, slots=True)
class Stream:
    """One stream's settings and windows as written in one schedule file."""

    key: StreamKey
    source: Source
    timezone: ZoneInfo
    windows: tuple[Window, ...]
    finalize: Finalize = Finalize.IMMEDIATE
    delay: timedelta = timedelta(seconds=180)
    ingest_domain: str | None = None
    pad_before: timedelta = timedelta(0)
    pad_after: timedelta = timedelta(0)
    split: bool = False
    enabled: bool = True
    excepts: tuple[DateRange, ...] = ()
    account: str = "default"  # an account of the main config (DESIGN.md §10)
    account_source: Source | None = None  # where `account:` was written, for located errors


@dataclass(frozen=True, slots=True)
class ScheduleFile:
    """One schedule file, validated."""

    path: str
    timezone: ZoneInfo
    streams: tuple[Stream, ...]
    warnings: tuple[Problem, ...] = ()
    # Hash of the bytes it was read from: a reload skips files whose bytes did not change.
    digest: str = ""


@dataclass(frozen=True, slots=True)
class Schedule:
    """Every schedule file in force. The same stream may appear in several files."""

    files: tuple[ScheduleFile, ...] = ()

    def streams(self) -> tuple[Stream, ...]:
        """Every stream entry of every file, in file order."""
        return tuple(s for f in self.files for s in f.streams)

"""Schedules built straight from the model's dataclasses, for the expansion tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from liverecd.config import Source
from liverecd.schedule.cron import parse_cron
from liverecd.schedule.model import (
    CronWindow,
    Finalize,
    OneOffWindow,
    Schedule,
    ScheduleFile,
    Stream,
    Window,
)
from liverecd.streams import StreamKey

UTC_ZONE = ZoneInfo("UTC")
FILE = "schedules/test.yaml"


def utc(*args: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def key(name: str = "news", domain: str = "play.example.com", app: str = "live") -> StreamKey:
    return StreamKey(domain, app, name)


def cron(expr: str, duration: timedelta, line: int = 10, **kw: object) -> CronWindow:
    return CronWindow(parse_cron(expr), duration, Source(FILE, line, 9), **kw)  # type: ignore[arg-type]


def oneoff(start: datetime, end: datetime, line: int = 20, **kw: object) -> OneOffWindow:
    return OneOffWindow(start, end, Source(FILE, line, 9), **kw)  # type: ignore[arg-type]


def stream(
    *windows: Window,
    name: str = "news",
    tz: ZoneInfo = UTC_ZONE,
    finalize: Finalize = Finalize.IMMEDIATE,
    line: int = 5,
    **kw: object,
) -> Stream:
    return Stream(
        key=key(name),
        source=Source(FILE, line, 5),
        timezone=tz,
        windows=tuple(windows),
        finalize=finalize,
        **kw,  # type: ignore[arg-type]
    )


def schedule(*streams: Stream, tz: ZoneInfo = UTC_ZONE, path: str = FILE) -> Schedule:
    return Schedule((ScheduleFile(path, tz, tuple(streams)),))


H = timedelta(hours=1)
M = timedelta(minutes=1)
S = timedelta(seconds=1)

"""Loading the schedules (at start-up and on reload) and telling the log what came of it.

A file that fails keeps its last good version (the loader's `previous`); each error is one
`error`-level `schedule_invalid` event naming FILE:LINE:COL. A file that fails at start-up has
no last good version in memory, so while one such file is failing, the windows the state
remembers as recording are kept in force until their remembered end (`remembered`): a typo
saved before a restart must not stop a recording that the fixed file would have kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

import structlog

from liverecd.engine.state import RecordingState
from liverecd.schedule.actions import Recording
from liverecd.schedule.loader import LoadResult, load_schedules
from liverecd.schedule.model import Config, Source
from liverecd.schedule.timeline import Timeline

log = structlog.get_logger(__name__)

DEBOUNCE = 0.25  # seconds: an editor's write-and-rename is one change, not three reloads


async def load(config: Config, previous: LoadResult | None) -> LoadResult:
    """Load every schedule file off the event loop; failed files keep `previous`'s version."""
    prev = previous.files if previous is not None else None
    return await asyncio.to_thread(load_schedules, config, previous=prev)


def report(result: LoadResult) -> None:
    """One event per problem: `schedule_invalid` (error) or `schedule_warning` (warning)."""
    for p in result.problems:
        emit = log.error if p.severity == "error" else log.warning
        emit(
            "schedule_invalid" if p.severity == "error" else "schedule_warning",
            file=p.file,
            line=p.line,
            col=p.col,
            error=str(p),
        )


def expand(timeline: Timeline, now: datetime, horizon: timedelta) -> dict[str, Recording]:
    """The recordings that have not ended, up to `horizon` ahead, by window id."""
    return {r.window_id: r for r in timeline.recordings(now, now + horizon) if r.end > now}


def remembered(
    rows: Iterable[RecordingState], timeline: Mapping[str, Recording], now: datetime
) -> dict[str, Recording]:
    """Running rows whose window the (partly failed) schedule no longer names, as recordings
    that last until their remembered end."""
    out: dict[str, Recording] = {}
    for r in rows:
        if r.phase.running and r.window_id not in timeline and r.end > now:
            out[r.window_id] = Recording(
                window_id=r.window_id,
                stream=r.stream,
                start=r.start,
                end=r.end,
                sources=(Source("<state>", 1),),
                finalize=r.finalize,
                delay=r.delay,
            )
    return out

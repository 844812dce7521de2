"""Loading the schedules (at start-up and on reload) and telling the log what came of it.

A file that fails keeps its last good version (the loader's `previous`); each error is one
`error`-level `schedule_invalid` event naming FILE:LINE:COL. A file that fails at start-up has
no last good version in memory, so while one such file is failing, the windows the state
remembers as recording are kept in force until their remembered end (`remembered`): a typo
saved before a restart must not stop a recording that the fixed file would have kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from datetime import datetime, timedelta

import structlog

from liverecd.config import Config, Source
from liverecd.engine.lifecycle import RecordingState
from liverecd.errors import Problem
from liverecd.schedule.actions import Recording
from liverecd.schedule.loader import LoadResult, load_schedules
from liverecd.schedule.model import Schedule, ScheduleFile
from liverecd.schedule.timeline import Timeline

log = structlog.get_logger(__name__)

REPORT_SLICE = 100  # problems logged per turn of the loop
DEBOUNCE = 0.25  # seconds: an editor's write-and-rename is one change, not three reloads
# How far past the horizon an expansion is worked out and kept. The hourly roll (each a little
# late) then finds its next two hours kept and expands again every third hour; a reload finds
# its span kept unless it comes in the half hour before that.
KEEP = timedelta(hours=2, minutes=30)


async def load(config: Config, previous: LoadResult | None) -> LoadResult:
    """Load every schedule file off the event loop; failed files keep `previous`'s version."""
    prev = previous.files if previous is not None else None
    return await asyncio.to_thread(load_schedules, config, previous=prev)


def keep_vanished(
    result: LoadResult,
    previous: LoadResult | None,
    gone: dict[str, float],
    now: float,
    grace: float,
    *,
    confirmed: bool,
) -> LoadResult:
    """Keep the last good version of files that vanished since `previous`.

    A glob that matches nothing is an error (reported by the loader) that keeps what it matched:
    an emptied folder or a mount that went away must not end every window. A single vanished
    file (an editor's save, `rm; cp`) keeps its windows until it has been gone for `grace`
    seconds, or until an explicit SIGHUP (`confirmed`) says the removal is meant. `gone` maps a
    vanished path to when it was first missed (monotonic seconds), and is updated here."""
    if previous is None:
        return result
    vanished = [k for k in previous.files if k not in result.files]
    for key in list(gone):
        if key not in vanished:
            del gone[key]  # it came back
    if not vanished:
        return result
    no_match = any("matches no file" in p.message for p in result.errors)
    kept: dict[str, ScheduleFile] = {}
    problems = list(result.problems)
    for key in vanished:
        since = gone.setdefault(key, now)
        if no_match or (not confirmed and now - since < grace):
            kept[key] = previous.files[key]
            if not no_match:
                problems.append(Problem(previous.files[key].path, None, None,
                    f"file is gone; its windows stay for {grace:g} s unless it returns",
                    severity="warning"))  # fmt: skip
        else:
            del gone[key]
    if not kept:
        return result
    files = dict(sorted({**result.files, **kept}.items()))
    failed = tuple(sorted({*result.failed, *kept})) if no_match else result.failed
    return LoadResult(
        schedule=Schedule(files=tuple(files.values())), problems=tuple(problems),
        files=files, failed=failed,
    )  # fmt: skip


async def report(result: LoadResult) -> None:
    """One event per problem: `schedule_invalid` (error) or `schedule_warning` (warning); a
    large timetable's thousand warnings are logged in slices, so the loop keeps turning."""
    for i, p in enumerate(result.problems):
        if i % REPORT_SLICE == REPORT_SLICE - 1:
            await asyncio.sleep(0)
        emit = log.error if p.severity == "error" else log.warning
        emit(
            "schedule_invalid" if p.severity == "error" else "schedule_warning",
            file=p.file,
            line=p.line,
            col=p.col,
            error=str(p),
        )


def expand(timeline: Timeline, now: datetime, horizon: timedelta) -> dict[str, Recording]:
    """The recordings that have not ended, up to `horizon` ahead, by window id.

    A horizon of an hour or more is worked out `KEEP` further and kept in the timeline: the
    hourly roll and a reload within the next `KEEP` filter it instead of expanding again (a
    reload then expands only the streams it changed). A short first slice (the first 15
    minutes of a phased start) is not kept."""
    end = now + horizon
    keep = end + KEEP if horizon >= timedelta(hours=1) else None
    return {r.window_id: r for r in timeline.recordings(now, end, keep_until=keep) if r.end > now}


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


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a load or expansion builds hundreds of thousands of
    long-lived, acyclic objects (at 100,000 windows a full collection held the loop for up to a
    second); what was built is then frozen, so later collections skip it. Refcounting still
    frees everything as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


@contextlib.asynccontextmanager
async def paused() -> AsyncIterator[None]:
    """`collector_paused` for an `async with` beside a lock."""
    with collector_paused():
        yield

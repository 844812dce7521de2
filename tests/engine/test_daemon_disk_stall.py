"""A disk that stalls while an opening intent is written: the window ends before its `start`
could leave (the start is never sent; the stop that follows the intent is harmless and kept on
purpose: a stop is never skipped on a guess), or the daemon is asked to stop meanwhile (it
stops quietly and leaves no task behind)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time

import pytest

from liverecd.engine.lifecycle import Phase
from liverecd.engine.store import sqlite as state
from liverecd.streams import StreamKey

from .conftest import APP, DOMAIN, Workspace, now, running_daemon, schedule_text, seconds

# The stall is a real thread blocked in time.sleep: simulated time would run on past it at the
# pace of the test's steps, so the race between the stalled write and the alarms is real time.
pytestmark = pytest.mark.realtime

STALL = 2.0  # seconds the disk holds the stalled stream's intent


def stall_intents_of(monkeypatch: pytest.MonkeyPatch, stalled: StreamKey) -> None:
    """The state store takes STALL seconds to write an opening intent of `stalled`."""
    write = state._write
    key = (stalled.domain, stalled.app, stalled.stream)

    def slow_write(
        db: sqlite3.Connection, durable: bool, *steps: tuple[str, list[tuple[object, ...]]]
    ) -> int:
        # A recording row's values: window id, domain, app, stream, ..., phase (9th).
        rows = [v for _, values in steps for v in values if len(v) == 13]
        if any(v[1:4] == key and v[8] == Phase.OPENING.value for v in rows):
            time.sleep(STALL)  # on the store's worker thread, as a slow fsync would
        return write(db, durable, *steps)

    monkeypatch.setattr(state, "_write", slow_write)


@pytest.mark.slow
async def test_a_start_held_past_its_window_by_a_disk_stall_is_never_sent(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    stalled, fine = StreamKey(DOMAIN, APP, "stalled"), StreamKey(DOMAIN, APP, "fine")
    stall_intents_of(monkeypatch, stalled)
    t = now()
    workspace.write_schedule(
        "s.yaml",
        schedule_text(
            {
                "stalled": [(t + seconds(1.5), t + seconds(2.5))],  # its stop alarm: t+1.5
                "fine": [(t + seconds(3.5), t + seconds(4.5))],
            }
        ),
    )
    emu = workspace.emulator
    async with running_daemon(workspace):
        await asyncio.sleep((t + seconds(5.0) - now()).total_seconds())

    def sent(key: StreamKey) -> list[str | None]:
        return [r.command for r in emu.requests if r.stream == key and r.command]

    assert "start" not in sent(stalled)
    assert not emu.recordings(stalled) and emu.state(stalled) != "recording"
    assert sent(fine) == ["start", "stop", "cancel_delay"]  # the daemon went on afterwards


async def test_a_stop_request_during_an_alarm_hand_over_is_quiet_and_leaves_no_task(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # APScheduler cancels the job tasks still running when it shuts down, and logs each as
    # "Job ... raised an exception" at error level: an alarm must not outlive its hand-over.
    held = StreamKey(DOMAIN, APP, "held")
    stall_intents_of(monkeypatch, held)
    t = now()
    workspace.write_schedule("s.yaml", schedule_text({"held": [(t + seconds(2), t + seconds(9))]}))
    async with running_daemon(workspace):
        await asyncio.sleep((t + seconds(1.5) - now()).total_seconds())  # the write is stalled
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    ours = [
        task
        for task in asyncio.all_tasks()
        if task is not asyncio.current_task() and "emulator" not in repr(task.get_coro())
    ]
    assert ours == []

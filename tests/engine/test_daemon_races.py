"""Races between reloads, alarms and commands in flight, played through the daemon on one
FakeClock against the emulator: a window edited after it ended, a window whose last second is
all that is left at start-up, a window moved while its start is still out."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import timedelta
from typing import Any

import pytest

from liverecd.emulator import Emulator, FaultPlan
from liverecd.engine.store import sqlite as sqlite_state
from liverecd.streams import StreamKey

from .conftest import (
    APP,
    DOMAIN,
    Workspace,
    running_daemon,
    schedule_text,
    seconds,
)
from .conftest import play as _play
from .conftest import play_until as _play_until

# These races play a minute of simulated time each; every step costs a few real milliseconds
# for the loopback I/O to settle. A quarter second is finer than anything they time (the stop
# alarm a second before the end, the emulator's delays), so 5x fewer steps than the default.
STEP = 0.25


async def play(clock: Any, until: Any, **kw: Any) -> None:
    await _play(clock, until, step=kw.pop("step", STEP), **kw)


async def play_until(clock: Any, done: Any, **kw: Any) -> None:
    await _play_until(clock, done, step=kw.pop("step", STEP), **kw)


def sent(emu: Emulator, name: str) -> list[str]:
    key = StreamKey(DOMAIN, APP, name)
    return [r.command for r in emu.requests if r.stream == key and r.command]


@pytest.mark.parametrize("finalize", ["immediate", "delayed"])
async def test_a_window_whose_end_is_moved_later_after_it_closed_records_again(
    fake_workspace: Workspace, finalize: str
) -> None:
    # The edit comes a few seconds after the stop: the window is open again from now on, and
    # must be opened again, as it is when the hourly roll has already forgotten the old end.
    workspace, clock = fake_workspace, fake_workspace.fake
    t = clock.wall()
    extra = f"finalize: {finalize}\n"
    workspace.write_schedule(
        "s.yaml", schedule_text({"a": [(t + seconds(1), t + seconds(5))]}, extra)
    )
    emu, key = workspace.emulator, StreamKey(DOMAIN, APP, "a")
    emu.set_online(key, True)
    async with running_daemon(workspace, watch_files=False) as daemon:
        await play(clock, t + seconds(8))
        workspace.write_schedule(
            "s.yaml", schedule_text({"a": [(t + seconds(1), t + seconds(60))]}, extra)
        )
        await daemon.reload("test")
        await play(clock, t + seconds(20))
        assert emu.state(key) == "recording"  # in stop's delay too: restarted, not started
        await play(clock, t + seconds(62))
    closing = ["stop", "cancel_delay"] if finalize == "immediate" else ["stop"]
    opening = ["start"] if finalize == "immediate" else ["restart"]
    assert sent(emu, "a") == ["start", *closing, *opening, *closing]


async def test_a_window_opened_in_its_last_second_at_start_up_is_still_stopped(
    fake_workspace: Workspace,
) -> None:
    # Its stop alarm (a second early) has rung before the start-up reconcile wrote the intent:
    # the start that lands before the end must still be followed by its stop.
    workspace, clock = fake_workspace, fake_workspace.fake
    t = clock.wall()
    workspace.write_schedule("s.yaml", schedule_text({"a": [(t - seconds(30), t + seconds(0.5))]}))
    emu, key = workspace.emulator, StreamKey(DOMAIN, APP, "a")
    emu.set_online(key, True)
    async with running_daemon(workspace, watch_files=False):
        await play(clock, t + seconds(10))
    assert sent(emu, "a") == ["start", "stop", "cancel_delay"]
    assert emu.state(key) != "recording"


async def test_a_window_moved_earlier_while_its_start_is_out_is_still_opened(
    fake_workspace: Workspace,
) -> None:
    # The edit moves the open window's start (a new window id) while its first start hangs on
    # the wire: the reload carries the stream's intent over to the new window, and the start
    # that then fails must not leave that window with nothing sent.
    workspace, clock = fake_workspace, fake_workspace.fake
    t = clock.wall()
    workspace.write_schedule("s.yaml", schedule_text({"a": [(t + seconds(1), t + seconds(120))]}))
    emu, key = workspace.emulator, StreamKey(DOMAIN, APP, "a")
    emu.set_online(key, True)
    emu.inject(FaultPlan(hang=1.0, hang_seconds=5.0, commands=frozenset({"start"})))
    async with running_daemon(workspace, watch_files=False) as daemon:
        await play(clock, t + seconds(1.5))
        assert [r.fault for r in emu.requests if r.stream == key] == ["hang"]
        emu.clear_faults()
        moved = schedule_text({"a": [(t + seconds(0.5), t + seconds(120))]})
        workspace.write_schedule("s.yaml", moved)
        await daemon.reload("test")
        await play(clock, t + seconds(20))
        assert emu.state(key) == "recording"
        await play(clock, t + seconds(122))
    assert sent(emu, "a")[-2:] == ["stop", "cancel_delay"]
    assert emu.state(key) != "recording"


async def test_a_state_write_failing_at_start_up_holds_back_neither_ready_nor_reloads(
    fake_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A full disk: the open window's intent cannot be written, so its start waits (it never
    # leaves without it), but only the start: the daemon is ready, reloads, and the start goes
    # once the disk has room again.
    workspace, clock = fake_workspace, fake_workspace.fake
    t = clock.wall()
    workspace.write_schedule("s.yaml", schedule_text({"a": [(t - seconds(10), t + seconds(3600))]}))
    emu, key = workspace.emulator, StreamKey(DOMAIN, APP, "a")
    emu.set_online(key, True)
    disk_full = True
    write = sqlite_state._write

    def full(db: sqlite3.Connection, durable: bool, *steps: tuple[str, list[Any]]) -> int:
        if disk_full:
            raise sqlite3.OperationalError("database or disk is full")
        return write(db, durable, *steps)

    monkeypatch.setattr(sqlite_state, "_write", full)
    stepping = asyncio.create_task(play(clock, t + seconds(30)))
    async with running_daemon(workspace, watch_files=False) as daemon:
        assert clock.wall() < t + seconds(10)
        await stepping
        assert sent(emu, "a") == []
        workspace.write_schedule(
            "s.yaml", schedule_text({"a": [(t - seconds(10), t + seconds(3600))], "b": []})
        )
        daemon.request_reload("test")
        await play_until(clock, lambda: daemon.reloads >= 1, within=10)
        disk_full = False
        await play(clock, t + seconds(45))
        assert sent(emu, "a") == ["start"]
    assert emu.state(key) == "recording"


@pytest.mark.parametrize("finalize", ["immediate", "delayed"])
async def test_a_window_extended_while_its_stop_is_out_records_on(
    fake_workspace: Workspace, finalize: str
) -> None:
    # The operator extends the window (overtime) just as its stop leaves; the stop is carried
    # out but its answer never comes. The window is open again: the stream must record on.
    workspace, clock = fake_workspace, fake_workspace.fake
    t = clock.wall()
    extra = f"finalize: {finalize}\n"
    workspace.write_schedule(
        "s.yaml", schedule_text({"a": [(t + seconds(1), t + seconds(5))]}, extra)
    )
    emu, key = workspace.emulator, StreamKey(DOMAIN, APP, "a")
    emu.set_online(key, True)
    emu.inject(FaultPlan(hang=1.0, hang_seconds=5.0, hang_after_effect=True,
                         commands=frozenset({"stop"})))  # fmt: skip
    async with running_daemon(workspace, watch_files=False) as daemon:
        await play(clock, t + seconds(5.5))
        assert sent(emu, "a") == ["start", "stop"] and emu.state(key) != "recording"
        emu.clear_faults()
        longer = schedule_text({"a": [(t + seconds(1), t + seconds(60))]}, extra)
        workspace.write_schedule("s.yaml", longer)
        await daemon.reload("test")
        await play(clock, t + seconds(20))
        assert emu.state(key) == "recording"
        await play(clock, t + seconds(62))
    assert emu.state(key) != "recording"
    closing = ["stop", "cancel_delay"] if finalize == "immediate" else ["stop"]
    assert sent(emu, "a") == ["start", "stop", "restart", *closing]


async def test_a_window_open_after_a_long_forward_step_of_the_clock_is_started(
    fake_workspace: Workspace,
) -> None:
    # A host that booted with a stale clock (no RTC) and then got an NTP step: the window that
    # is open at the true time lay beyond the horizon the daemon had armed. It must start.
    workspace, clock = fake_workspace, fake_workspace.fake
    t = clock.wall()
    later = t + timedelta(hours=8)
    workspace.write_schedule("s.yaml", schedule_text({"a": [(later, later + seconds(3600))]}))
    emu, key = workspace.emulator, StreamKey(DOMAIN, APP, "a")
    emu.set_online(key, True)
    async with running_daemon(workspace, watch_files=False) as daemon:
        assert not daemon.engine.windows  # beyond the horizon
        clock.step_wall(8 * 3600 + 600)
        await play(clock, clock.wall() + seconds(10))
    assert sent(emu, "a") == ["start"]


async def test_health_clears_once_failing_state_writes_recover(
    fake_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The disk fills up as the window closes and frees up later, while nothing else happens:
    # /healthz names the failing writes, and stops naming them once they land.
    workspace, clock = fake_workspace, fake_workspace.fake
    t = clock.wall()
    workspace.write_schedule("s.yaml", schedule_text({"a": [(t + seconds(1), t + seconds(5))]}))
    emu, key = workspace.emulator, StreamKey(DOMAIN, APP, "a")
    emu.set_online(key, True)
    disk_full = False
    write = sqlite_state._write

    def full(db: sqlite3.Connection, durable: bool, *steps: tuple[str, list[Any]]) -> int:
        if disk_full:
            raise sqlite3.OperationalError("database or disk is full")
        return write(db, durable, *steps)

    monkeypatch.setattr(sqlite_state, "_write", full)
    async with running_daemon(workspace, watch_files=False) as daemon:
        await play(clock, t + seconds(4))
        disk_full = True
        await play(clock, t + seconds(10))
        assert sent(emu, "a") == ["start", "stop", "cancel_delay"]
        assert "disk is full" in str(daemon.snapshot()["state_error"])
        disk_full = False
        await play(clock, t + seconds(30))
        assert daemon.engine.book.last_error is None  # the writes landed
        assert daemon.snapshot()["state_error"] is None
        assert daemon.snapshot()["problems"] == []


async def test_a_window_extended_while_its_intent_is_being_written_retries_to_its_new_end(
    fake_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The intent write is slow (a stalled disk) when an edit moves the window's end later; the
    # start that follows waits for its stream until the new end, not the old one.
    workspace, clock = fake_workspace, fake_workspace.fake
    t = clock.wall()
    workspace.write_schedule("s.yaml", schedule_text({"a": [(t + seconds(1), t + seconds(10))]}))
    emu, key = workspace.emulator, StreamKey(DOMAIN, APP, "a")
    emu.set_online(key, False)
    stalled, write = threading.Event(), sqlite_state._write

    def slow(db: sqlite3.Connection, durable: bool, *steps: tuple[str, list[Any]]) -> int:
        rows = [v for _, values in steps for v in values if len(v) == 13]
        if any(v[3] == "a" and v[8] == "opening" for v in rows):
            stalled.wait(10)  # on the store's worker thread, as a slow fsync would
        return write(db, durable, *steps)

    monkeypatch.setattr(sqlite_state, "_write", slow)
    async with running_daemon(workspace, watch_files=False) as daemon:
        await play(clock, t + seconds(1.5))
        assert daemon.engine.book.unwritten  # the intent is on its way to the disk
        workspace.write_schedule(
            "s.yaml", schedule_text({"a": [(t + seconds(1), t + seconds(60))]})
        )
        await daemon.reload("test")
        stalled.set()
        await play(clock, t + seconds(12))
        emu.set_online(key, True)  # after the old end, before the new one
        await play(clock, t + seconds(20))
        assert emu.state(key) == "recording"


async def test_a_window_added_while_the_streams_last_stop_is_out_records(
    fake_workspace: Workspace,
) -> None:
    # The stop of the stream's ended window hangs on the wire (carried out, no answer) when an
    # edit adds a window of the same stream that is open now: the reload carries the stream's
    # recording over to it, and the stop that lands must not leave that window unrecorded.
    workspace, clock = fake_workspace, fake_workspace.fake
    t = clock.wall()
    workspace.write_schedule("s.yaml", schedule_text({"a": [(t + seconds(1), t + seconds(5))]}))
    emu, key = workspace.emulator, StreamKey(DOMAIN, APP, "a")
    emu.set_online(key, True)
    emu.inject(FaultPlan(hang=1.0, hang_seconds=5.0, hang_after_effect=True,
                         commands=frozenset({"stop"})))  # fmt: skip
    async with running_daemon(workspace, watch_files=False) as daemon:
        await play(clock, t + seconds(5.5))
        assert sent(emu, "a") == ["start", "stop"] and emu.state(key) != "recording"
        emu.clear_faults()
        both = [(t + seconds(1), t + seconds(5)), (t + seconds(5.2), t + seconds(60))]
        workspace.write_schedule("s.yaml", schedule_text({"a": both}))
        await daemon.reload("test")
        await play(clock, t + seconds(20))
        assert emu.state(key) == "recording"
        await play(clock, t + seconds(62))
    assert emu.state(key) != "recording"


async def test_a_start_released_early_never_overtakes_the_previous_windows_stop(
    fake_workspace: Workspace,
) -> None:
    # A burst of starts at one instant, too many for the quota, leaves up to max_lead early;
    # each of these streams is still recording its previous window, which ends 1 s before the
    # burst. Every previous window must be stopped (one file each, nothing recorded in the gap):
    # a start sent before that stop is answered TaskAlreadyStarted and swallows it.
    workspace, clock = fake_workspace, fake_workspace.fake
    workspace.write_config(qps=2, max_lead="10s")
    t = clock.wall()
    burst = t + seconds(30)
    names = [f"s{i}" for i in range(8)]
    windows = [(t + seconds(1), burst - seconds(1)), (burst, burst + seconds(60))]
    workspace.write_schedule("s.yaml", schedule_text(dict.fromkeys(names, windows)))
    emu = workspace.emulator
    for name in names:
        emu.set_online(StreamKey(DOMAIN, APP, name), True)
    async with running_daemon(workspace, watch_files=False):
        await play(clock, burst + seconds(20))  # 24 commands at 2/s
    for name in names:
        assert sent(emu, name) == ["start", "stop", "cancel_delay", "start"], name

"""Faults an adversarial run reproduced in the engine, each through the in-process daemon against
the emulator over real HTTP: early starts the watch forgot (and sent again), a state write that
failed once and was never written, health that said nothing was wrong. The daemon and the
emulator share a FakeClock the test steps; file saves reach the daemon through inotify in real
time, its grace and debounce run on the fake clock."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections import Counter
from collections.abc import Iterable

import pytest

from liverecd.engine.lifecycle import RecordingState
from liverecd.engine.store.sqlite import SqliteStateStore
from liverecd.errors import StateError
from liverecd.ops.metrics import Metrics
from liverecd.streams import StreamKey

from .conftest import (
    APP,
    DOMAIN,
    Workspace,
    play,
    play_for,
    play_until,
    running_daemon,
    schedule_text,
    seconds,
)
from .test_daemon_wait import sample


def key(name: str) -> StreamKey:
    return StreamKey(DOMAIN, APP, name)


def starts_by_stream(ws: Workspace) -> Counter[str]:
    return Counter(
        r.stream.stream
        for r in ws.emulator.requests
        if r.command == "start" and r.stream is not None and r.code != "Throttling.User"
    )


async def test_starts_sent_early_under_max_lead_are_not_sent_again_by_the_watch(
    fake_workspace: Workspace,
) -> None:
    workspace, clock = fake_workspace, fake_workspace.fake
    # 30 starts at one instant at 10 calls/s: most leave early (max_lead), before their window
    # opens. The watch polls every 0.5 s meanwhile; it used to forget an early start at its
    # next poll and send a second one when the window opened.
    workspace.write_config(qps=10, max_lead="60s", watch="500ms")
    at = clock.wall() + seconds(4.5)
    names = [f"early{i:02d}" for i in range(30)]
    workspace.write_schedule("s.yaml", schedule_text({n: [(at, at + seconds(30))] for n in names}))
    async with running_daemon(workspace):
        await play(clock, at + seconds(2.5))  # open, then polls after it
    starts = starts_by_stream(workspace)
    assert set(starts) == set(names)
    assert max(starts.values()) == 1, {n: c for n, c in starts.items() if c > 1}


async def test_a_state_write_that_fails_is_retried_and_health_says_so_meanwhile(
    fake_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace, clock = fake_workspace, fake_workspace.fake
    failing = [True]
    write = SqliteStateStore.apply

    async def flaky_apply(
        self: SqliteStateStore, put: Iterable[RecordingState] = (), delete: Iterable[str] = ()
    ) -> None:
        if failing[0]:
            raise StateError("state store: write: database or disk is full")
        await write(self, put, delete)

    at = clock.wall() + seconds(1.5)
    workspace.write_schedule("s.yaml", schedule_text({"news": [(at, at + seconds(60))]}))
    metrics = Metrics()
    async with running_daemon(workspace, observer=metrics) as daemon:
        monkeypatch.setattr(SqliteStateStore, "apply", flaky_apply)
        await play(clock, at + seconds(1.0))
        assert starts_by_stream(workspace)["news"] == 0  # no start without its durable intent
        body = daemon.snapshot()
        assert body["state_error"] and any("state writes failing" in p for p in body["problems"])
        failing[0] = False  # the disk has room again
        await play_for(clock, 4.0)  # the book's backoff is at most 5 s; 0.5+1+2 s so far
        assert starts_by_stream(workspace)["news"] == 1
        body = daemon.snapshot()
        assert body["state_error"] is None and body["problems"] == []
    db = sqlite3.connect(workspace.root / "state" / "state.sqlite3")
    rows = db.execute("SELECT window_id, phase FROM recordings").fetchall()
    db.close()
    assert [phase for _, phase in rows] == ["recording"]


async def test_a_full_disk_holds_back_neither_ready_nor_a_reload(
    fake_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Start-up (and a reload) used to wait for an open window's intent until the window ended:
    # an hour with no READY, no /healthz, and a SIGTERM heard only after READY.
    workspace, clock = fake_workspace, fake_workspace.fake
    failing = [True]
    write = SqliteStateStore.apply

    async def full_disk(
        self: SqliteStateStore, put: Iterable[RecordingState] = (), delete: Iterable[str] = ()
    ) -> None:
        if failing[0]:
            raise StateError("state store: write: database or disk is full")
        await write(self, put, delete)

    monkeypatch.setattr(SqliteStateStore, "apply", full_disk)
    at = clock.wall() - seconds(5)
    workspace.write_schedule("a.yaml", schedule_text({"news": [(at, at + seconds(3600))]}))
    async with contextlib.AsyncExitStack() as stack:
        entering = asyncio.ensure_future(stack.enter_async_context(running_daemon(workspace)))
        await play_until(clock, entering.done, within=10)
        daemon = entering.result()
        assert daemon.snapshot()["state_error"]
        workspace.write_schedule("b.yaml", schedule_text({"talk": [(at, at + seconds(3600))]}))
        reloading = asyncio.ensure_future(daemon.reload("sighup"))
        await play_until(clock, reloading.done, within=10)
        assert starts_by_stream(workspace) == {}  # no start without its durable intent
        failing[0] = False  # the disk has room again
        await play_for(clock, 6.0)  # the book's backoff is at most 5 s
        assert starts_by_stream(workspace) == {"news": 1, "talk": 1}
        assert daemon.snapshot()["state_error"] is None


def commands_for(ws: Workspace, name: str) -> list[str]:
    return [
        str(r.command)
        for r in ws.emulator.requests
        if r.command is not None and r.stream is not None and r.stream.stream == name
    ]


async def test_a_schedule_file_gone_for_a_second_keeps_its_recording_running(
    fake_workspace: Workspace,
) -> None:
    workspace, clock = fake_workspace, fake_workspace.fake
    at = clock.wall() + seconds(0.5)
    path = workspace.write_schedule("s.yaml", schedule_text({"news": [(at, at + seconds(60))]}))
    saved = path.read_text()
    async with running_daemon(workspace) as daemon:
        await play(clock, at + seconds(1.0))
        path.unlink()  # rm s.yaml; sleep 1; cp s.bak s.yaml
        await play_for(clock, 1.0)
        workspace.write_schedule("s.yaml", saved)
        await play_for(clock, 1.5)
        assert daemon.snapshot()["windows"]["recording"] == 1  # type: ignore[index]
    assert commands_for(workspace, "news") == ["start"]


async def test_a_glob_matching_nothing_keeps_the_last_good_timetable_and_is_a_failed_reload(
    fake_workspace: Workspace,
) -> None:
    workspace, clock = fake_workspace, fake_workspace.fake
    workspace.write_config(extra="missing_file_grace: 1s\n")
    at = clock.wall() + seconds(0.5)
    path = workspace.write_schedule("s.yaml", schedule_text({"news": [(at, at + seconds(60))]}))
    metrics = Metrics()
    async with running_daemon(workspace, observer=metrics) as daemon:
        await play(clock, at + seconds(1.0))
        path.rename(workspace.root / "s.yaml")  # mv schedules/*.yaml elsewhere
        await play_for(clock, 3.0)  # longer than the grace: the glob matches nothing
        body = daemon.snapshot()
        assert any("matches no file" in p for p in body["problems"])  # type: ignore[union-attr]
        assert sample(metrics, "liverecd_reloads_total", result="failed") >= 1
        assert body["windows"]["recording"] == 1  # type: ignore[index]
    assert commands_for(workspace, "news") == ["start"]


async def test_a_file_replaced_by_what_cannot_be_read_fails_and_keeps_its_recording(
    fake_workspace: Workspace,
) -> None:
    # A directory, a FIFO or a symlink loop at a loaded file's path used to count as the file
    # gone: its recording was stopped when the grace ended.
    workspace, clock = fake_workspace, fake_workspace.fake
    workspace.write_config(extra="missing_file_grace: 1s\n")
    at = clock.wall() + seconds(0.5)
    names = ("dir", "fifo", "loop")
    workspace.write_schedule("keep.yaml", schedule_text({}))  # the glob still matches a file
    paths = [
        workspace.write_schedule(f"{n}.yaml", schedule_text({n: [(at, at + seconds(60))]}))
        for n in names
    ]
    async with running_daemon(workspace) as daemon:
        await play(clock, at + seconds(1.0))
        for path in paths:
            path.unlink()
        paths[0].mkdir()
        os.mkfifo(paths[1])
        paths[2].symlink_to(paths[2].name)
        daemon.request_reload("file_change")
        await play_for(clock, 4.0)  # well past the grace
        body = daemon.snapshot()
        assert body["windows"]["recording"] == 3  # type: ignore[index]
        assert body["files"]["failed"] == [str(p) for p in paths]  # type: ignore[index]
        problems = " ".join(body["problems"])  # type: ignore[arg-type]
        assert all(f"{n}.yaml" in problems for n in names), problems
    assert [commands_for(workspace, n) for n in names] == [["start"]] * 3


async def test_a_vanished_file_ends_its_windows_after_the_grace(fake_workspace: Workspace) -> None:
    workspace, clock = fake_workspace, fake_workspace.fake
    workspace.write_config(extra="missing_file_grace: 1s\n")
    at = clock.wall() + seconds(0.5)
    workspace.write_schedule("keep.yaml", schedule_text({}))
    path = workspace.write_schedule("s.yaml", schedule_text({"news": [(at, at + seconds(60))]}))
    async with running_daemon(workspace):
        await play(clock, at + seconds(1.0))
        path.unlink()
        await play_for(clock, 3.0)
    assert commands_for(workspace, "news") == ["start", "stop", "cancel_delay"]


async def test_a_file_vanishing_while_another_is_in_its_grace_ends_after_its_own_grace(
    fake_workspace: Workspace,
) -> None:
    workspace, clock = fake_workspace, fake_workspace.fake
    workspace.write_config(extra="missing_file_grace: 2s\n")
    at = clock.wall() + seconds(0.5)
    workspace.write_schedule("keep.yaml", schedule_text({}))
    first = workspace.write_schedule("a.yaml", schedule_text({"a": [(at, at + seconds(60))]}))
    second = workspace.write_schedule("b.yaml", schedule_text({"b": [(at, at + seconds(60))]}))
    async with running_daemon(workspace):
        await play(clock, at + seconds(1.0))
        first.unlink()
        await play_for(clock, 1.0)  # a.yaml is in its grace when b.yaml goes
        second.unlink()
        await play_for(clock, 5.0)  # both graces are over; nothing else asks for a reload
    assert commands_for(workspace, "a") == ["start", "stop", "cancel_delay"]
    assert commands_for(workspace, "b") == ["start", "stop", "cancel_delay"]


async def test_startup_with_an_invalid_file_is_degraded_naming_file_and_line(
    fake_workspace: Workspace,
) -> None:
    workspace, clock = fake_workspace, fake_workspace.fake
    at = clock.wall() + seconds(30)
    workspace.write_schedule("good.yaml", schedule_text({"news": [(at, at + seconds(60))]}))
    workspace.write_schedule("bad.yaml", "domain: d\nstreams:\n  - name: x\n    windowz: []\n")
    metrics = Metrics()
    async with running_daemon(workspace, observer=metrics) as daemon:
        body = daemon.snapshot()
        assert body["config_loaded"] is True and body["windows"]["total"] == 1  # type: ignore[index]
        assert any("bad.yaml:4:" in p for p in body["problems"])  # type: ignore[union-attr]
        assert sample(metrics, "liverecd_reloads_total", result="failed") == 1
        assert sample(metrics, "liverecd_last_good_reload_timestamp_seconds") == 0
    clean = Metrics()
    (workspace.schedules / "bad.yaml").unlink()
    async with running_daemon(workspace, observer=clean) as daemon:
        assert daemon.snapshot()["problems"] == []
        assert sample(clean, "liverecd_last_good_reload_timestamp_seconds") > 0


async def test_a_dropped_command_is_counted_and_unhealthy_with_its_time(
    fake_workspace: Workspace,
) -> None:
    workspace, clock = fake_workspace, fake_workspace.fake
    workspace.emulator.set_online(key("late"), False)
    at = clock.wall() + seconds(0.3)
    workspace.write_schedule("s.yaml", schedule_text({"late": [(at, at + seconds(1.5))]}))
    metrics = Metrics()
    async with running_daemon(workspace, observer=metrics) as daemon:
        await play(clock, at + seconds(2.5))  # the window closed unrecorded
        body = daemon.snapshot()
        assert body["last_error"] and body["last_error_time"]
        assert any("command failed" in p for p in body["problems"])  # type: ignore[union-attr]
    assert sample(metrics, "liverecd_commands_dropped_total", command="start",
                  reason="window_closed") == 1  # fmt: skip

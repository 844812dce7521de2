"""Hot reload: add, change, remove, break and fix schedule files while the daemon runs; the
emulator must see exactly the expected commands and none for unchanged windows. The daemon and
emulator share a FakeClock; inotify reports the saves in real time, and the reload's debounce
runs on the fake clock, so the test keeps stepping it while it waits for a reload."""

from __future__ import annotations

import asyncio
import errno
import os
from datetime import datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from liverecd.clock import FakeClock
from liverecd.emulator import Emulator
from liverecd.engine import watchfs
from liverecd.engine.daemon import Daemon
from liverecd.streams import StreamKey

from .conftest import (
    APP,
    DOMAIN,
    Workspace,
    play,
    play_until,
    running_daemon,
    schedule_text,
    seconds,
)


def commands(emu: Emulator, name: str) -> list[tuple[str, datetime]]:
    key = StreamKey(DOMAIN, APP, name)
    return [(r.command, r.wall) for r in emu.requests if r.stream == key and r.command]


async def reloaded(clock: FakeClock, daemon: Daemon, count: int) -> None:
    """Step the clock until `count` reloads are done (the debounce reads the fake clock)."""
    await play_until(clock, lambda: daemon.reloads >= count, within=5)


async def test_reload_applies_only_the_difference_and_keeps_the_last_good_file(
    fake_workspace: Workspace,
) -> None:
    workspace, clock = fake_workspace, fake_workspace.fake
    t = clock.wall()
    long_window = (t + seconds(1.5), t + seconds(30))
    workspace.write_schedule("keep.yaml", schedule_text({"a": [long_window]}))
    workspace.write_schedule(
        "main.yaml",
        schedule_text({"b": [long_window], "c": [(t + seconds(1.5), t + seconds(4))]}),
    )
    edited = schedule_text({"c": [(t + seconds(1.5), t + seconds(6))]})
    emu = workspace.emulator
    with capture_logs() as logs:
        async with running_daemon(workspace) as daemon:
            await play(clock, t + seconds(2.5))
            # remove b (open: stopped), move c's end from +4 s to +6 s, add a file with d (open)
            workspace.write_schedule("main.yaml", edited)
            workspace.write_schedule(
                "extra.yaml", schedule_text({"d": [(t - seconds(10), t + seconds(5))]})
            )
            await reloaded(clock, daemon, 1)
            await play(clock, t + seconds(3.5))
            workspace.write_schedule("main.yaml", "streams: [\n")  # a broken save
            await reloaded(clock, daemon, daemon.reloads + 1)
            await play(clock, t + seconds(4.2))
            workspace.write_schedule("main.yaml", edited)  # fixed: same as the last good one
            await reloaded(clock, daemon, daemon.reloads + 1)
            await play(clock, t + seconds(6.8))
    assert [c for c, _ in commands(emu, "a")] == ["start"]  # unchanged: never touched
    assert [c for c, _ in commands(emu, "b")] == ["start", "stop", "cancel_delay"]
    assert [c for c, _ in commands(emu, "d")] == ["start", "stop", "cancel_delay"]
    c_cmds = commands(emu, "c")
    assert [c for c, _ in c_cmds] == ["start", "stop", "cancel_delay"]
    assert c_cmds[1][1] >= t + seconds(5.9)  # the stop moved with the end
    invalid = [e for e in logs if e["event"] == "schedule_invalid"]
    assert invalid and all(e["log_level"] == "error" for e in invalid)
    assert invalid[0]["file"].endswith("main.yaml") and invalid[0]["line"] is not None
    reloads = [e for e in logs if e["event"] == "reload"]
    assert [e["files_failed"] for e in reloads] == [0, 1, 0]
    assert reloads[2]["added"] == reloads[2]["removed"] == reloads[2]["changed"] == 0


async def test_a_file_broken_before_a_restart_does_not_stop_its_open_windows(
    fake_workspace: Workspace,
) -> None:
    workspace, clock = fake_workspace, fake_workspace.fake
    t = clock.wall()
    good = schedule_text({"a": [(t + seconds(1), t + seconds(60))]})
    workspace.write_schedule("main.yaml", good)
    emu = workspace.emulator
    async with running_daemon(workspace, watch_files=False):
        await play(clock, t + seconds(1.5))
    workspace.write_schedule("main.yaml", "streams:\n  - name: [\n")  # saved broken while down
    with capture_logs() as logs:
        async with running_daemon(workspace) as daemon:
            workspace.write_schedule("main.yaml", good)  # fixed while running
            await reloaded(clock, daemon, 1)
    assert [c for c, _ in commands(emu, "a")] == ["start", "start"]  # re-asserted, never stopped
    assert any(e["event"] == "schedule_invalid" for e in logs)
    key = StreamKey(DOMAIN, APP, "a")
    assert emu.recordings(key)[-1].end is None


async def test_a_reload_reuses_the_expansion_of_the_streams_it_did_not_change(
    fake_workspace: Workspace,
) -> None:
    workspace, clock = fake_workspace, fake_workspace.fake
    t = clock.wall()
    later = (t + seconds(60), t + seconds(120))
    workspace.write_schedule("keep.yaml", schedule_text({"a": [later]}))
    workspace.write_schedule("main.yaml", schedule_text({"b": [later], "c": [later]}))
    async with running_daemon(workspace, watch_files=False) as daemon:
        before = dict(daemon.engine.windows)
        # c moves; b, in the same file (so the file is parsed again), and a do not
        moved = (t + seconds(60), t + seconds(150))
        workspace.write_schedule("main.yaml", schedule_text({"b": [later], "c": [moved]}))
        await daemon.reload("test")
        after = daemon.engine.windows
    by_stream = {r.stream.stream: (wid, r) for wid, r in before.items()}
    for name in ("a", "b"):  # not expanded again: the very recordings the timeline kept
        wid, rec = by_stream[name]
        assert after[wid] is rec
    wid, rec = by_stream["c"]
    assert after[wid] is not rec and after[wid].end == moved[1]


async def test_a_file_watch_the_kernel_refuses_is_tried_again_and_then_sees_saves(
    fake_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With no inotify instance left (fs.inotify.max_user_instances), the file watch used to end
    # at once without a word: saves were never seen again, only SIGHUP reloaded.
    workspace, clock = fake_workspace, fake_workspace.fake
    real, refusals = watchfs._Inotify.__init__, [1]

    def refused_once(self: watchfs._Inotify) -> None:
        if refusals[0]:
            refusals[0] -= 1
            raise OSError(errno.EMFILE, "inotify_init1: Too many open files")
        real(self)

    monkeypatch.setattr(watchfs._Inotify, "__init__", refused_once)
    workspace.write_schedule("a.yaml", schedule_text({}))
    at = clock.wall() + seconds(600)
    with capture_logs() as logs:
        async with running_daemon(workspace) as daemon:
            await play(clock, clock.wall() + seconds(watchfs.RETRY + 1), step=1.0)
            await asyncio.sleep(0.1)  # the watch is set up in real time
            count = daemon.reloads
            workspace.write_schedule("a.yaml", schedule_text({"news": [(at, at + seconds(60))]}))
            await reloaded(clock, daemon, count + 1)
            assert daemon.snapshot()["windows"]["total"] == 1  # type: ignore[index]
    assert [e["error"] for e in logs if e["event"] == "watch_files_failed"] == [
        "[Errno 24] inotify_init1: Too many open files"
    ]


def overflow_inotify(junk: list[Path]) -> None:
    """More events than the kernel queues for one inotify instance, while the loop reads none."""
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    for i in range(limit + 10):
        os.utime(junk[i % 2])  # alternate: the kernel merges a repeat of the last event


async def test_a_save_lost_in_an_overflowing_event_queue_is_still_reloaded(
    fake_workspace: Workspace,
) -> None:
    # The kernel queues at most max_queued_events inotify events; past that it drops them and
    # says IN_Q_OVERFLOW, which the watch ignored: the save in the lost events was never seen.
    workspace, clock = fake_workspace, fake_workspace.fake
    workspace.write_schedule("a.yaml", schedule_text({}))
    junk = [workspace.schedules / "junk-a.txt", workspace.schedules / "junk-b.txt"]
    for path in junk:
        path.touch()
    at = clock.wall() + seconds(600)
    async with running_daemon(workspace) as daemon:
        overflow_inotify(junk)
        workspace.write_schedule("a.yaml", schedule_text({"news": [(at, at + seconds(60))]}))
        await reloaded(clock, daemon, 1)
        assert daemon.snapshot()["windows"]["total"] == 1  # type: ignore[index]

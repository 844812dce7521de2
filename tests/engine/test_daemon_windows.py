"""Windows are recorded as scheduled: measured from the emulator's recorder, over real HTTP,
with the daemon and the emulator on one FakeClock the test steps."""

from __future__ import annotations

from datetime import datetime

from liverecd.emulator import Emulator
from liverecd.streams import StreamKey

from .conftest import APP, DOMAIN, Workspace, iso, play, running_daemon, schedule_text, seconds


def stream(name: str) -> StreamKey:
    return StreamKey(DOMAIN, APP, name)


def coverage(emu: Emulator, key: StreamKey, start: datetime, end: datetime) -> float:
    """Share of [start, end) during which the emulator recorded `key`."""
    covered = 0.0
    for iv in emu.recordings(key):
        a = max(iv.start, start)
        b = min(iv.end or end, end)
        covered += max(0.0, (b - a).total_seconds())
    return covered / (end - start).total_seconds()


def overrun(emu: Emulator, key: StreamKey, end: datetime) -> float:
    """How long the last recording of `key` outlived `end` (seconds)."""
    ends = [iv.end or emu.clock.wall() for iv in emu.recordings(key)]
    return max(((e - end).total_seconds() for e in ends), default=0.0)


async def test_windows_are_recorded_as_scheduled(fake_workspace: Workspace) -> None:
    workspace, clock = fake_workspace, fake_workspace.fake
    t = clock.wall()
    plan = {
        "a": [(t + seconds(1.5), t + seconds(3.5)), (t + seconds(4.5), t + seconds(6))],
        "b": [(t + seconds(1.5), t + seconds(5))],
        "c": [(t + seconds(2), t + seconds(3))],
    }
    workspace.write_schedule("main.yaml", schedule_text(plan))
    emu = workspace.emulator
    async with running_daemon(workspace):
        await play(clock, t + seconds(6.8))
    for name, windows in plan.items():
        key = stream(name)
        for a, b in windows:
            assert coverage(emu, key, a, b) >= 0.95, (name, a, b, emu.recordings(key))
        assert overrun(emu, key, windows[-1][1]) <= 2.0
        assert emu.state(key).value == "idle"
    # immediate finalize: every stop is followed by its cancel_delay
    commands = [(r.command, r.stream) for r in emu.requests if r.command]
    for name, windows in plan.items():
        mine = [c for c, s in commands if s == stream(name)]
        assert mine == ["start", "stop", "cancel_delay"] * len(windows), (name, mine)


async def test_plain_and_anchored_schedule_files_both_record(fake_workspace: Workspace) -> None:
    # A plain file is built straight from libyaml's events; one with an anchor and a merge key
    # is composed the full way (schedule/yamlevents.py). The running daemon records both.
    workspace, clock = fake_workspace, fake_workspace.fake
    t = clock.wall()
    workspace.write_schedule("plain.yaml", schedule_text({"p": [(t + seconds(1), t + seconds(2))]}))
    anchored = (
        f"domain: {DOMAIN}\napp: {APP}\nstreams:\n"
        f"  - name: q\n    windows:\n"
        f"      - &w\n        start: {iso(t + seconds(1))}\n        end: {iso(t + seconds(2))}\n"
        f"  - name: r\n    windows:\n      - <<: *w\n"
    )
    workspace.write_schedule("anchored.yaml", anchored)
    emu = workspace.emulator
    async with running_daemon(workspace):
        await play(clock, t + seconds(2.8))
    for name in ("p", "q", "r"):
        commands = [r.command for r in emu.requests if r.command and r.stream == stream(name)]
        assert commands[:2] == ["start", "stop"], (name, commands)

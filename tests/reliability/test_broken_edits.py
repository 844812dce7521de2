"""Broken edits to a running daemon (issue 7, item 4, second half): one schedule file is saved
broken again and again while the daemon runs (binary junk, UTF-16, a truncated save, a YAML
syntax error, a tab, wrong types, an unknown key, an empty file); the file watcher reloads
after each. The last good version stays in force and keeps firing: windows that open after the
breakage are recorded, a window open across it is never interrupted, and a valid edit to
another file, made while the first is broken, is applied. Each failed reload is an error-level
`schedule_invalid` event naming the file (with its line when the problem is inside it).

Time is compressed: windows of 1-7 s, the edits about 0.3 s apart (the reload debounce is
250 ms), on a FakeClock the daemon and the emulator share and the test steps (inotify reports
the saves in real time; the debounce runs on the fake clock, so the test steps it while it waits
for each reload). A file that parses but holds a number too large for a duration (it once killed the
daemon) is refused the same way.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from conftest import EmulatorFactory, fake_clock, play, play_until
from liverecd.clock import FakeClock
from liverecd.engine.daemon import Daemon

from .conftest import LeakScan
from .rig import (
    SECRET,
    account,
    commands_of,
    coverage,
    credentials,
    key,
    schedule_text,
    seconds,
    serving,
    write_config,
    write_schedule,
)

BROKEN: list[tuple[str, bytes]] = [
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    ("utf-16", "streams: []\n".encode("utf-16")),
    ("syntax", b"domain: play.example.com\nstreams: [\n  {name: a\n"),
    ("tab", b"domain: play.example.com\nstreams:\n\t- name: a\n"),
    ("types", b"domain: play.example.com\nstreams: {a: 1}\n"),
    ("unknown-key", b"domian: play.example.com\nstreams: []\n"),
    ("empty", b""),
]


async def reloaded(clock: FakeClock, daemon: Daemon, count: int, within: float) -> None:
    """Step the clock until `count` reloads are done (the debounce reads the fake clock). Fine
    steps: while inotify's event is on its way in real time, simulated time runs on."""
    await play_until(clock, lambda: daemon.reloads >= count, within=within, step=0.01)


@pytest.mark.timeout(40)
async def test_broken_saves_keep_the_last_good_schedule_firing(
    tmp_path: Path, emulator_factory: EmulatorFactory, leaks: LeakScan
) -> None:
    ak = account("Edits01")
    clock = fake_clock()
    emu = await emulator_factory(clock=clock, accounts={ak: SECRET}, stop_delay=0.5)
    config = write_config(tmp_path, emu.url)
    t0 = clock.wall() + seconds(0.8)
    main = {
        "a": [(t0 + seconds(0.3), t0 + seconds(1.5)), (t0 + seconds(4.5), t0 + seconds(5.5)),
              (t0 + seconds(6.0), t0 + seconds(7.0))],
        "b": [(t0 + seconds(0.3), t0 + seconds(7.2))],
    }  # fmt: skip
    good = schedule_text(main)
    write_schedule(tmp_path, "main.yaml", good)
    write_schedule(tmp_path, "other.yaml", schedule_text({"c": [(t0, t0 + seconds(7.2))]}))
    shortened = schedule_text({"c": [(t0, t0 + seconds(3.0))]})
    async with asyncio.timeout(30), serving(config, credentials(ak), clock=clock) as daemon:
        await play(clock, t0 + seconds(1.6))
        for i, (_, junk) in enumerate(BROKEN):
            write_schedule(tmp_path, "main.yaml", junk)
            if i == 2:
                write_schedule(tmp_path, "other.yaml", shortened)  # reloads while main is broken
            await reloaded(clock, daemon, i + 1, within=5)
        # a truncated save of the good text, last: still broken when windows open
        write_schedule(tmp_path, "main.yaml", good[: len(good) // 2].rsplit("\n", 2)[0] + "\n  - [")
        await reloaded(clock, daemon, len(BROKEN) + 1, within=5)
        assert clock.wall() < main["a"][1][0], "the edits took longer than planned"
        await play(clock, t0 + seconds(7.6))

    for name, windows in main.items():
        for start, end in windows:
            assert coverage(emu, key(name), start, end) >= 0.9, (name, emu.recordings(key(name)))
    assert len(emu.recordings(key("b"))) == 1  # never interrupted
    assert [r.command for r in commands_of(emu, key("b"))] == ["start", "stop", "cancel_delay"]
    c_stop = next(r for r in commands_of(emu, key("c")) if r.command == "stop")
    assert abs((c_stop.wall - (t0 + seconds(3.0))).total_seconds()) < 0.5  # the valid edit held
    reloads = [e for e in leaks.events if e["event"] == "reload"]
    assert [e["files_failed"] for e in reloads] == [1] * (len(BROKEN) + 1)
    invalid = [e for e in leaks.events if e["event"] == "schedule_invalid"]
    assert invalid and all(e["log_level"] == "error" for e in invalid)
    assert all(str(e["file"]).endswith("main.yaml") for e in invalid)
    assert any(e["line"] is not None for e in invalid) and any(e["line"] is None for e in invalid)


@pytest.mark.timeout(30)
async def test_a_saved_absurd_number_is_refused_and_the_daemon_carries_on(
    tmp_path: Path, emulator_factory: EmulatorFactory, leaks: LeakScan
) -> None:
    ak = account("Edits02")
    clock = fake_clock()
    emu = await emulator_factory(clock=clock, accounts={ak: SECRET}, stop_delay=0.5)
    config = write_config(tmp_path, emu.url)
    t0 = clock.wall()
    window = (t0 + seconds(0.3), t0 + seconds(1.8))
    good = schedule_text({"a": [window]})
    write_schedule(tmp_path, "main.yaml", good)
    async with asyncio.timeout(20), serving(config, credentials(ak), clock=clock) as daemon:
        await play(clock, t0 + seconds(0.5))
        write_schedule(tmp_path, "main.yaml", "delay: 1.0e+20\n" + good)  # parses, overflows
        await reloaded(clock, daemon, 1, within=3)
        await play(clock, window[1] + seconds(0.3))
    assert coverage(emu, key("a"), *window) >= 0.9
    invalid = [e for e in leaks.events if e["event"] == "schedule_invalid"]
    assert [e["line"] for e in invalid] == [1]

"""The whole daemon runs on `FakeClock`: every timer of the engine (alarms, the dispatcher, the
horizon roll, the clock check, the status publish) reads the injected clock, so an hour of
timetable plays in a few real seconds against the emulator (on the same clock) over real HTTP.
The test steps the clock itself: autojump would race ahead of requests still on the wire."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import EmulatorFactory
from liverecd.clock import FakeClock
from liverecd.ops import service
from liverecd.schedule.config import load_config

from .conftest import CREDENTIALS, Workspace, schedule_text

STEP = 5.0  # simulated seconds per step
SETTLE = 0.01  # real seconds between steps: 600 steps play fifty minutes


@pytest.mark.slow
async def test_an_hour_of_windows_plays_on_the_fake_clock_in_seconds(
    tmp_path: Path, emulator_factory: EmulatorFactory
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    clock = FakeClock(t0)
    # One clock for both sides: the emulator checks request timestamps and times the stop delay.
    workspace = Workspace(tmp_path, await emulator_factory(clock=clock))
    workspace.write_config(timeout="30s")  # fake seconds: see write_config
    minutes = lambda m: t0 + timedelta(minutes=m)  # noqa: E731
    workspace.write_schedule(
        "s.yaml",
        schedule_text({
            "news": [(minutes(10), minutes(20))],
            "sport": [(minutes(15), minutes(45))],
        }),
    )  # fmt: skip
    config = load_config(workspace.config_path)
    async with service.running(config, CREDENTIALS, clock=clock, watch_files=False) as daemon:
        async with asyncio.timeout(60):  # real seconds
            while clock.wall() < minutes(50):
                clock.advance(STEP)
                await asyncio.sleep(SETTLE)  # real time for loopback HTTP and the state thread
        body = daemon.snapshot()
    sent = [
        (r.command, r.stream.stream)
        for r in workspace.emulator.requests
        if r.command is not None and r.stream is not None
    ]
    assert sent == [
        ("start", "news"), ("start", "sport"), ("stop", "news"), ("cancel_delay", "news"),
        ("stop", "sport"), ("cancel_delay", "sport"),
    ]  # fmt: skip
    assert body["windows"]["recording"] == 0  # type: ignore[index]

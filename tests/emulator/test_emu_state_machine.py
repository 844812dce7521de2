"""The per-stream state machine of live-api.md §1.3, driven over HTTP, and the recording
intervals it leaves behind."""

from __future__ import annotations

import asyncio

import pytest

from conftest import EmulatorFactory
from liverecd.clock import FakeClock
from liverecd.emulator import Emulator
from liverecd.streams import StreamKey

from .rawcall import KEY, command

SETUP = {
    "idle": [],
    "recording": ["start"],
    "paused_waiting": ["start", "stop"],
}

# (state before, command) -> (HTTP status, Code, state after), default configuration.
TABLE = {
    ("idle", "start"): (200, None, "recording"),
    ("idle", "stop"): (200, None, "idle"),  # undocumented
    ("idle", "cancel_delay"): (200, None, "idle"),  # undocumented
    ("idle", "restart"): (200, None, "recording"),  # undocumented: "forcibly restarts"
    ("recording", "start"): (409, "TaskAlreadyStarted", "recording"),
    ("recording", "stop"): (200, None, "paused_waiting"),
    ("recording", "cancel_delay"): (200, None, "recording"),  # undocumented
    ("recording", "restart"): (200, None, "recording"),
    ("paused_waiting", "start"): (409, "TaskAlreadyStarted", "paused_waiting"),
    ("paused_waiting", "stop"): (200, None, "paused_waiting"),  # undocumented
    ("paused_waiting", "cancel_delay"): (200, None, "idle"),
    ("paused_waiting", "restart"): (200, None, "recording"),
}
UNDOCUMENTED = {
    ("idle", "stop"),
    ("idle", "cancel_delay"),
    ("idle", "restart"),
    ("recording", "cancel_delay"),
    ("paused_waiting", "stop"),
}


async def _bring_to(emu: Emulator, state: str) -> None:
    for cmd in SETUP[state]:
        assert (await command(emu, cmd)).status == 200
    assert emu.state(KEY) == state


@pytest.mark.parametrize(("before", "cmd"), sorted(TABLE))
async def test_command_in_state_answers_and_moves_as_the_table_says(
    emulator: Emulator, before: str, cmd: str
) -> None:
    status, code, after = TABLE[(before, cmd)]
    async with asyncio.timeout(10):
        await _bring_to(emulator, before)
        reply = await command(emulator, cmd)
    assert (reply.status, reply.code) == (status, code)
    assert emulator.state(KEY) == after


@pytest.mark.parametrize(("before", "cmd"), sorted(UNDOCUMENTED))
async def test_undocumented_cells_answer_the_configured_code_without_effect(
    emulator_factory: EmulatorFactory, before: str, cmd: str
) -> None:
    emu = await emulator_factory(undocumented_code="InvalidTaskState")
    async with asyncio.timeout(10):
        await _bring_to(emu, before)
        reply = await command(emu, cmd)
    assert (reply.status, reply.code) == (400, "InvalidTaskState")
    assert emu.state(KEY) == before


@pytest.mark.parametrize("before", sorted(SETUP))
@pytest.mark.parametrize("cmd", ["start", "stop", "cancel_delay", "restart"])
async def test_offline_stream_answers_stream_not_found_to_every_command(
    emulator: Emulator, before: str, cmd: str
) -> None:
    async with asyncio.timeout(10):
        await _bring_to(emulator, before)
        emulator.set_online(KEY, False)
        reply = await command(emulator, cmd)
    assert (reply.status, reply.code) == (409, "StreamNotFound")
    assert emulator.state(KEY) == "idle"


async def test_unknown_stream_is_offline_without_default_online(
    emulator_factory: EmulatorFactory,
) -> None:
    emu = await emulator_factory(default_online=False)
    async with asyncio.timeout(10):
        before = await command(emu, "start")
        emu.set_online(KEY, True)
        after = await command(emu, "start")
    assert before.code == "StreamNotFound"
    assert after.status == 200


async def _fake(emulator_factory: EmulatorFactory, **kw: object) -> tuple[Emulator, FakeClock]:
    clock = FakeClock()
    return await emulator_factory(clock=clock, stop_delay=180.0, **kw), clock


async def test_stop_generates_the_file_after_the_delay_then_idle(
    emulator_factory: EmulatorFactory,
) -> None:
    emu, clock = await _fake(emulator_factory)
    async with asyncio.timeout(10):
        await command(emu, "start")
        clock.advance(60)
        await command(emu, "stop")
        clock.advance(179.9)
        assert emu.state(KEY) == "paused_waiting"
        clock.advance(0.2)
        assert emu.state(KEY) == "idle"
    (rec,) = emu.recordings(KEY)
    assert (rec.started_by, rec.ended_by, rec.file_closed_by) == ("start", "stop", "delay")
    assert rec.seconds == pytest.approx(60)
    assert rec.end is not None and rec.file_closed_at is not None
    assert (rec.file_closed_at - rec.end).total_seconds() == pytest.approx(180)


async def test_per_stream_stop_delay_overrides_the_default(
    emulator_factory: EmulatorFactory,
) -> None:
    emu, clock = await _fake(emulator_factory, stop_delays={KEY: 15.0})
    async with asyncio.timeout(10):
        await command(emu, "start")
        await command(emu, "stop")
        clock.advance(15)
        assert emu.state(KEY) == "idle"
        emu.set_stop_delay(KEY, 30.0)
        await command(emu, "start")
        await command(emu, "stop")
        clock.advance(15)
        assert emu.state(KEY) == "paused_waiting"


async def test_cancel_delay_generates_the_file_at_once(emulator_factory: EmulatorFactory) -> None:
    emu, clock = await _fake(emulator_factory)
    async with asyncio.timeout(10):
        await command(emu, "start")
        clock.advance(10)
        await command(emu, "stop")
        clock.advance(1)
        await command(emu, "cancel_delay")
    (rec,) = emu.recordings(KEY)
    assert rec.file_closed_by == "cancel_delay"
    assert rec.end is not None and rec.file_closed_at is not None
    assert (rec.file_closed_at - rec.end).total_seconds() == pytest.approx(1)


async def test_restart_while_recording_closes_the_file_and_starts_a_new_one(
    emulator_factory: EmulatorFactory,
) -> None:
    emu, clock = await _fake(emulator_factory)
    async with asyncio.timeout(10):
        await command(emu, "start")
        clock.advance(5)
        await command(emu, "restart")
        clock.advance(5)
    first, second = emu.recordings(KEY)
    assert (first.ended_by, first.file_closed_by) == ("restart", "restart")
    assert (second.started_by, second.end, second.file_closed_by) == ("restart", None, None)
    assert first.file != second.file


async def test_restart_inside_the_delay_resumes_the_same_file(
    emulator_factory: EmulatorFactory,
) -> None:
    emu, clock = await _fake(emulator_factory)
    async with asyncio.timeout(10):
        await command(emu, "start")
        clock.advance(5)
        await command(emu, "stop")
        clock.advance(100)
        await command(emu, "restart")
        clock.advance(5)
        await command(emu, "stop")
        await command(emu, "cancel_delay")
    first, second = emu.recordings(KEY)
    assert first.file == second.file
    assert second.start_mono - first.start_mono == pytest.approx(105)
    assert first.file_closed_by == second.file_closed_by == "cancel_delay"


async def test_stream_drop_ends_the_recording_for_good(emulator_factory: EmulatorFactory) -> None:
    emu, clock = await _fake(emulator_factory)
    async with asyncio.timeout(10):
        await command(emu, "start")
        clock.advance(30)
        emu.set_online(KEY, False)
        clock.advance(5)
        emu.set_online(KEY, True)
        assert emu.state(KEY) == "idle"
        clock.advance(5)
        assert (await command(emu, "start")).status == 200
    dropped, again = emu.recordings(KEY)
    assert (dropped.ended_by, dropped.file_closed_by) == ("stream_drop", "stream_drop")
    assert dropped.seconds == pytest.approx(30)
    assert again.start_mono - dropped.start_mono == pytest.approx(40)


async def test_drop_during_the_delay_generates_the_file_then(
    emulator_factory: EmulatorFactory,
) -> None:
    emu, clock = await _fake(emulator_factory)
    async with asyncio.timeout(10):
        await command(emu, "start")
        await command(emu, "stop")
        clock.advance(20)
        emu.set_online(KEY, False)
    (rec,) = emu.recordings(KEY)
    assert (rec.ended_by, rec.file_closed_by) == ("stop", "stream_drop")
    assert emu.state(KEY) == "idle"


async def test_recordings_filter_by_stream(emulator: Emulator) -> None:
    other = StreamKey("play.example.com", "live", "other")
    async with asyncio.timeout(10):
        await command(emulator, "start")
        await command(emulator, "start", other)
    assert [r.stream for r in emulator.recordings()] == [KEY, other]
    assert [r.stream for r in emulator.recordings(other)] == [other]

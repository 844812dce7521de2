"""Answers that are not API answers never end a command (issue 12, case 1) and an endless body
is cut at 1 MB (case 11); a transport error names host, port and reason (issue 16, item 7).

The emulator plays the proxy: `respond_with(shape=...)` answers one call with an HTML page, an
empty body, truncated JSON, an unknown code or a body that never ends, and has no effect on the
stream. The daemon runs in-process against it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from structlog.typing import EventDict

from conftest import EmulatorFactory, fake_clock, play
from liverecd.net import free_port
from liverecd.ops.metrics import Metrics

from .conftest import LeakScan
from .rig import (
    account,
    all_idle,
    credentials,
    key,
    schedule_text,
    seconds,
    serving,
    write_config,
    write_schedule,
)

AK = account("OddAns01")

# What a proxy or a broken server may answer, and the HTTP status it comes with.
ODD_STOPS = (("html", 403), ("html", 404), ("empty", 408), ("empty", 421), ("truncated", 400))
ODD_STARTS = (("ok_code", 200), ("empty", 200), ("html", 200), ("truncated", 200))


def attempts(leaks: LeakScan, command: str) -> list[EventDict]:
    return [e for e in leaks.events if e.get("event") == "command_attempt"
            and e.get("command") == command]  # fmt: skip


@pytest.mark.timeout(40)
async def test_odd_answers_to_start_and_stop_are_retried_until_the_api_acts(
    tmp_path: Path, emulator_factory: EmulatorFactory, leaks: LeakScan
) -> None:
    clock = fake_clock()
    emu = await emulator_factory(clock=clock, accounts={AK: credentials(AK).secret.reveal()})
    for shape, status in ODD_STARTS:
        emu.respond_with("InternalError", status, command="start", shape=shape)
    for shape, status in ODD_STOPS:
        emu.respond_with("InternalError", status, command="stop", shape=shape)
    emu.respond_with("ServiceUnavailableTemporary", 400, command="stop", shape="unknown_code")
    config = write_config(tmp_path, emu.url)
    start, end = clock.wall() + seconds(1.5), clock.wall() + seconds(4.0)
    write_schedule(tmp_path, "a.yaml", schedule_text({"cam": [(start, end)]}))
    async with asyncio.timeout(30), serving(config, credentials(AK), clock=clock):
        await play(clock, end)
        assert await all_idle(emu, [key("cam")], within=8.0), emu.state(key("cam"))

    [interval] = emu.recordings(key("cam"))  # the start went through after four odd answers
    assert interval.end is not None and (interval.end - end).total_seconds() < 8.0
    odd = [r.fault for r in emu.requests if r.fault]
    assert odd.count("html") == 3 and odd.count("empty") == 3 and "unknown_code" in odd
    for event in attempts(leaks, "start")[:4] + attempts(leaks, "stop")[:6]:
        assert event["outcome"] == "retry", event
        assert event["log_level"] == "warning", event


@pytest.mark.timeout(40)
async def test_an_endless_answer_is_cut_at_the_cap_and_retried(
    tmp_path: Path, emulator_factory: EmulatorFactory, leaks: LeakScan
) -> None:
    clock = fake_clock()
    emu = await emulator_factory(clock=clock, accounts={AK: credentials(AK).secret.reveal()})
    emu.respond_with("InternalError", 200, command="start", shape="endless")
    config = write_config(tmp_path, emu.url, timeout="10s")
    start, end = clock.wall() + seconds(1.0), clock.wall() + seconds(4.0)
    write_schedule(tmp_path, "a.yaml", schedule_text({"cam": [(start, end)]}))
    async with asyncio.timeout(30), serving(config, credentials(AK), clock=clock):
        await play(clock, end)
        assert await all_idle(emu, [key("cam")], within=8.0)

    first = attempts(leaks, "start")[0]
    assert first["transport_error"] == "too_large", first
    assert first["latency_ms"] < 5000, first  # cut at 1 MB, not at the 10 s timeout
    assert emu.url.split(":")[-1].rstrip("/") + ": " in first["transport_detail"], first
    [interval] = emu.recordings(key("cam"))
    assert (interval.start - start).total_seconds() < 2.0


@pytest.mark.timeout(30)
async def test_a_refused_connection_names_host_port_and_reason(
    tmp_path: Path, leaks: LeakScan
) -> None:
    port = free_port()
    clock = fake_clock()
    config = write_config(tmp_path, f"http://127.0.0.1:{port}")
    start, end = clock.wall() + seconds(0.5), clock.wall() + seconds(1.5)
    write_schedule(tmp_path, "a.yaml", schedule_text({"cam": [(start, end)]}))
    async with asyncio.timeout(20), serving(config, credentials(AK), clock=clock):
        await play(clock, start + seconds(0.5))

    first = attempts(leaks, "start")[0]
    assert first["transport_error"] == "connect"
    detail = first["transport_detail"]
    assert detail.startswith(f"127.0.0.1:{port}: ") and "refused" in detail.lower(), detail


@pytest.mark.timeout(40)
async def test_a_documented_refusal_ends_a_stop_at_error_level_and_is_counted(
    tmp_path: Path, emulator_factory: EmulatorFactory, leaks: LeakScan
) -> None:
    clock = fake_clock()
    emu = await emulator_factory(clock=clock, accounts={AK: credentials(AK).secret.reveal()})
    emu.respond_with("Forbidden.RAM", 403, command="stop")
    config = write_config(tmp_path, emu.url)
    start, end = clock.wall() + seconds(1.0), clock.wall() + seconds(2.5)
    write_schedule(tmp_path, "a.yaml", schedule_text({"cam": [(start, end)]}))
    metrics = Metrics()
    async with asyncio.timeout(30), serving(config, credentials(AK), clock=clock, observer=metrics):
        await play(clock, end + seconds(2.0))

    [refused] = [e for e in attempts(leaks, "stop") if e["outcome"] == "fatal"]
    assert refused["log_level"] == "error" and refused["code"] == "Forbidden.RAM"
    assert len(attempts(leaks, "stop")) == 1  # final: not retried
    page = metrics.render().decode()
    assert 'liverecd_commands_dropped_total{command="stop",reason="refused"} 1.0' in page

"""`liverecd run` itself feeds the status page (DESIGN §11): each account's credential source, and
the results of recent windows (coverage, gaps), which a restart reads back from the store."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from conftest import EmulatorFactory
from liverecd.net import free_port

from .conftest import LeakScan
from .procs import DaemonProcess, daemon_env
from .rig import SECRET, account, now, schedule_text, seconds, write_config, write_schedule

pytestmark = pytest.mark.realtime  # subprocesses on the real clock
AK = account("Page01")


async def status_of(port: int) -> dict[str, Any]:
    async with (
        asyncio.timeout(10),
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/api/status") as response,
    ):
        assert response.status == 200
        doc: dict[str, Any] = await response.json()
        return doc


@pytest.mark.slow
@pytest.mark.timeout(60)
async def test_the_running_daemons_page_shows_its_credentials_and_the_results_of_recent_windows(
    tmp_path: Path, emulator_factory: EmulatorFactory, leaks: LeakScan
) -> None:
    emu = await emulator_factory(accounts={AK: SECRET}, stop_delay=0.3)
    port = free_port()
    config = write_config(tmp_path, emu.url, status=f"127.0.0.1:{port}")
    config.write_text(config.read_text() + "verify:\n  grace: 300ms\n")
    write_schedule(tmp_path, "a.yaml", schedule_text({}))
    env = daemon_env(AK, sts=False)
    first = await DaemonProcess.spawn(config, env)
    try:
        await first.wait_event("daemon_started", within=15)  # however slow the machine
        a = now() + seconds(2)  # reloaded well before
        write_schedule(tmp_path, "a.yaml", schedule_text({"news": [(a, a + seconds(2))]}))
        first.process.send_signal(signal.SIGHUP)  # the file watch may not be set up yet
        await first.wait_event("reload", within=10)
        verified = await first.wait_event("window_verified", within=20)
        doc = await status_of(port)
    finally:
        assert await first.terminate() == 0
        leaks.add("daemon output", first.output())
    loaded = first.event("credentials_loaded")
    assert loaded is not None and doc["accounts"][0]["credential_source"] == loaded["source"]
    shown = [(r["stream"], r["result"], r["coverage"]) for r in doc["results"]]
    assert shown == [(verified["stream"], verified["result"], verified["coverage"])], shown

    again = await DaemonProcess.spawn(config, env)  # the result is read back at start-up
    try:
        await again.wait_event("daemon_started", within=15)
        doc = await status_of(port)
    finally:
        assert await again.terminate() == 0
        leaks.add("daemon output", again.output())
    assert [(r["result"], r["coverage"]) for r in doc["results"]] == [shown[0][1:]], doc["results"]

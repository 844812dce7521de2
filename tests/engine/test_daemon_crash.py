"""kill -9 in the middle of a window, then restart: the recording goes on (no stop, start
re-asserted); a window that ended during the downtime is stopped at once. The daemon runs as
`python -m liverecd run -c CONFIG`, the emulator in this process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from liverecd.emulator import Emulator
from liverecd.streams import StreamKey

from .conftest import (
    APP,
    DOMAIN,
    TEST_AK,
    TEST_SECRET,
    Workspace,
    now,
    schedule_text,
    seconds,
)

pytestmark = pytest.mark.realtime  # a subprocess killed with SIGKILL, on the real clock


@dataclass
class Proc:
    process: asyncio.subprocess.Process
    started: datetime
    events: list[dict[str, object]] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                self.events.append({"event": "unparsed", "line": line.decode(errors="replace")})

    async def wait_event(self, name: str, count: int = 1) -> dict[str, object]:
        async with asyncio.timeout(10):
            while sum(1 for e in self.events if e.get("event") == name) < count:
                if self.process.returncode is not None:
                    raise AssertionError(f"daemon exited: {self.events[-5:]}")
                await asyncio.sleep(0.02)
        return [e for e in self.events if e.get("event") == name][count - 1]


@asynccontextmanager
async def daemon_process(ws: Workspace) -> AsyncIterator[Proc]:
    env = {
        **os.environ,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": TEST_AK,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": TEST_SECRET,
    }
    env.pop("CREDENTIALS_DIRECTORY", None)
    env.pop("NOTIFY_SOCKET", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liverecd", "run", "-c", str(ws.config_path),
        stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    proc = Proc(process, now())
    proc.reader = asyncio.create_task(proc.read())
    try:
        yield proc
    finally:
        if process.returncode is None:
            process.kill()
        async with asyncio.timeout(10):
            await process.wait()
            await proc.reader


def requests_for(emu: Emulator, name: str) -> list[tuple[str, datetime, str | None]]:
    key = StreamKey(DOMAIN, APP, name)
    return [(r.command, r.wall, r.code) for r in emu.requests if r.stream == key and r.command]


@pytest.mark.slow
async def test_kill_9_then_restart_continues_open_windows_and_stops_ended_ones(
    workspace: Workspace,
) -> None:
    t = now()
    workspace.write_schedule(
        "main.yaml",
        schedule_text(
            {
                "keeps": [(t + seconds(1.5), t + seconds(60))],
                "ends": [(t + seconds(1.5), t + seconds(3.5))],
            }
        ),
    )
    emu = workspace.emulator
    async with daemon_process(workspace) as first:
        await first.wait_event("daemon_started")
        await first.wait_event("command_attempt", 2)  # both starts landed
        first.process.send_signal(signal.SIGKILL)
        await first.process.wait()
    assert [c for c, _, _ in requests_for(emu, "ends")] == ["start"]
    await asyncio.sleep(max(0.0, (t + seconds(4) - now()).total_seconds()))  # "ends" closes
    async with daemon_process(workspace) as second:
        await second.wait_event("daemon_started")
        await second.wait_event("command_attempt", 3)  # start re-asserted, stop, cancel_delay
        reconcile = next(e for e in second.events if e.get("event") == "reconcile")
        second.process.send_signal(signal.SIGHUP)
        reload = await second.wait_event("reload")
        second.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await second.process.wait() == 0
    assert reconcile["reasserted"] == 1 and reconcile["stopped"] == 1
    assert reload["trigger"] == "sighup" and reload["added"] == reload["removed"] == 0
    ends = requests_for(emu, "ends")
    assert [c for c, _, _ in ends] == ["start", "stop", "cancel_delay"]
    assert (ends[1][1] - second.started).total_seconds() <= 5.0
    keeps = requests_for(emu, "keeps")
    assert [(c, code) for c, _, code in keeps] == [
        ("start", None),
        ("start", "TaskAlreadyStarted"),  # re-asserted, never stopped
    ]
    key = StreamKey(DOMAIN, APP, "keeps")
    assert len(emu.recordings(key)) == 1 and emu.recordings(key)[0].end is None
    assert any(e.get("event") == "daemon_stopped" for e in second.events)

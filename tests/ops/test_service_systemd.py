"""`liverecd run` as systemd sees it: a subprocess with a fake NOTIFY_SOCKET and a watchdog,
talking to the emulator on loopback, its /metrics compared with what the emulator received."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from liverecd.emulator import Emulator
from liverecd.net import free_port

LIFECYCLE = ("READY", "RELOADING", "STOPPING")
TEST_AK = "LTAI5tFAKEexampleKeyId01"  # the emulator fixture's made-up account (tests/conftest.py)
TEST_SECRET = "FakeSecretForTestVectorsOnly0123"


class Manager:
    """The service manager's end of the notify socket (abstract namespace, no file to clean)."""

    def __init__(self) -> None:
        self.name = f"@liverecd-test-{uuid.uuid4().hex}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name[1:])
        self.sock.setblocking(False)
        self.seen: list[dict[str, str]] = []
        self.log: Path | None = None  # the daemon's output, shown when it dies early

    async def until(self, key: str, proc: asyncio.subprocess.Process) -> dict[str, str]:
        """Read datagrams until one carries `key` (bounded; fails at once if `proc` exits
        without sending it); every one is kept in `seen`."""
        loop = asyncio.get_running_loop()
        exited = asyncio.ensure_future(proc.wait())
        try:
            async with asyncio.timeout(20):
                while True:
                    receive = asyncio.ensure_future(loop.sock_recv(self.sock, 4096))
                    await asyncio.wait({receive, exited}, return_when=asyncio.FIRST_COMPLETED)
                    if receive.done():
                        if key in (message := self._keep(receive.result())):
                            return message
                        continue
                    receive.cancel()
                    return self._left_behind(key, proc)
        finally:
            exited.cancel()

    def _keep(self, data: bytes) -> dict[str, str]:
        message = dict(line.split("=", 1) for line in data.decode().split("\n"))
        self.seen.append(message)
        return message

    def _left_behind(self, key: str, proc: asyncio.subprocess.Process) -> dict[str, str]:
        """The process has exited: `key` may still sit in the socket's queue."""
        while True:
            try:
                message = self._keep(self.sock.recv(4096))
            except BlockingIOError:
                log = self.log.read_text() if self.log else ""
                raise AssertionError(
                    f"daemon exited ({proc.returncode}) before {key}\n{log}"
                ) from None
            if key in message:
                return message

    def lifecycle(self) -> list[str]:
        return [k for m in self.seen for k in m if k in LIFECYCLE]




def write_config(folder: Path, api_url: str, status_port: int) -> Path:
    (folder / "schedules").mkdir()
    now = datetime.now(UTC)
    start, end = (now - timedelta(minutes=5)).isoformat(), (now + timedelta(hours=2)).isoformat()
    windows = f"    windows:\n      - start: {start}\n        end: {end}\n"
    (folder / "schedules" / "news.yaml").write_text(
        "domain: play.example.com\napp: live\nstreams:\n"
        + f"  - name: news\n{windows}  - name: sport\n{windows}"
    )
    config = folder / "liverecd.yaml"
    config.write_text(
        f"api:\n  endpoint: {api_url}\nschedules:\n  - schedules/*.yaml\n"
        f"state_dir: {folder / 'state'}\nlog:\n  format: json\n"
        f"status:\n  listen: 127.0.0.1:{status_port}\nwatch:\n  interval: 0s\n"
    )
    return config


@pytest.fixture
async def manager() -> AsyncIterator[Manager]:
    m = Manager()
    yield m
    m.sock.close()


async def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with (
        asyncio.timeout(10),
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        text = await response.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_notify_sequence_and_metrics_of_a_real_daemon(
    tmp_path: Path, emulator: Emulator, manager: Manager
) -> None:
    status_port = free_port()
    config = write_config(tmp_path, emulator.url, status_port)
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    env |= {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": TEST_AK,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": TEST_SECRET,
        "NOTIFY_SOCKET": manager.name,
        "WATCHDOG_USEC": "1000000",  # a ping every 0.5 s
    }
    log_file = manager.log = tmp_path / "daemon.log"
    with log_file.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "liverecd", "run", "-c", str(config),
            env=env, stdout=out, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    try:
        await manager.until("READY", proc)
        await manager.until("WATCHDOG", proc)

        starts = 0
        async with asyncio.timeout(10):  # both starts answered and counted
            while starts < 2:
                found = await scrape(status_port)
                starts = int(
                    found["liverecd_commands_total", (("command", "start"), ("outcome", "ok"))]
                )
                await asyncio.sleep(0.05)
        seen = [
            r for r in emulator.requests
            if r.action == "RealTimeRecordCommand" and r.command == "start" and r.http_status == 200
        ]  # fmt: skip
        assert starts == len(seen) == 2

        proc.send_signal(signal.SIGHUP)
        await manager.until("RELOADING", proc)
        await manager.until("READY", proc)
        proc.send_signal(signal.SIGTERM)
        await manager.until("STOPPING", proc)
        async with asyncio.timeout(20):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert manager.lifecycle() == ["READY", "RELOADING", "READY", "STOPPING"], log_file.read_text()
    reloading = next(m for m in manager.seen if "RELOADING" in m)
    assert int(reloading["MONOTONIC_USEC"]) > 0

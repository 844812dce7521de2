"""Issue 16 through the running daemon (`liverecd run` as a subprocess, as systemd starts it):
the shipped config starts with exactly the credentials the shipped unit loads, `systemctl status`
gets a STATUS= line, and a start-up that fails says why in one JSON line."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conftest import TEST_AK, TEST_SECRET
from liverecd.emulator import Emulator
from liverecd.net import free_port
from ops.test_service_systemd import Manager

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "liverecd.service"
# What a test account puts in each credential the unit may load (made-up values).
CREDENTIAL_VALUES = {"access_key_id": TEST_AK, "access_key_secret": TEST_SECRET}


def unit_credential_ids() -> list[str]:
    """The IDs of the unit's LoadCredential= lines (what $CREDENTIALS_DIRECTORY will hold)."""
    return re.findall(r"^LoadCredential=([\w.-]+):", UNIT.read_text(), re.MULTILINE)


def shipped_config(folder: Path, api_url: str) -> Path:
    """config/ as shipped; only what differs between hosts is changed: the endpoint (the
    emulator), state_dir and the status port."""
    text = (REPO / "config" / "liverecd.yaml").read_text()
    for old, new in (
        ("https://live.aliyuncs.com", api_url),
        ("/var/lib/liverecd", str(folder / "state")),
        ("127.0.0.1:9325", f"127.0.0.1:{free_port()}"),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    shutil.copytree(REPO / "config" / "schedules", folder / "schedules")
    path = folder / "liverecd.yaml"
    path.write_text(text)
    return path


def environ(**extra: str) -> dict[str, str]:
    drop = ("ALIBABA_CLOUD_", "LIVERECD_", "CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET", "WATCHDOG_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)} | extra


@pytest.fixture
async def manager() -> AsyncIterator[Manager]:
    m = Manager()
    yield m
    m.sock.close()


async def start_as_the_unit_does(
    tmp_path: Path, emulator: Emulator, manager: Manager
) -> asyncio.subprocess.Process:
    creds = tmp_path / "credentials"
    creds.mkdir()
    for name in unit_credential_ids():
        (creds / name).write_text(CREDENTIAL_VALUES[name])
    config = shipped_config(tmp_path, emulator.url)
    manager.log = tmp_path / "daemon.log"
    env = environ(CREDENTIALS_DIRECTORY=str(creds), NOTIFY_SOCKET=manager.name)
    with manager.log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "liverecd", "run", "-c", str(config),
            env=env, stdout=out, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip


async def stop(proc: asyncio.subprocess.Process) -> int:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(20):
        return await proc.wait()


async def test_the_shipped_config_starts_with_the_credentials_the_shipped_unit_loads(
    tmp_path: Path, emulator: Emulator, manager: Manager
) -> None:
    proc = await start_as_the_unit_does(tmp_path, emulator, manager)
    try:
        await manager.until("READY", proc)
    finally:
        assert await stop(proc) == 0


async def test_systemctl_status_gets_a_status_line_from_the_running_daemon(
    tmp_path: Path, emulator: Emulator, manager: Manager
) -> None:
    proc = await start_as_the_unit_does(tmp_path, emulator, manager)
    try:
        await manager.until("READY", proc)
        async with asyncio.timeout(15):  # the status loop looks every 2 s
            while not any(" windows, " in m.get("STATUS", "") for m in manager.seen):
                await manager.until("STATUS", proc)
    finally:
        assert await stop(proc) == 0
    status = next(m["STATUS"] for m in manager.seen if " windows, " in m.get("STATUS", ""))
    assert re.fullmatch(r"\d+ windows, \d+ recording, (next: .+|nothing scheduled)", status)


async def fail_to_start(config: Path, env: dict[str, str]) -> list[dict[str, object]]:
    """Run the daemon expecting exit 1; its stderr, every line parsed as JSON."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liverecd", "run", "-c", str(config),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(20):
        out, err = await proc.communicate()
    assert proc.returncode == 1, (out + err).decode()
    assert err.strip(), "no reason given"
    return [json.loads(line) for line in err.decode().splitlines()]


async def test_fatal_startup_errors_are_json_lines_with_log_format_json(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("domain: d.example\napp: live\nstreams: []\n")
    config = tmp_path / "liverecd.yaml"
    base = f"schedules: [a.yaml]\nstate_dir: {tmp_path / 'state'}\nlog:\n  format: json\n"
    base += "status:\n  listen: off\n"
    config.write_text(base)
    [line] = await fail_to_start(config, environ())
    assert (line["event"], line["level"]) == ("daemon_failed", "critical")
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in str(line["error"])
    assert str(line["timestamp"]).endswith("Z")

    config.write_text(base + f"watch:\n  callback_listen: 127.0.0.1:{free_port()}\n")
    creds = {"ALIBABA_CLOUD_ACCESS_KEY_ID": TEST_AK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": TEST_SECRET}
    [line] = await fail_to_start(config, environ(**creds))
    assert line["event"] == "daemon_failed" and "notify" in str(line["error"])
    assert TEST_SECRET not in json.dumps(line)

    config.write_text("api: [\n")  # no log.format to go by: JSON, the default, off a terminal
    [line] = await fail_to_start(config, environ(**creds))
    assert line["event"] == "daemon_failed" and "liverecd.yaml:" in str(line["error"])

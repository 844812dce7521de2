"""Hostile clients on the listening ports (issue 12, cases 4 and 11): slow connections cannot
exhaust the daemon's file descriptors, so every command still goes out; malformed requests are
rate-limited warnings without a traceback; accept() failures do not flood the log."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
import yaml

from conftest import EmulatorFactory
from liverecd.net import free_port
from liverecd.ops.extension import IngestExtension
from liverecd.ops.listen import HEADER_TIMEOUT
from liverecd.schedule.config import load_config

from .conftest import LeakScan
from .procs import DaemonProcess, daemon_env
from .rig import (
    SECRET,
    account,
    all_idle,
    credentials,
    key,
    now,
    schedule_text,
    seconds,
    serving,
    until,
    write_config,
    write_schedule,
)

AK = account("Listen01")
NOTIFY_KEY = "ListenerTestNotifyKey0123"
SLOW_HEADER = b"GET /notify/ingest HTTP/1.1\r\nHost: x\r\n"  # never finished


def with_callbacks(config: Path, port: int) -> Path:
    data = yaml.safe_load(config.read_text())
    data["watch"]["callback_listen"] = f"127.0.0.1:{port}"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


async def slow_client(port: int) -> tuple[float, bool] | None:
    """Open a connection, start a request and never finish it: (seconds until the daemon
    closed it, whether it did), or None when the connection could not be opened at all."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    started = time.monotonic()
    try:
        writer.write(SLOW_HEADER)
        await writer.drain()
        await asyncio.wait_for(reader.read(1024), HEADER_TIMEOUT + 5)  # EOF, or an answer
        closed = True
    except OSError:
        closed = True  # reset: the daemon aborted it
    except TimeoutError:
        closed = False
    writer.close()
    return time.monotonic() - started, closed


@pytest.mark.slow
@pytest.mark.realtime  # a subprocess, and clients that stall in real time
@pytest.mark.timeout(90)
async def test_a_slowloris_on_both_ports_costs_no_command_and_no_log_flood(
    tmp_path: Path, emulator_factory: EmulatorFactory, leaks: LeakScan
) -> None:
    emu = await emulator_factory(accounts={AK: SECRET})
    ingest, status = free_port(), free_port()
    config = with_callbacks(write_config(tmp_path, emu.url, status=f"127.0.0.1:{status}"), ingest)
    t0 = now()
    windows = {f"s{i}": [(t0 + seconds(6), t0 + seconds(9))] for i in range(5)}
    write_schedule(tmp_path, "a.yaml", schedule_text(windows))
    env = {**daemon_env(AK, sts=False), "LIVERECD_NOTIFY_AUTH_KEY": NOTIFY_KEY}
    proc = await DaemonProcess.spawn(config, env, nofile=256)  # systemd's default is 1024
    try:
        await proc.wait_event("daemon_started", within=15)
        clients = [slow_client(p) for p in (ingest, status) for _ in range(200)]
        outcomes = await asyncio.gather(*clients)
        await until(t0 + seconds(9))
        assert await all_idle(emu, map(key, windows), within=8.0)
    finally:
        assert await proc.terminate() == 0
        leaks.add("daemon output", proc.output())
    for name in windows:  # every start and stop went out, none failed to connect
        assert len(emu.recordings(key(name))) == 1, (name, emu.recordings(key(name)))
    attempts = [e for e in proc.events if e.get("event") == "command_attempt"]
    assert not [e for e in attempts if e.get("transport_error")], attempts
    opened = [o for o in outcomes if o is not None]
    assert all(closed for _, closed in opened)  # by the budget or by the header deadline
    assert max(held for held, _ in opened) < HEADER_TIMEOUT + 3
    noisy = [e for e in proc.events if e.get("event") in ("accept_failed", "unparsed")]
    assert len(noisy) <= 4, noisy[:5]  # rate-limited, never one line per failure


@pytest.mark.timeout(60)
async def test_malformed_callback_requests_are_rate_limited_warnings_without_traceback(
    tmp_path: Path,
    emulator_factory: EmulatorFactory,
    leaks: LeakScan,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIVERECD_NOTIFY_AUTH_KEY", NOTIFY_KEY)
    emu = await emulator_factory(accounts={AK: SECRET})
    port = free_port()
    config = with_callbacks(write_config(tmp_path, emu.url), port)
    write_schedule(tmp_path, "a.yaml", schedule_text({}))
    garbage = (
        b"GET /notify/ingest HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"POST /notify/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
        b"boundary=zz\r\nContent-Length: 10\r\n\r\n0123456789",
        b"GET /notify/ingest?\xff\xfe HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    )
    caplog.set_level(logging.DEBUG)
    ext = IngestExtension(load_config(config))
    async with serving(config, credentials(AK), extensions=[ext]):
        for i in range(300):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(garbage[i % len(garbage)])
            await writer.drain()
            answer = await reader.read(64)
            assert answer.startswith(b"HTTP/1.") and b" 400 " in answer, answer
            writer.close()
    quiet = ("http_request_malformed", "ingest_callback_refused")
    about = [e for e in leaks.events if e.get("event") in quiet]
    assert 1 <= len(about) <= 6, about
    assert all(e["log_level"] == "warning" and "exc_info" not in e for e in about), about
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text[:2000]

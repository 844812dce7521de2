"""One registry of secret values scrubs every output (issue 12, case 10): a server answer that
echoes the secret or the STS token reaches neither `/healthz`, `/metrics`, the log nor
`liverecd fire`'s output, and the ingest-callback key is registered like the AccessKey secret.

The emulator plays a server that quotes what it got: its `Code` carries the secret (a code that
starts with `Missing`, so the daemon treats it as a final refusal and reports it in `last_error`),
its `Message` the STS token URL-encoded."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
import structlog
import yaml

from conftest import EmulatorFactory, fake_clock, play
from liverecd import redaction
from liverecd.config import ListenAddress
from liverecd.net import free_port
from liverecd.ops import logs
from liverecd.ops.extension import IngestExtension, StatusExtension
from liverecd.ops.metrics import Metrics
from liverecd.schedule.config import load_config

from .conftest import LeakScan
from .procs import daemon_env
from .rig import (
    SECRET,
    TOKEN,
    account,
    credentials,
    http_get,
    schedule_text,
    seconds,
    serving,
    write_config,
    write_schedule,
)

AK = account("Registry1")
NOTIFY_KEY = "RegistryTestNotifyKey987"
ECHO = f"MissingParam.{SECRET}"


def not_the_emulator(leaks: LeakScan) -> None:
    """The emulator logs the code it was told to answer with: the script, not the daemon."""
    leaks.events[:] = [e for e in leaks.events if e.get("event") != "emulator_request"]


def echoing(emu_respond: object) -> None:
    emu_respond(ECHO, 400, command="start", message=f"got token {quote(TOKEN, safe='')}")  # type: ignore[operator]


@pytest.mark.timeout(40)
async def test_an_answer_echoing_the_secret_reaches_no_page_and_no_log_line(
    tmp_path: Path,
    emulator_factory: EmulatorFactory,
    leaks: LeakScan,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIVERECD_NOTIFY_AUTH_KEY", NOTIFY_KEY)
    clock = fake_clock()
    emu = await emulator_factory(clock=clock, accounts={AK: SECRET}, sts_tokens={AK: TOKEN})
    echoing(emu.respond_with)
    config = write_config(tmp_path, emu.url)
    data = yaml.safe_load(config.read_text())
    data["watch"]["callback_listen"] = f"127.0.0.1:{free_port()}"
    config.write_text(yaml.safe_dump(data))
    start = clock.wall() + seconds(1.0)
    write_schedule(tmp_path, "a.yaml", schedule_text({"cam": [(start, start + seconds(20))]}))
    metrics = Metrics()
    status = StatusExtension(ListenAddress("127.0.0.1", 0), metrics)
    ingest = IngestExtension(load_config(config))
    out = io.StringIO()
    logs.configure(stream=out)  # the daemon's own log pipeline, redaction included
    try:
        async with (
            asyncio.timeout(30),
            serving(
                config,
                credentials(AK, sts=True),
                clock=clock,
                observer=metrics,
                extensions=[status, ingest],
            ) as daemon,
        ):
            await play(clock, start + seconds(1.5))
            assert status.address is not None
            base = f"http://127.0.0.1:{status.address[1]}"
            _, health = await http_get(base + "/healthz")
            _, page = await http_get(base + "/metrics")
            assert "MissingParam" in str(daemon.snapshot().get("last_error")), health
            structlog.get_logger("test").warning("quoting", key=f"k={NOTIFY_KEY}")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    not_the_emulator(leaks)
    leaks.add("/healthz", health)
    leaks.add("/metrics", page)
    leaks.add("log lines", out.getvalue())
    assert "MissingParam.***" in json.loads(health)["last_error"], health
    assert NOTIFY_KEY not in out.getvalue() and redaction.scrub(NOTIFY_KEY) == "***"


@pytest.mark.timeout(40)
@pytest.mark.realtime  # `liverecd fire` in a subprocess
async def test_fire_prints_no_secret_the_server_echoed(
    tmp_path: Path, emulator_factory: EmulatorFactory, leaks: LeakScan
) -> None:
    emu = await emulator_factory(accounts={AK: SECRET}, sts_tokens={AK: TOKEN})
    echoing(emu.respond_with)
    config = write_config(tmp_path, emu.url)
    write_schedule(tmp_path, "a.yaml", schedule_text({}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liverecd", "fire", "start", "play.example.com/live/cam",
        "-c", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=daemon_env(AK, sts=True),
    )  # fmt: skip
    async with asyncio.timeout(30):
        out, err = await proc.communicate()
    not_the_emulator(leaks)
    leaks.add("fire stdout", out)
    leaks.add("fire stderr", err)
    assert proc.returncode == 1 and b"MissingParam.***" in out, (out, err)

"""`liverecd emulator`: loopback only, credentials from the daemon's environment, runs until
SIGTERM and exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiohttp
import pytest

from conftest import TEST_AK, TEST_SECRET
from liverecd import cli
from liverecd.emulator import EmulatorConfig
from liverecd.emulator import cli as emulator_cli


def _config(argv: list[str]) -> EmulatorConfig:
    args = cli.build_parser(["emulator", *argv]).parse_args(["emulator", *argv])
    return emulator_cli._config(args)


def test_non_loopback_host_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["emulator", "--host", "0.0.0.0", "--port", "0"]) == 1
    assert "non-loopback" in capsys.readouterr().err


def test_account_comes_from_the_daemons_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tFROMENV")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret")
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "env-token")
    config = _config(["--qps", "7", "--stop-delay", "5s", "--offline-by-default"])
    assert config.accounts == {"LTAI5tFROMENV": "env-secret"}
    assert config.sts_tokens == {"LTAI5tFROMENV": "env-token"}
    assert (config.qps, config.stop_delay, config.default_online) == (7, 5.0, False)
    assert "env-secret" not in repr(config) and "env-token" not in repr(config)


def test_without_credentials_the_demo_pair_is_served(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("CREDENTIALS_DIRECTORY", "ALIBABA_CLOUD_ACCESS_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", raising=False)
    config = _config([])
    assert config.accounts == {TEST_AK: TEST_SECRET}
    assert "demo key pair" in capsys.readouterr().err


async def test_runs_until_sigterm_and_exits_zero() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_")}
    env.pop("CREDENTIALS_DIRECTORY", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "liverecd",
        "emulator",
        "--port",
        "0",
        "--online",
        "play.example.com/live/cam",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(20):
            assert proc.stdout is not None
            url = ""
            while not url:
                line = (await proc.stdout.readline()).decode()
                assert line, "emulator exited before printing its URL"
                if line.startswith("liverecd emulator listening on "):
                    url = line.split()[4]
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"{url}/_emulator/streams/play.example.com/live/cam") as resp,
            ):
                assert (await resp.json())["online"] is True
            proc.send_signal(signal.SIGTERM)
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

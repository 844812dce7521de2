"""Fixtures for wire tests: an emulator on loopback and clients pointed at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Literal

import pytest

from liverecd import cli
from liverecd.api.client import LiveClient
from liverecd.api.credentials import Credentials, Secret
from liverecd.config import ApiConfig, RetryConfig
from liverecd.emulator import Emulator, EmulatorConfig

AK = "LTAI5tFAKEexampleKeyId01"
SECRET = "FakeSecretForTestVectorsOnly0123"
STS_AK = "STS.FAKEexampleTemporaryKey"
STS_SECRET = "FakeStsSecretForTestsOnly456789"
STS_TOKEN = "FakeSecurityTokenValue+/=ForTestsOnly"

# Short enough that a hung request costs the suite little real time.
FAST_RETRY = RetryConfig(
    base=timedelta(milliseconds=1),
    cap=timedelta(milliseconds=20),
    max_attempts=4,
    wait_for_stream_cap=timedelta(milliseconds=20),
    stop_cap=timedelta(milliseconds=20),
)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    config = EmulatorConfig(
        accounts={AK: SECRET, STS_AK: STS_SECRET},
        sts_tokens={STS_AK: STS_TOKEN},
        qps=50,
        stop_delay=0.5,
        seed=0,
        default_online=True,
    )
    async with Emulator(config) as emulator:
        await emulator.start(host="127.0.0.1", port=0)
        yield emulator


def api_config(
    emu: Emulator, signature: Literal["v1", "v3"] = "v3", timeout: float = 5.0
) -> ApiConfig:
    """An ApiConfig aimed at `emu`, with fast retries."""
    return ApiConfig(
        endpoint=emu.url,
        signature=signature,
        timeout=timedelta(seconds=timeout),
        connect_timeout=timedelta(seconds=min(timeout, 2.0)),
        retry=FAST_RETRY,
    )


ClientFactory = Callable[..., LiveClient]


@pytest.fixture
async def make_client(emu: Emulator) -> AsyncIterator[ClientFactory]:
    """Build clients against `emu`; all are closed at teardown."""
    made: list[LiveClient] = []

    def factory(
        signature: Literal["v1", "v3"] = "v3",
        *,
        credentials: Credentials | None = None,
        timeout: float = 5.0,
        **kw: object,
    ) -> LiveClient:
        creds = credentials or Credentials(AK, Secret(SECRET))
        client = LiveClient(api_config(emu, signature, timeout), creds, **kw)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.close()


def write_fire_config(
    emu: Emulator, folder: Path, *, timeout: str = "2s", signature: str = "v3", extra: str = ""
) -> Path:
    """A main config aimed at `emu` with millisecond retries (3 attempts for a start)."""
    path = folder / "liverecd.yaml"
    path.write_text(
        f"api:\n"
        f"  endpoint: {emu.url}\n"
        f"  signature: {signature}\n"
        f"  timeout: {timeout}\n"
        f"  retry:\n"
        f"    base: 1ms\n"
        f"    cap: 10ms\n"
        f"    max_attempts: 3\n"
        f"schedules: []\n"
        f"state_dir: {folder / 'state'}\n" + extra,
        encoding="utf-8",
    )
    return path


@pytest.fixture
def fire_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test account's long-term key in the environment, nothing else."""
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", AK)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)


async def fire(*argv: str) -> int:
    """`liverecd fire ARGV` in-process; its exit code."""
    # fire runs its own event loop (asyncio.run); the emulator serves from this one.
    async with asyncio.timeout(20):
        return await asyncio.to_thread(cli.main, ["fire", *argv])

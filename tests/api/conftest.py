"""Fixtures for wire tests: an emulator on loopback and clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Literal

import pytest

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

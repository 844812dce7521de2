"""Fixtures shared by every test folder: the test credentials and emulators on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from hypothesis import settings

from liverecd.clock import Clock
from liverecd.emulator import Emulator, EmulatorConfig

# Hypothesis' per-example deadline is a timed assertion: on 2 cores shared by the suite's
# workers an example can take longer than 200 ms without anything being wrong.
settings.register_profile("liverecd", deadline=None)
settings.load_profile("liverecd")

# Made-up credentials (also those of shared/reference/signature-vectors.json).
TEST_AK = "LTAI5tFAKEexampleKeyId01"
TEST_SECRET = "FakeSecretForTestVectorsOnly0123"

EmulatorFactory = Callable[..., Awaitable[Emulator]]


@pytest.fixture
async def emulator_factory() -> AsyncIterator[EmulatorFactory]:
    """`await emulator_factory(clock=None, **EmulatorConfig fields)`: a started emulator on
    127.0.0.1 (any free port) with the test account, stop_delay 0.5 s and seed 0 unless
    overridden; every one is closed at teardown."""
    made: list[Emulator] = []

    async def make(*, clock: Clock | None = None, **overrides: Any) -> Emulator:
        fields: dict[str, Any] = {
            "accounts": {TEST_AK: TEST_SECRET},
            "stop_delay": 0.5,
            "seed": 0,
            **overrides,
        }
        emu = Emulator(EmulatorConfig(**fields), clock=clock)
        made.append(emu)
        await emu.start(host="127.0.0.1", port=0)
        return emu

    yield make
    for emu in made:
        await emu.close()


@pytest.fixture
async def emulator(emulator_factory: EmulatorFactory) -> Emulator:
    """A started emulator with the test account, stop_delay 0.5 s, seed 0."""
    return await emulator_factory()

"""Fixtures shared by every test folder: the test credentials and emulators on loopback, and
the helpers that step a FakeClock shared by a daemon and an emulator (`play`, `play_until`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog
from hypothesis import settings

from liverecd.clock import Clock, FakeClock
from liverecd.emulator import Emulator, EmulatorConfig

# Hypothesis' per-example deadline is a timed assertion: on 2 cores shared by the suite's
# workers an example can take longer than 200 ms without anything being wrong.
settings.register_profile("liverecd", deadline=None)
settings.load_profile("liverecd")

# The order the suite runs in, and how xdist hands it to its workers.
pytest_plugins = ["scheduling"]


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """Each test leaves logging as it found it: a daemon run in-process configures structlog and
    the root logger for the whole process (at info level), and a later test on the same worker
    that captures debug events would see none of them."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


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


# Stepping the fake clock: STEP simulated seconds, then SETTLE real seconds for loopback HTTP and
# the state writer thread to catch up. Autojump would race ahead of requests still on the wire.
STEP = 0.05
SETTLE = 0.005
# Then this many more turns of the event loop: a request on loopback and its answer take a few
# turns (write, the emulator reads and answers, the daemon reads), and on a starved machine the
# 5 ms can pass while the process is descheduled, in one turn, leaving the answer for a later
# simulated step. Turns cost microseconds, so the suite loses nothing when the machine is idle.
TURNS = 8


def fake_clock() -> FakeClock:
    """A FakeClock a day ahead of now: a timer still reading real time is a day off and shows."""
    return FakeClock(datetime.now(UTC).replace(microsecond=0) + timedelta(days=1))


async def settled(settle: float, quiet: Emulator | None) -> None:
    """Real time for I/O to catch up; with `quiet`, until its recorder saw no new request for
    a whole `settle` (a chain of calls, e.g. a poll then a start, lands in one simulated step)."""
    await asyncio.sleep(settle)
    for _ in range(TURNS):
        await asyncio.sleep(0)
    if quiet is None:
        return
    for _ in range(20):  # bounded: a daemon that keeps calling must not stall the clock
        seen = len(quiet.requests)
        await asyncio.sleep(settle)
        if len(quiet.requests) == seen:
            return


async def play(
    clock: FakeClock,
    until: datetime,
    *,
    step: float = STEP,
    settle: float = SETTLE,
    quiet: Emulator | None = None,
) -> None:
    """Step `clock` to the instant `until`, letting real I/O settle after each step."""
    async with asyncio.timeout(120):  # real seconds: a wedged daemon fails, not hangs
        while (left := (until - clock.wall()).total_seconds()) > 1e-9:
            clock.advance(min(step, left))
            await settled(settle, quiet)


async def play_for(clock: FakeClock, simulated: float) -> None:
    """Step `clock` `simulated` seconds on from now."""
    await play(clock, clock.wall() + timedelta(seconds=simulated))


async def play_until(
    clock: FakeClock,
    done: Callable[[], bool],
    *,
    within: float,
    step: float = STEP,
    quiet: Emulator | None = None,
) -> None:
    """Step `clock` until `done()` holds; TimeoutError after `within` simulated seconds."""
    deadline = clock.monotonic() + within
    async with asyncio.timeout(120):
        while not done():
            if clock.monotonic() >= deadline:
                raise TimeoutError(f"not done within {within:g} simulated seconds")
            clock.advance(step)
            await settled(SETTLE, quiet)

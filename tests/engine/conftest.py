"""Fixtures for the daemon's integration tests: a config folder and a daemon run in-process
against the emulator over real HTTP on 127.0.0.1, with time compressed to seconds, or (with
`fake_workspace`) on one `FakeClock` shared by the daemon and the emulator, which the test steps
with `play` / `play_until`."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import EmulatorFactory
from liverecd.api.credentials import Credentials, Secret
from liverecd.clock import FakeClock
from liverecd.emulator import Emulator
from liverecd.engine.daemon import Daemon
from liverecd.engine.observer import EngineObserver
from liverecd.ops import service
from liverecd.schedule.config import load_config

TEST_AK = "LTAI5tFAKEexampleKeyId01"  # the test account of tests/conftest.py
TEST_SECRET = "FakeSecretForTestVectorsOnly0123"
CREDENTIALS = Credentials(TEST_AK, Secret(TEST_SECRET))
DOMAIN, APP = "play.example.com", "live"


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def window(start: datetime, end: datetime) -> str:
    return f"      - start: {iso(start)}\n        end: {iso(end)}\n"


def schedule_text(streams: dict[str, list[tuple[datetime, datetime]]], extra: str = "") -> str:
    """A schedule file: each stream with one-off windows (UTC)."""
    out = f"domain: {DOMAIN}\napp: {APP}\n{extra}streams:\n"
    for name, wins in streams.items():
        out += f"  - name: {name}\n    windows:\n"
        out += "".join(window(a, b) for a, b in wins)
    if not streams:
        out = f"domain: {DOMAIN}\napp: {APP}\nstreams: []\n"
    return out


@dataclass
class Workspace:
    root: Path
    emulator: Emulator
    clock: FakeClock | None = None  # shared with the emulator; the daemon runs on it too

    @property
    def fake(self) -> FakeClock:
        """The shared FakeClock (a `fake_workspace` only)."""
        assert self.clock is not None, "a fake_workspace has the clock"
        return self.clock

    @property
    def config_path(self) -> Path:
        return self.root / "liverecd.yaml"

    @property
    def schedules(self) -> Path:
        return self.root / "schedules"

    def write_config(
        self,
        *,
        max_lead: str = "0s",
        watch: str = "0s",
        callback_listen: str = "off",
        extra: str = "",
        qps: int = 50,
    ) -> Path:
        self.schedules.mkdir(exist_ok=True)
        text = f"""\
            api:
              endpoint: {self.emulator.url}
              qps: {qps}
              timeout: 2s
              retry:
                base: 50ms
                cap: 500ms
                wait_for_stream_cap: 300ms
                stop_cap: 500ms
            schedules:
              - schedules/*.yaml
            state_dir: state
            max_lead: {max_lead}
            log:
              format: json
            status:
              listen: off
            watch:
              interval: {watch}
              callback_listen: {callback_listen}
            """
        self.config_path.write_text(textwrap.dedent(text) + extra)
        return self.config_path

    def write_schedule(self, name: str, text: str) -> Path:
        path = self.schedules / name
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)  # as editors save: a rename, never a half-written file
        return path


@pytest.fixture
def workspace(tmp_path: Path, emulator: Emulator) -> Iterator[Workspace]:
    ws = Workspace(tmp_path, emulator)
    ws.write_config()
    yield ws


# Stepping the fake clock: STEP simulated seconds, then SETTLE real seconds for loopback HTTP and
# the state writer thread to catch up. Autojump would race ahead of requests still on the wire.
STEP = 0.05
SETTLE = 0.005


def fake_clock() -> FakeClock:
    """A FakeClock a day ahead of now: a timer still reading real time is a day off and shows."""
    return FakeClock(datetime.now(UTC).replace(microsecond=0) + timedelta(days=1))


@pytest.fixture
async def fake_workspace(tmp_path: Path, emulator_factory: EmulatorFactory) -> Workspace:
    """A workspace whose emulator (and, through `running_daemon`, daemon) reads one
    `fake_clock()`."""
    clock = fake_clock()
    ws = Workspace(tmp_path, await emulator_factory(clock=clock), clock)
    ws.write_config()
    return ws


async def settled(settle: float, quiet: Emulator | None) -> None:
    """Real time for I/O to catch up; with `quiet`, until its recorder saw no new request for
    a whole `settle` (a chain of calls, e.g. a poll then a start, lands in one simulated step)."""
    await asyncio.sleep(settle)
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


def now() -> datetime:
    return datetime.now(UTC)


def seconds(s: float) -> timedelta:
    return timedelta(seconds=s)


@asynccontextmanager
async def running_daemon(
    ws: Workspace,
    *,
    watch_files: bool = True,
    extensions: Sequence[service.Extension] = (),
    observer: EngineObserver | None = None,
) -> AsyncIterator[Daemon]:
    """The service in-process (`service.running`: no signals; only the `extensions` given;
    `observer` as its metrics; the workspace's clock, if any), ready on entry."""
    config = load_config(ws.config_path)
    async with service.running(
        config,
        CREDENTIALS,
        clock=ws.clock,
        watch_files=watch_files,
        extensions=extensions,
        observer=observer,
    ) as daemon:
        yield daemon

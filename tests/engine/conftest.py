"""Fixtures for the daemon's integration tests: a config folder and a daemon run in-process
against the emulator over real HTTP on 127.0.0.1, with time compressed to seconds, or (with
`fake_workspace`) on one `FakeClock` shared by the daemon and the emulator, which the test steps
with `play` / `play_until`."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import conftest as shared
from conftest import EmulatorFactory, fake_clock
from liverecd.api.credentials import Credentials, Secret
from liverecd.clock import FakeClock
from liverecd.emulator import Emulator
from liverecd.engine.daemon import Daemon
from liverecd.engine.observer import EngineObserver
from liverecd.ops import service
from liverecd.ops.extension import Extension
from liverecd.schedule.config import load_config

TEST_AK = "LTAI5tFAKEexampleKeyId01"  # the test account of tests/conftest.py
TEST_SECRET = "FakeSecretForTestVectorsOnly0123"
CREDENTIALS = Credentials(TEST_AK, Secret(TEST_SECRET))
DOMAIN, APP = "play.example.com", "live"
# The steppers of the shared FakeClock live in tests/conftest.py (tests/reliability uses them).
play, play_for, play_until = shared.play, shared.play_for, shared.play_until


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
        timeout: str | None = None,
    ) -> Path:
        # On a FakeClock an attempt's deadline is fake time too: a test stepping the clock
        # faster than loopback answers arrive must not time them out (none of these tests
        # wants a timeout), so a fake workspace waits 30 s of its clock.
        timeout = timeout or ("30s" if self.clock is not None else "2s")
        self.schedules.mkdir(exist_ok=True)
        text = f"""\
            api:
              endpoint: {self.emulator.url}
              qps: {qps}
              timeout: {timeout}
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


@pytest.fixture
async def fake_workspace(tmp_path: Path, emulator_factory: EmulatorFactory) -> Workspace:
    """A workspace whose emulator (and, through `running_daemon`, daemon) reads one
    `fake_clock()`."""
    clock = fake_clock()
    ws = Workspace(tmp_path, await emulator_factory(clock=clock), clock)
    ws.write_config()
    return ws


def now() -> datetime:
    return datetime.now(UTC)


def seconds(s: float) -> timedelta:
    return timedelta(seconds=s)


@asynccontextmanager
async def running_daemon(
    ws: Workspace,
    *,
    watch_files: bool = True,
    extensions: Sequence[Extension] = (),
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

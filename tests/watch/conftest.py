"""A watch wired to an emulator on loopback, with a minimal stand-in for the daemon: asked for a
start, it sends one through the real client and reports a success back to the watch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from conftest import TEST_AK, TEST_SECRET, EmulatorFactory
from liverecd.api.client import LiveClient
from liverecd.api.credentials import Credentials, Secret
from liverecd.api.outcome import classify
from liverecd.api.ratelimit import RateLimiter
from liverecd.api.result import ApiResult
from liverecd.clock import FakeClock
from liverecd.config import ApiConfig
from liverecd.emulator import Emulator
from liverecd.engine.online.lister import online_list_limiter
from liverecd.engine.online.sessions import Event, OpenWindow
from liverecd.engine.online.watch import OnlineWatch
from liverecd.streams import Command, StreamKey

ONLINE_LIST = "DescribeLiveStreamsOnlineList"
DOMAIN = "play.example.com"


def key(name: str, domain: str = DOMAIN) -> StreamKey:
    return StreamKey(domain, "live", name)


@dataclass
class Rig:
    clock: FakeClock
    emu: Emulator
    client: LiveClient
    windows: dict[StreamKey, OpenWindow] = field(default_factory=dict)
    asked: list[tuple[StreamKey, str, datetime | None]] = field(default_factory=list)
    starts: list[tuple[StreamKey, ApiResult]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    auto_start: bool = True
    watch: OnlineWatch = field(init=False)
    limiter: RateLimiter = field(init=False)

    def open(self, *keys: StreamKey, window_id: str = "w1") -> None:
        """Open a two-hour window for each key, from now."""
        now = self.clock.wall()
        for k in keys:
            self.windows[k] = OpenWindow(f"{window_id}:{k}", now, now + timedelta(hours=2))

    async def on_online(self, k: StreamKey, window: OpenWindow, publish: datetime | None) -> None:
        self.asked.append((k, window.window_id, publish))
        if self.auto_start:
            await self.start(k, window.window_id)

    async def start(self, k: StreamKey, window_id: str) -> ApiResult:
        """What the daemon does: send a start; report a success to the watch."""
        sent = self.clock.wall()
        result = await self.client.real_time_record_command(Command.START, k)
        self.starts.append((k, result))
        if classify(Command.START, result).succeeded:
            self.watch.note_started(k, window_id, sent)
        return result

    def list_calls(self) -> int:
        return sum(1 for r in self.emu.requests if r.action == ONLINE_LIST)

    def changes(self) -> list[tuple[str, str]]:
        return [(str(e.change), e.stream.stream) for e in self.events]

    async def poll(self) -> bool:
        async with asyncio.timeout(10):
            return await self.watch.poll_once()


RigFactory = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def make_rig(emulator_factory: EmulatorFactory) -> AsyncIterator[RigFactory]:
    """`await make_rig(page_size=3000, interval=10.0, autojump=True, clock=None, **emulator
    overrides)`: `clock` shares a FakeClock with something built before the rig."""
    clients: list[LiveClient] = []

    async def make(
        *,
        page_size: int = 3000,
        interval: float = 10.0,
        autojump: bool = True,
        clock: FakeClock | None = None,
        **overrides: Any,
    ) -> Rig:
        clock = clock or FakeClock(autojump=autojump)
        emu = await emulator_factory(clock=clock, default_online=False, **overrides)
        config = ApiConfig(endpoint=emu.url, timeout=timedelta(seconds=5))
        client = LiveClient(config, Credentials(TEST_AK, Secret(TEST_SECRET)), clock=clock)
        clients.append(client)
        rig = Rig(clock, emu, client)
        rig.limiter = online_list_limiter(clock)
        rig.watch = OnlineWatch(
            client, rig.limiter, clock, interval=interval,
            windows=lambda: rig.windows, on_online=rig.on_online, on_event=rig.events.append,
            page_size=page_size,
        )  # fmt: skip
        return rig

    yield make
    for client in clients:
        await client.close()


async def until(predicate: Callable[[], bool], limit: float = 5.0) -> None:
    """Wait (bounded) for something that real I/O on loopback will make true."""
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110 - loopback I/O signals nothing we could await
            await asyncio.sleep(0.002)

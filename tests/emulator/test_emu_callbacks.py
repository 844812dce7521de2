"""Ingest callbacks (live-api.md §6.2): a GET per publish/publish_done, signed with
md5(ingest domain|timestamp|key), retried up to 5 times 1 s apart."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from conftest import EmulatorFactory
from liverecd.clock import FakeClock
from liverecd.streams import StreamKey

KEY = StreamKey("play.example.com", "live", "cam")
AUTH_KEY = "NotifyKeyForTests0123456789"


@dataclass
class Receiver:
    """A tiny callback endpoint: answers the scripted statuses in turn, then 200."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    seen: list[tuple[dict[str, str], dict[str, str]]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((dict(request.query), dict(request.headers)))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="ok")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_get("/notify/ingest", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    rec.url = f"http://{host}:{port}/notify/ingest"
    yield rec
    await runner.cleanup()


async def test_publish_and_publish_done_arrive_signed_and_in_order(
    emulator_factory: EmulatorFactory, receiver: Receiver
) -> None:
    emu = await emulator_factory(
        notify_url=receiver.url,
        notify_auth_key=AUTH_KEY,
        ingest_domain_map={"play.example.com": "push.example.com"},
    )
    emu.set_online(KEY, True)
    emu.set_online(KEY, False)
    async with asyncio.timeout(10):
        await emu.drain_callbacks()
    assert [q["action"] for q, _ in receiver.seen] == ["publish", "publish_done"]
    query, headers = receiver.seen[0]
    assert query["id"] == "cam" and query["appname"] == "live"
    assert query["app"] == "push.example.com"
    assert {"ip", "time", "usrargs", "node"} <= set(query)
    stamp = headers["ALI-LIVE-TIMESTAMP"]
    expected = hashlib.md5(f"push.example.com|{stamp}|{AUTH_KEY}".encode()).hexdigest()
    assert headers["ALI-LIVE-SIGNATURE"] == expected
    assert abs(int(stamp) - int(query["time"])) <= 1
    assert [(c.action, c.attempts, c.delivered) for c in emu.callbacks] == [
        ("publish", 1, True),
        ("publish_done", 1, True),
    ]


async def test_unchanged_state_sends_no_callback(
    emulator_factory: EmulatorFactory, receiver: Receiver
) -> None:
    emu = await emulator_factory(notify_url=receiver.url)
    emu.set_online(KEY, True)
    emu.set_online(KEY, True)
    async with asyncio.timeout(10):
        await emu.drain_callbacks()
    assert len(receiver.seen) == 1


async def test_without_auth_key_no_signature_headers_are_sent(
    emulator_factory: EmulatorFactory, receiver: Receiver
) -> None:
    emu = await emulator_factory(notify_url=receiver.url)
    emu.set_online(KEY, True)
    async with asyncio.timeout(10):
        await emu.drain_callbacks()
    ((_, headers),) = receiver.seen
    assert "ALI-LIVE-SIGNATURE" not in headers


@pytest.mark.parametrize(
    ("statuses", "attempts", "delivered"),
    [([500, 503], 3, True), ([500] * 10, 5, False)],
)
async def test_failed_delivery_is_retried_up_to_five_times(
    emulator_factory: EmulatorFactory,
    receiver: Receiver,
    statuses: list[int],
    attempts: int,
    delivered: bool,
) -> None:
    receiver.statuses = list(statuses)
    clock = FakeClock(autojump=True)
    emu = await emulator_factory(clock=clock, notify_url=receiver.url, notify_auth_key=AUTH_KEY)
    start = clock.monotonic()
    emu.set_online(KEY, True)
    async with asyncio.timeout(10):
        await emu.drain_callbacks()
    (record,) = emu.callbacks
    assert (record.attempts, record.delivered) == (attempts, delivered)
    assert len(receiver.seen) == attempts
    assert clock.monotonic() - start == pytest.approx(attempts - 1)  # 1 s between attempts


async def test_close_cancels_pending_deliveries(emulator_factory: EmulatorFactory) -> None:
    emu = await emulator_factory(notify_url="http://127.0.0.1:9/unreachable")
    emu.set_online(KEY, True)
    async with asyncio.timeout(5):
        await emu.close()
    assert emu.callbacks == []

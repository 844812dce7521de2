"""The verifier against the emulator over real HTTP, through the real client and the index's own
limiter: every page of every ≤ 4-day chunk is read; a failing index is retried with backoff and
gives `unverified` only after give-up; pending checks survive a restart; callback files merge by
uri."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import TEST_AK, TEST_SECRET, EmulatorFactory
from emulator.rawcall import command
from liverecd.api.client import LiveClient
from liverecd.api.credentials import Credentials, Secret
from liverecd.api.ratelimit import RateLimiter
from liverecd.api.record_index import ACTION_INDEX, IndexFile, IndexRead, read_index
from liverecd.clock import Clock, FakeClock, SystemClock
from liverecd.config import ApiConfig, VerifyConfig
from liverecd.emulator import Emulator
from liverecd.engine.store.sqlite import SqliteStateStore
from liverecd.streams import StreamKey
from liverecd.verify.coverage import Result
from liverecd.verify.rows import Verification
from liverecd.verify.verifier import Verifier

KEY = StreamKey("play.example.com", "live", "v")


@pytest.fixture
async def emu(emulator_factory: EmulatorFactory) -> Emulator:
    return await emulator_factory(index_millis=True)


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[LiveClient]:
    config = ApiConfig(endpoint=emu.url, timeout=timedelta(seconds=2))
    async with LiveClient(config, Credentials(TEST_AK, Secret(TEST_SECRET))) as c:
        yield c


def pending(start: datetime, end: datetime, due: datetime, wid: str = "w1") -> Verification:
    return Verification(window_id=wid, stream=KEY, start=start, end=end, due=due, first_due=due)


def verifier(
    tmp: Path, client: LiveClient, clock: Clock, **tuning: timedelta
) -> tuple[Verifier, SqliteStateStore]:
    store = SqliteStateStore(tmp)
    limiter = RateLimiter(15, clock)

    async def read(stream: StreamKey, a: datetime, b: datetime) -> IndexRead:
        return await read_index(client, limiter, stream, a, b)

    return Verifier(VerifyConfig(grace=timedelta(0)), store, read, clock, **tuning), store


async def until_done(v: Verifier, count: int, within: float) -> None:
    async with asyncio.timeout(within):
        while v.done < count:  # noqa: ASYNC110 - polls a plain counter of the verifier
            await asyncio.sleep(0.05)


async def record(emu: Emulator, key: StreamKey, seconds: float) -> tuple[datetime, datetime]:
    """Record `key` for about `seconds`; the window is what the emulator recorded."""
    assert (await command(emu, "start", key)).status == 200
    await asyncio.sleep(seconds)
    for cmd in ("stop", "cancel_delay"):
        assert (await command(emu, cmd, key)).status == 200
    (iv,) = emu.recordings(key)
    assert iv.end is not None
    return iv.start, iv.end


async def test_every_page_of_every_four_day_chunk_is_read(
    emulator_factory: EmulatorFactory,
) -> None:
    clock = FakeClock(start=datetime.now(UTC) - timedelta(days=9), autojump=True)
    emu = await emulator_factory(clock=clock, index_millis=True)
    t0 = clock.wall()
    for _ in range(70):  # 70 files over 7 days: chunks of 4 and 3 days, 40 and 30 files
        assert (await command(emu, "start", KEY)).status == 200
        clock.advance(3600)
        for cmd in ("stop", "cancel_delay"):
            assert (await command(emu, cmd, KEY)).status == 200
        clock.advance(1.4 * 3600)
    config = ApiConfig(endpoint=emu.url, timeout=timedelta(seconds=2))
    async with LiveClient(config, Credentials(TEST_AK, Secret(TEST_SECRET)), clock=clock) as c:
        got = await read_index(c, RateLimiter(15, clock), KEY, t0, clock.wall())
    assert got.ok and len(got.files) == 70
    ranges = [r for r in emu.requests if r.action == ACTION_INDEX]
    assert got.calls == len(ranges) == 3  # 2 pages of 30 for the first chunk, 1 for the second
    assert emu.max_in_any_second(action=ACTION_INDEX) <= 15


async def test_a_failing_index_is_retried_then_unverified_only_after_give_up(
    tmp_path: Path, emu: Emulator, client: LiveClient
) -> None:
    emu.respond_with("InternalError", 500, times=1000, action=ACTION_INDEX)
    v, store = verifier(tmp_path, client, SystemClock(), give_up=timedelta(seconds=1),
                        retry_base=timedelta(milliseconds=50))  # fmt: skip
    now = datetime.now(UTC)
    v._put(pending(now - timedelta(seconds=10), now - timedelta(seconds=1), now))
    runner = asyncio.create_task(v.run())
    try:
        await until_done(v, 1, within=10)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    row = await store.verification("w1")
    assert row is not None and row.result is Result.UNVERIFIED and row.attempts >= 3
    assert row.error == "InternalError"
    assert datetime.now(UTC) - now >= timedelta(seconds=1)
    await v.close()
    await store.close()


async def test_a_throttled_index_is_retried_until_it_answers(
    tmp_path: Path, emu: Emulator, client: LiveClient
) -> None:
    a, b = await record(emu, KEY, 0.5)
    emu.respond_with("Throttling.User", 400, times=2, action=ACTION_INDEX)
    v, store = verifier(tmp_path, client, SystemClock(), retry_base=timedelta(milliseconds=50))
    v._put(pending(a, b, datetime.now(UTC)))
    runner = asyncio.create_task(v.run())
    try:
        await until_done(v, 1, within=10)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    row = await store.verification("w1")
    assert row is not None and row.result is Result.OK and row.attempts == 3
    await v.close()
    await store.close()


async def test_pending_checks_survive_a_restart_and_callback_files_merge_by_uri(
    tmp_path: Path, emu: Emulator, client: LiveClient
) -> None:
    a, b = await record(emu, KEY, 0.6)
    first, store = verifier(tmp_path, client, SystemClock())
    first._put(pending(a, b, datetime.now(UTC) + timedelta(days=1)))
    indexed = emu.files(KEY)[0]
    same = IndexFile(uri=indexed.uri, start=indexed.start, end=indexed.end, duration=0.6)
    first.add_file(KEY, same)
    await first.flush()
    assert not await store.put_file(KEY, same)  # stored once by uri
    await first.close()
    await store.close()
    # a new process: the row is still pending and is checked once due
    again, store = verifier(tmp_path, client, SystemClock())
    assert await again.load() == 1
    row = await store.verification("w1")
    assert row is not None
    again._put(pending(a, b, datetime.now(UTC)))
    await again.flush()
    runner = asyncio.create_task(again.run())
    try:
        await until_done(again, 1, within=10)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    done = await store.verification("w1")
    assert done is not None and done.result is Result.OK
    assert [f.uri for f in done.files] == [indexed.uri]
    await again.close()
    await store.close()

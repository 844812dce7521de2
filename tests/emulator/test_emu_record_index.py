"""DescribeLiveStreamRecordIndexFiles as documented (live-api.md §6.5): finalized files only,
parsed by the official SDK in V3 and V1, paged, ranged, 15 calls/s of its own; the silent
faults (a start that records nothing, a lost file); recording callbacks."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from alibabacloud_live20161101 import models

from conftest import EmulatorFactory
from liverecd.clock import FakeClock
from liverecd.emulator import Emulator

from .rawcall import KEY, call, command
from .test_emu_official_sdk import MODES, _client, _in_thread

INDEX = "DescribeLiveStreamRecordIndexFiles"


def index_params(start: datetime, end: datetime, **extra: str) -> dict[str, str]:
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return {
        "DomainName": KEY.domain, "AppName": KEY.app, "StreamName": KEY.stream,
        "StartTime": start.strftime(fmt), "EndTime": end.strftime(fmt), **extra,
    }  # fmt: skip


async def record(emu: Emulator, clock: FakeClock, seconds: float, *, finalize: bool) -> None:
    assert (await command(emu, "start")).status == 200
    clock.advance(seconds)
    assert (await command(emu, "stop")).status == 200
    if finalize:
        assert (await command(emu, "cancel_delay")).status == 200


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=datetime.now(UTC).replace(microsecond=0))


@pytest.mark.parametrize("mode", sorted(MODES))
async def test_official_sdk_parses_the_record_index(
    emulator_factory: EmulatorFactory, clock: FakeClock, mode: str
) -> None:
    emu = await emulator_factory(clock=clock)
    t0 = clock.wall()
    await record(emu, clock, 30, finalize=True)
    request = models.DescribeLiveStreamRecordIndexFilesRequest(
        domain_name=KEY.domain, app_name=KEY.app, stream_name=KEY.stream,
        start_time=t0.strftime("%Y-%m-%dT%H:%M:%SZ"),
        end_time=clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ"), page_size=5,
    )  # fmt: skip
    client = _client(emu, MODES[mode])
    body = (await _in_thread(client.describe_live_stream_record_index_files, request)).body
    assert (body.total_num, body.page_num, body.page_size, body.order) == (1, 1, 5, "asc")
    (info,) = body.record_index_info_list.record_index_info
    assert info.start_time == t0.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert info.duration == 30.0 and info.oss_object.startswith("live/news/")
    assert info.record_url.endswith(info.oss_object) and info.record_id


async def test_a_file_is_listed_only_once_finalized(
    emulator_factory: EmulatorFactory, clock: FakeClock
) -> None:
    emu = await emulator_factory(clock=clock, stop_delay=60)
    t0 = clock.wall()
    await record(emu, clock, 10, finalize=False)
    params = index_params(t0, t0 + timedelta(hours=1))
    before = await call(emu, params, action=INDEX)
    clock.advance(61)  # stop's delay is over: the file is generated
    after = await call(emu, params, action=INDEX)
    assert before.status == 200 and before.body["TotalNum"] == 0
    assert after.body["TotalNum"] == 1


async def test_pages_ranges_and_order_are_checked_as_documented(
    emulator_factory: EmulatorFactory, clock: FakeClock
) -> None:
    emu = await emulator_factory(clock=clock)
    t0 = clock.wall()
    for _ in range(7):
        await record(emu, clock, 5, finalize=True)
        clock.advance(1)
    end = clock.wall().replace(microsecond=0)
    p1 = await call(emu, index_params(t0, end, PageSize="5"), action=INDEX)
    p2 = await call(emu, index_params(t0, end, PageSize="5", PageNum="2"), action=INDEX)
    desc = await call(emu, index_params(t0, end, PageSize="5", Order="desc"), action=INDEX)
    small = await call(emu, index_params(t0, end, PageSize="4"), action=INDEX)
    big = await call(emu, index_params(t0, end, PageSize="31"), action=INDEX)
    long = await call(emu, index_params(t0, t0 + timedelta(days=4, seconds=1)), action=INDEX)
    assert (p1.body["TotalNum"], p1.body["TotalPage"]) == (7, 2)
    first = [i["RecordId"] for i in p1.body["RecordIndexInfoList"]["RecordIndexInfo"]]
    second = [i["RecordId"] for i in p2.body["RecordIndexInfoList"]["RecordIndexInfo"]]
    newest = [i["RecordId"] for i in desc.body["RecordIndexInfoList"]["RecordIndexInfo"]]
    assert len(first) == 5 and len(second) == 2 and not set(first) & set(second)
    assert newest[0] == second[-1]
    assert (small.status, big.status, long.status) == (400, 400, 400)
    assert long.code == "InvalidParameter.TimeRange"


async def test_the_index_has_its_own_limit_of_15_per_second(
    emulator_factory: EmulatorFactory, clock: FakeClock
) -> None:
    emu = await emulator_factory(clock=clock, qps=1)
    t0 = clock.wall()
    params = index_params(t0, t0 + timedelta(hours=1))
    got = [await call(emu, params, action=INDEX) for _ in range(17)]
    start = await command(emu, "start")
    assert [r.status for r in got] == [200] * 15 + [400] * 2
    assert got[15].code == "Throttling.User"
    assert start.status == 200  # index calls never take a RealTimeRecordCommand slot
    assert emu.max_in_any_second(action=INDEX) == 17


async def test_a_silent_start_answers_200_and_records_nothing(
    emulator_factory: EmulatorFactory, clock: FakeClock
) -> None:
    emu = await emulator_factory(clock=clock)
    emu.silent_starts(KEY)
    first = await command(emu, "start")
    state = emu.state(KEY)
    second = await command(emu, "start")
    assert first.status == 200 and state == "idle"
    assert second.status == 200 and emu.state(KEY) == "recording"


async def test_a_lost_file_never_reaches_the_index(
    emulator_factory: EmulatorFactory, clock: FakeClock
) -> None:
    emu = await emulator_factory(clock=clock)
    emu.lose_files(KEY)
    await record(emu, clock, 5, finalize=True)
    await record(emu, clock, 5, finalize=True)
    assert len(emu.recordings(KEY)) == 2
    assert [f.file for f in emu.files(KEY)] == [2]


async def test_recording_callbacks_are_signed_json_posts_with_status_and_file_events(
    emulator_factory: EmulatorFactory, unused_tcp_port: int
) -> None:
    got: list[tuple[dict[str, Any], str, str]] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        got.append((body, request.headers["ALI-LIVE-TIMESTAMP"],
                    request.headers["ALI-LIVE-SIGNATURE"]))  # fmt: skip
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/notify/record", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    try:
        emu = await emulator_factory(
            record_notify_url=f"http://127.0.0.1:{unused_tcp_port}/notify/record",
            record_notify_key="recordkey0123456",
        )
        await command(emu, "start")
        await command(emu, "stop")
        await command(emu, "cancel_delay")
        assert emu.record_callbacks is not None
        async with asyncio.timeout(5):
            await emu.record_callbacks.drain()
    finally:
        await runner.cleanup()
    kinds = [b.get("event", "file") for b, _, _ in got]
    assert kinds == ["record_started", "record_paused", "file"]
    file_body = got[2][0]
    assert file_body["uri"] == emu.files(KEY)[0].uri
    assert {"start_time", "stop_time", "duration", "domain", "app", "stream"} <= set(file_body)
    for _, stamp, signature in got:
        text = f"127.0.0.1|{stamp}|recordkey0123456"
        assert signature == hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
    assert json.dumps(file_body)  # plain JSON values

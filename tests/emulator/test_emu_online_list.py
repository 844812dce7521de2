"""DescribeLiveStreamsOnlineList (live-api.md §6.1): filters, paging and PublishTime."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from conftest import EmulatorFactory
from liverecd.clock import FakeClock
from liverecd.emulator import Emulator
from liverecd.streams import StreamKey

from .rawcall import Reply, call, command

ACTION = "DescribeLiveStreamsOnlineList"
DOMAIN = "play.example.com"


async def _list(emu: Emulator, **params: str) -> Reply:
    async with asyncio.timeout(10):
        return await call(emu, {"DomainName": DOMAIN, **params}, action=ACTION)


def _names(reply: Reply) -> list[str]:
    items: list[dict[str, Any]] = reply.body["OnlineInfo"]["LiveStreamOnlineInfo"]
    return [item["StreamName"] for item in items]


def _publish(emu: Emulator, *names: str, app: str = "live", domain: str = DOMAIN) -> None:
    for name in names:
        emu.set_online(StreamKey(domain, app, name), True)


async def test_pages_cover_every_online_stream_once(emulator: Emulator) -> None:
    _publish(emulator, "a", "b", "c", "d", "e")
    pages = [await _list(emulator, PageSize="2", PageNum=str(n)) for n in (1, 2, 3, 4)]
    assert [_names(p) for p in pages] == [["a", "b"], ["c", "d"], ["e"], []]
    first = pages[0].body
    assert (first["TotalNum"], first["TotalPage"], first["PageNum"], first["PageSize"]) == (
        5,
        3,
        1,
        2,
    )


async def test_default_page_size_is_2000(emulator: Emulator) -> None:
    reply = await _list(emulator)
    assert (reply.body["PageSize"], reply.body["PageNum"], reply.body["TotalNum"]) == (2000, 1, 0)


@pytest.mark.parametrize(
    ("name", "value"), [("PageSize", "0"), ("PageSize", "3001"), ("PageNum", "x")]
)
async def test_out_of_range_paging_is_malformed_param(
    emulator: Emulator, name: str, value: str
) -> None:
    reply = await _list(emulator, **{name: value})
    assert (reply.status, reply.code) == (400, "MalformedParam")


async def test_domain_name_is_required(emulator: Emulator) -> None:
    async with asyncio.timeout(10):
        reply = await call(emulator, {}, action=ACTION)
    assert (reply.status, reply.code) == (400, "MissingDomainName")


async def test_publish_time_is_the_publish_moment_in_utc_seconds(
    emulator_factory: EmulatorFactory,
) -> None:
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC))
    emu = await emulator_factory(clock=clock)
    _publish(emu, "cam")
    clock.advance(30)
    (item,) = (await _list(emu)).body["OnlineInfo"]["LiveStreamOnlineInfo"]
    assert item["PublishTime"] == "2026-03-01T12:00:00Z"
    assert item["PublishUrl"] == f"rtmp://{DOMAIN}/live/cam"
    emu.set_online(StreamKey(DOMAIN, "live", "cam"), False)
    clock.advance(30)
    assert _names(await _list(emu)) == []
    _publish(emu, "cam")
    (item,) = (await _list(emu)).body["OnlineInfo"]["LiveStreamOnlineInfo"]
    assert item["PublishTime"] == "2026-03-01T12:01:00Z"


async def test_fuzzy_matches_substrings_and_strict_matches_exactly(emulator: Emulator) -> None:
    _publish(emulator, "cam1", "cam10", "cam2")
    fuzzy = await _list(emulator, StreamName="cam1")
    strict = await _list(emulator, StreamName="cam1", QueryType="strict")
    assert _names(fuzzy) == ["cam1", "cam10"]
    assert _names(strict) == ["cam1"]


async def test_filters_by_domain_and_app(emulator: Emulator) -> None:
    _publish(emulator, "x", app="live")
    _publish(emulator, "y", app="other")
    _publish(emulator, "z", domain="elsewhere.example.com")
    assert _names(await _list(emulator)) == ["x", "y"]
    assert _names(await _list(emulator, AppName="other", QueryType="strict")) == ["y"]


async def test_only_stream_returns_the_four_fields(emulator: Emulator) -> None:
    _publish(emulator, "cam")
    full = (await _list(emulator)).body["OnlineInfo"]["LiveStreamOnlineInfo"][0]
    short = (await _list(emulator, OnlyStream="yes")).body["OnlineInfo"]["LiveStreamOnlineInfo"][0]
    assert set(short) == {"DomainName", "AppName", "StreamName", "PublishTime"}
    assert {"PublishUrl", "PublishDomain", "ClientIp", "VideoCodecId"} <= set(full)


async def test_publish_domain_is_the_mapped_ingest_domain(
    emulator_factory: EmulatorFactory,
) -> None:
    emu = await emulator_factory(ingest_domain_map={DOMAIN: "push.example.com"})
    _publish(emu, "cam")
    (item,) = (await _list(emu)).body["OnlineInfo"]["LiveStreamOnlineInfo"]
    assert item["PublishDomain"] == "push.example.com"
    assert item["DomainName"] == DOMAIN


async def test_default_online_streams_are_listed_once_mentioned(emulator: Emulator) -> None:
    assert _names(await _list(emulator)) == []
    async with asyncio.timeout(10):
        await command(emulator, "start", StreamKey(DOMAIN, "live", "named"))
    await _list(emulator, AppName="live", StreamName="asked", QueryType="strict")
    assert _names(await _list(emulator)) == ["asked", "named"]


async def test_offline_by_default_lists_only_published_streams(
    emulator_factory: EmulatorFactory,
) -> None:
    emu = await emulator_factory(default_online=False)
    async with asyncio.timeout(10):
        await command(emu, "start", StreamKey(DOMAIN, "live", "named"))
    assert _names(await _list(emu, AppName="live", StreamName="named", QueryType="strict")) == []
    _publish(emu, "named")
    assert _names(await _list(emu)) == ["named"]


async def test_transcoded_stream_type_lists_nothing(emulator: Emulator) -> None:
    _publish(emulator, "cam")
    assert _names(await _list(emulator, StreamType="trans")) == []
    assert _names(await _list(emulator, StreamType="raw")) == ["cam"]

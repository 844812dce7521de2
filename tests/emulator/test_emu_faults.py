"""Injected faults: seeded and reproducible, without effect on streams (except a hang after
effect), scripted answers in FIFO order, and hangs that never outlive the emulator."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import pytest
from yarl import URL

from conftest import EmulatorFactory
from liverecd.api import signing
from liverecd.emulator import Emulator, FaultPlan
from liverecd.streams import StreamKey

from .rawcall import KEY, call, command, encoded_url, stream_params

PLAN = FaultPlan(error_5xx=0.3, reset=0.2)


async def _faults_seen(emu: Emulator, n: int) -> list[str | None]:
    for i in range(n):
        key = StreamKey("play.example.com", "live", f"s{i}")
        with contextlib.suppress(aiohttp.ServerDisconnectedError):
            await command(emu, "start", key)
    return [r.fault for r in emu.requests]


async def test_same_seed_faults_the_same_requests(emulator_factory: EmulatorFactory) -> None:
    runs = []
    for seed in (7, 7, 8):
        emu = await emulator_factory(seed=seed)
        emu.inject(PLAN)
        async with asyncio.timeout(20):
            runs.append(await _faults_seen(emu, 30))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert {"error_5xx", "reset", None} == set(runs[0])


async def test_plan_seed_overrides_the_config_seed(emulator_factory: EmulatorFactory) -> None:
    a = await emulator_factory(seed=1)
    b = await emulator_factory(seed=2)
    for emu in (a, b):
        emu.inject(FaultPlan(error_5xx=0.5, seed=99))
    async with asyncio.timeout(20):
        assert await _faults_seen(a, 20) == await _faults_seen(b, 20)


async def test_5xx_fault_has_no_effect_and_a_proper_body(emulator: Emulator) -> None:
    emulator.inject(FaultPlan(error_5xx=1.0))
    async with asyncio.timeout(10):
        replies = [await command(emulator, "start") for _ in range(12)]
    assert {(r.status, r.code) for r in replies} == {
        (500, "InternalError"),
        (503, "ServiceUnavailable"),
    }
    assert emulator.state(KEY) == "idle"
    assert all(r.body["RequestId"] for r in replies)


async def test_reset_drops_the_connection_without_answer_or_effect(emulator: Emulator) -> None:
    emulator.inject(FaultPlan(reset=1.0))
    async with asyncio.timeout(10):
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await command(emulator, "start")
    assert emulator.state(KEY) == "idle"
    (rec,) = emulator.requests
    assert (rec.fault, rec.http_status) == ("reset", None)


async def _post_with_timeout(emu: Emulator, cmd: str, client_timeout: float) -> None:
    signed = signing.sign_v3_request(
        action="RealTimeRecordCommand",
        params=stream_params(KEY, cmd),
        host=URL(emu.url).raw_authority,
        access_key_id=next(iter(emu.config.accounts)),
        secret=next(iter(emu.config.accounts.values())),
        timestamp=emu.clock.wall(),
    )
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client_timeout)) as session,
        session.post(
            encoded_url(emu.url, signed.query),
            headers=signed.headers,
            skip_auto_headers=["Content-Type"],
        ) as resp,
    ):
        await resp.read()


@pytest.mark.parametrize(("after_effect", "state"), [(False, "idle"), (True, "recording")])
async def test_hang_outlasts_the_client_timeout_and_says_whether_it_took_effect(
    emulator: Emulator, after_effect: bool, state: str
) -> None:
    emulator.inject(FaultPlan(hang=1.0, hang_seconds=60.0, hang_after_effect=after_effect))
    async with asyncio.timeout(10):
        with pytest.raises(TimeoutError):
            await _post_with_timeout(emulator, "start", client_timeout=0.2)
    assert emulator.state(KEY) == state
    (rec,) = emulator.requests
    assert (rec.fault, rec.http_status) == ("hang", None)


async def test_close_ends_hung_requests_at_once(emulator_factory: EmulatorFactory) -> None:
    emu = await emulator_factory()
    emu.inject(FaultPlan(hang=1.0, hang_seconds=600.0))
    pending = asyncio.ensure_future(_post_with_timeout(emu, "start", client_timeout=30))
    async with asyncio.timeout(5):
        for _ in range(500):  # until the emulator has taken the request in
            if emu.requests:
                break
            await asyncio.sleep(0.01)
        await emu.close()
        with pytest.raises(aiohttp.ClientError):
            await pending


async def test_plan_can_target_one_command(emulator: Emulator) -> None:
    emulator.inject(FaultPlan(error_5xx=1.0, commands=frozenset({"restart"})))
    async with asyncio.timeout(10):
        start = await command(emulator, "start")
        restart = await command(emulator, "restart")
    assert start.status == 200
    assert restart.status in (500, 503)


async def test_scripted_answers_are_served_in_order_and_by_command(emulator: Emulator) -> None:
    emulator.respond_with(code="Throttling.User", http_status=400, times=2, retry_after_ms=1500)
    emulator.respond_with(code="InternalError", http_status=500, command="stop")
    async with asyncio.timeout(10):
        replies = [await command(emulator, c) for c in ("start", "stop", "stop", "start", "stop")]
    assert [(r.status, r.code) for r in replies] == [
        (400, "Throttling.User"),
        (400, "Throttling.User"),
        (500, "InternalError"),
        (200, None),
        (200, None),
    ]
    assert replies[0].headers["x-acs-retry-after"] == "1500"
    assert "x-acs-retry-after" not in replies[2].headers
    assert [r.fault for r in emulator.requests] == ["scripted"] * 3 + [None, None]


async def test_scripted_answers_target_record_commands_unless_told_otherwise(
    emulator: Emulator,
) -> None:
    online_list = {"DomainName": KEY.domain}
    emulator.respond_with(code="InternalError", http_status=500)
    async with asyncio.timeout(10):
        listed = await call(emulator, online_list, action="DescribeLiveStreamsOnlineList")
        started = await command(emulator, "start")
        emulator.respond_with(code="InternalError", http_status=500, action=None)
        listed_again = await call(emulator, online_list, action="DescribeLiveStreamsOnlineList")
    assert (listed.status, started.code, listed_again.code) == (
        200,
        "InternalError",
        "InternalError",
    )


async def test_request_log_keeps_the_newest_records_when_limited(
    emulator_factory: EmulatorFactory,
) -> None:
    emu = await emulator_factory(request_log_limit=2)
    async with asyncio.timeout(10):
        for cmd in ("start", "stop", "cancel_delay"):
            await command(emu, cmd)
    assert [r.command for r in emu.requests] == ["stop", "cancel_delay"]


async def test_clear_faults_removes_plan_storm_and_scripts(emulator: Emulator) -> None:
    emulator.inject(FaultPlan(error_5xx=1.0))
    emulator.throttle_storm(60.0)
    emulator.respond_with(code="InternalError", http_status=500, times=5)
    emulator.clear_faults()
    async with asyncio.timeout(10):
        reply = await command(emulator, "start")
    assert reply.status == 200


def test_fault_plan_refuses_probabilities_over_one() -> None:
    with pytest.raises(ValueError, match="at most 1"):
        FaultPlan(error_5xx=0.6, hang=0.3, reset=0.2)


async def test_odd_answer_shapes_are_scripted_through_the_control_api(emulator: Emulator) -> None:
    shapes = [
        {"code": "X", "http_status": 403, "shape": "html"},
        {"code": "X", "http_status": 408, "shape": "empty"},
        {"code": "InternalError", "http_status": 400, "shape": "truncated"},
        {"code": "X", "http_status": 200, "shape": "ok_code"},
        {"code": "ServiceUnavailableTemporary", "http_status": 400, "shape": "unknown_code"},
    ]
    async with aiohttp.ClientSession() as session:
        url = f"{emulator.url}/_emulator/faults"
        async with session.post(url, json={"respond_with": shapes}) as resp:
            assert resp.status == 200
        async with session.post(url, json={"respond_with": {**shapes[0], "shape": "x"}}) as resp:
            assert resp.status == 400
    async with asyncio.timeout(10):
        replies = [await command(emulator, "start") for _ in shapes]
    assert [r.status for r in replies] == [403, 408, 400, 200, 400]
    assert replies[0].text.lstrip().lower().startswith("<!doctype html")
    assert replies[1].text == ""
    assert replies[2].text.startswith('{"RequestId"') and not replies[2].text.endswith("}")
    assert replies[3].body == {"Code": "OK"}
    assert replies[4].code == "ServiceUnavailableTemporary"
    assert [r.fault for r in emulator.requests] == [s["shape"] for s in shapes]


async def test_an_endless_answer_streams_until_the_client_hangs_up(emulator: Emulator) -> None:
    emulator.respond_with("X", 200, shape="endless", action=None)
    got = 0
    async with aiohttp.ClientSession() as session:
        url = encoded_url(emulator.url, stream_params(KEY, "start"))
        async with session.post(url) as resp:
            async for chunk in resp.content.iter_any():
                got += len(chunk)
                if got > 4 * 1024 * 1024:
                    break
    assert got > 4 * 1024 * 1024


async def test_a_random_plan_can_answer_with_odd_shapes(emulator: Emulator) -> None:
    emulator.inject(FaultPlan(odd=1.0, seed=3))
    url = encoded_url(emulator.url, stream_params(KEY, "start"))
    async with asyncio.timeout(10), aiohttp.ClientSession() as session:
        for _ in range(12):
            async with session.post(url) as resp:
                await resp.content.read(65536)  # an endless body is never read to its end
    faults = {r.fault for r in emulator.requests}
    assert None not in faults and len(faults) >= 4, faults

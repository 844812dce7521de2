"""The HTTP control API under /_emulator/ (for the demo and tests in another process)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from liverecd.emulator import Emulator

from .rawcall import KEY, command

STREAM_PATH = f"/_emulator/streams/{KEY.domain}/{KEY.app}/{KEY.stream}"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def _json(
    http: aiohttp.ClientSession, method: str, url: str, body: Any = None
) -> tuple[int, Any]:
    async with asyncio.timeout(10), http.request(method, url, json=body) as resp:
        return resp.status, await resp.json()


async def test_streams_go_online_and_offline(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    async with asyncio.timeout(10):
        await command(emulator, "start")
    status, body = await _json(http, "DELETE", emulator.url + STREAM_PATH)
    assert (status, body) == (200, {"stream": str(KEY), "online": False, "state": "idle"})
    assert emulator.recordings(KEY)[0].ended_by == "stream_drop"
    status, body = await _json(http, "PUT", emulator.url + STREAM_PATH)
    assert body["online"] is True
    _, body = await _json(http, "GET", emulator.url + STREAM_PATH)
    assert body == {"stream": str(KEY), "online": True, "state": "idle"}


async def test_faults_are_set_and_cleared_over_http(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    spec = {
        "error_5xx": 0.0,
        "respond_with": [{"code": "InternalError", "http_status": 500, "command": "start"}],
    }
    status, _ = await _json(http, "POST", emulator.url + "/_emulator/faults", spec)
    assert status == 200
    async with asyncio.timeout(10):
        assert (await command(emulator, "start")).code == "InternalError"
    await _json(http, "POST", emulator.url + "/_emulator/faults", {"throttle_storm": 30})
    async with asyncio.timeout(10):
        assert (await command(emulator, "start")).code == "Throttling.User"
    status, _ = await _json(http, "DELETE", emulator.url + "/_emulator/faults")
    async with asyncio.timeout(10):
        assert (await command(emulator, "start")).status == 200
    assert status == 200


@pytest.mark.parametrize(
    "spec",
    [{"nonsense": 1}, {"error_5xx": 2.0}, {"respond_with": [{"colour": "red"}]}, [1, 2]],
)
async def test_bad_fault_specs_are_refused(
    emulator: Emulator, http: aiohttp.ClientSession, spec: Any
) -> None:
    status, body = await _json(http, "POST", emulator.url + "/_emulator/faults", spec)
    assert status == 400
    assert body["error"]


async def test_requests_and_recordings_are_readable_as_json(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    async with asyncio.timeout(10):
        await command(emulator, "start")
        await command(emulator, "start")
    _, requests = await _json(http, "GET", emulator.url + "/_emulator/requests")
    assert [(r["command"], r["http_status"], r["code"]) for r in requests] == [
        ("start", 200, None),
        ("start", 409, "TaskAlreadyStarted"),
    ]
    assert requests[0]["stream"] == str(KEY)
    assert requests[0]["wall"].endswith("Z")
    _, recordings = await _json(http, "GET", emulator.url + f"/_emulator/recordings?stream={KEY}")
    assert [(r["stream"], r["started_by"], r["end"]) for r in recordings] == [
        (str(KEY), "start", None)
    ]


async def test_clock_skew_is_settable_over_http(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    status, body = await _json(http, "PUT", emulator.url + "/_emulator/clock", {"skew": 3600})
    assert (status, body) == (200, {"skew": 3600.0})
    async with asyncio.timeout(10):
        assert (await command(emulator, "start")).code == "InvalidTimeStamp.Expired"

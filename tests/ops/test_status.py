"""The status endpoint: /metrics through Prometheus' parser, /healthz verdicts, a wedged loop."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from liverecd.api.result import Outcome
from liverecd.clock import FakeClock
from liverecd.config import ListenAddress
from liverecd.ops.metrics import Metrics
from liverecd.ops.status import (
    Heartbeat,
    StatusServer,
    StatusServerError,
    heartbeat_loop,
)
from liverecd.streams import Command

LOOPBACK = ListenAddress("127.0.0.1", 0)
LOADED: Mapping[str, object] = {
    "config_loaded": True,
    "files_loaded": 2,
    "windows": 120,
    "recording_now": 3,
    "next_action": "start play.example.com/live/news at 2026-11-25T11:00:00Z",
    "last_reload": datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
    "last_error": None,
}


def url(server: StatusServer, path: str) -> str:
    assert server.address is not None
    host, port = server.address
    return f"http://{host}:{port}{path}"


async def get(server: StatusServer, path: str) -> tuple[int, str]:
    async with (
        asyncio.timeout(10),
        aiohttp.ClientSession() as session,
        session.get(url(server, path)) as response,
    ):
        return response.status, await response.text()


def get_from_another_thread(server: StatusServer, path: str) -> tuple[int, str]:
    """GET while the calling thread (the test's event loop) stays blocked until it returns."""
    result: list[tuple[int, str]] = []

    def fetch() -> None:
        try:
            with urllib.request.urlopen(url(server, path), timeout=10) as response:
                result.append((response.status, response.read().decode()))
        except urllib.error.HTTPError as exc:
            result.append((exc.code, exc.read().decode()))

    thread = threading.Thread(target=fetch)
    thread.start()
    thread.join(15)
    assert result, "no answer while the main loop was blocked"
    return result[0]


@pytest.fixture
async def started() -> AsyncIterator[Callable[..., StatusServer]]:
    servers: list[StatusServer] = []

    def make(
        snapshot: Mapping[str, object] = LOADED,
        metrics: Metrics | None = None,
        heartbeat_age: Callable[[], float] = lambda: 0.0,
        **kwargs: float,
    ) -> StatusServer:
        server = StatusServer(
            LOOPBACK, lambda: snapshot, metrics or Metrics(), heartbeat_age, **kwargs
        )
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.close()
    assert not [t for t in threading.enumerate() if t.name == "liverecd-status"]


async def test_metrics_page_parses_and_counts_what_the_observer_saw(
    started: Callable[..., StatusServer],
) -> None:
    metrics = Metrics()
    server = started(metrics=metrics)
    await server.start()
    for _ in range(3):
        metrics.command_attempt(Command.START, Outcome.OK, 0.01, 0.002)
    metrics.command_attempt(Command.STOP, Outcome.RETRY, 0.01, None)
    metrics.reloaded(True, 1_790_000_000.0)
    status, text = await get(server, "/metrics")
    assert status == 200
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert found["liverecd_commands_total", (("command", "start"), ("outcome", "ok"))] == 3
    assert found["liverecd_commands_total", (("command", "stop"), ("outcome", "retry"))] == 1
    assert found["liverecd_last_good_reload_timestamp_seconds", ()] == 1_790_000_000.0


async def test_healthz_answers_200_with_the_snapshot_when_loaded_and_beating(
    started: Callable[..., StatusServer],
) -> None:
    server = started()
    await server.start()
    status, text = await get(server, "/healthz")
    body = json.loads(text)
    assert status == 200
    assert body["healthy"] is True and body["problems"] == []
    assert body["windows"] == 120 and body["recording_now"] == 3
    assert body["last_reload"] == "2026-11-25 10:00:00+00:00"
    assert body["loop_heartbeat_age_seconds"] == 0.0


async def test_healthz_answers_503_until_a_configuration_has_loaded(
    started: Callable[..., StatusServer],
) -> None:
    server = started(snapshot={"config_loaded": False, "last_error": "liverecd.yaml:3:1: ..."})
    await server.start()
    status, text = await get(server, "/healthz")
    body = json.loads(text)
    assert status == 503
    assert body["problems"] == ["no configuration has loaded yet"]
    assert body["last_error"] == "liverecd.yaml:3:1: ..."


async def until_healthy(server: StatusServer) -> None:
    """Poll /healthz (the loop stays free to beat) until it answers 200."""
    async with asyncio.timeout(10):
        while True:
            if (await get(server, "/healthz"))[0] == 200:
                return
            await asyncio.sleep(0.01)


async def test_healthz_answers_503_while_the_main_loop_is_blocked(
    started: Callable[..., StatusServer],
) -> None:
    heartbeat = Heartbeat()
    server = started(heartbeat_age=heartbeat.age, wedged_after=0.3)
    await server.start()
    beats = asyncio.create_task(heartbeat_loop(heartbeat, Metrics(), interval=0.02))
    try:
        await until_healthy(server)
        # Wedge the loop: no beat can happen until this synchronous block returns, so the age
        # is at least 0.4 s when the status thread answers (no timing luck involved).
        time.sleep(0.4)  # noqa: ASYNC251 - blocking the loop is the point
        status, text = get_from_another_thread(server, "/healthz")
        assert status == 503
        assert json.loads(text)["problems"][0].startswith("event loop wedged")
        await until_healthy(server)  # unblocked: the next beat heals it
    finally:
        beats.cancel()
        with pytest.raises(asyncio.CancelledError):
            await beats


async def test_healthz_is_503_before_the_first_heartbeat(
    started: Callable[..., StatusServer],
) -> None:
    server = started(heartbeat_age=Heartbeat().age)
    await server.start()
    status, text = await get(server, "/healthz")
    assert status == 503
    assert json.loads(text)["loop_heartbeat_age_seconds"] is None


async def test_an_address_in_use_is_a_status_server_error(
    started: Callable[..., StatusServer],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = StatusServer(ListenAddress("127.0.0.1", port), dict, Metrics(), lambda: 0.0)
        with pytest.raises(StatusServerError, match=f"127.0.0.1:{port}"):
            await server.start()
    await server.close()  # idempotent after a failed start


async def test_heartbeat_loop_beats_and_reports_wall_time_to_the_observer() -> None:
    clock = FakeClock(datetime(2026, 11, 25, tzinfo=UTC))
    now = [50.0]
    heartbeat, metrics = Heartbeat(monotonic=lambda: now[0]), Metrics()
    task = asyncio.create_task(heartbeat_loop(heartbeat, metrics, clock=clock, interval=1.0))
    try:
        await asyncio.sleep(0)
        now[0] = 52.5
        assert heartbeat.age() == 2.5
        clock.advance(1.0)
        await asyncio.sleep(0)
        assert heartbeat.age() == 0.0
        wall = datetime(2026, 11, 25, 0, 0, 1, tzinfo=UTC).timestamp()
        sample = metrics.registry.get_sample_value("liverecd_loop_heartbeat_timestamp_seconds")
        assert sample == wall
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

"""The ingest-callback endpoint (ops/ingest.py): signature, freshness and replay checks on
hand-built requests, and real signed callbacks from the emulator driving the watch."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

from liverecd.clock import Clock, FakeClock
from liverecd.config import ListenAddress, WatchConfig
from liverecd.emulator import StreamState
from liverecd.errors import CredentialsError
from liverecd.ops.ingest import IngestEndpoint, endpoint_from_config
from liverecd.streams import StreamKey

from .conftest import DOMAIN, RigFactory, key

AUTH_KEY = "NotifyKeyForTests0123456789"
INGEST = "push.example.com"
CAM = key("cam")
LOOPBACK = ListenAddress("127.0.0.1", 0)
WIDE = "\uff11\uff12\uff13"


def sign(app: str, stamp: str, auth_key: str = AUTH_KEY) -> str:
    return hashlib.md5(f"{app}|{stamp}|{auth_key}".encode()).hexdigest()


@dataclass
class Heard:
    published: list[StreamKey] = field(default_factory=list)
    done: list[StreamKey] = field(default_factory=list)


Serve = Callable[..., Awaitable[IngestEndpoint]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """`await serve(clock, on_publish, on_publish_done)`: a started endpoint on loopback that
    maps INGEST to DOMAIN; closed at teardown."""
    made: list[IngestEndpoint] = []

    async def make(clock: Clock, on_publish: Any, on_publish_done: Any) -> IngestEndpoint:
        endpoint = IngestEndpoint(
            LOOPBACK, AUTH_KEY, on_publish=on_publish, on_publish_done=on_publish_done,
            domains=lambda: {INGEST: frozenset({DOMAIN})}, clock=clock,
        )  # fmt: skip
        made.append(endpoint)
        await endpoint.start()
        return endpoint

    yield make
    for endpoint in made:
        await endpoint.close()


@dataclass
class Bench:
    clock: FakeClock
    heard: Heard
    endpoint: IngestEndpoint

    @property
    def now(self) -> str:
        return str(int(self.clock.wall().timestamp()))

    async def send(
        self,
        headers: dict[str, str] | None = None,
        *,
        method: str = "GET",
        **params: str,
    ) -> int:
        """One request; by default a correctly signed `publish` for CAM via INGEST."""
        query = {"action": "publish", "app": INGEST, "appname": "live", "id": "cam",
                 "time": self.now, "ip": "127.0.0.1", "node": "edge"} | params  # fmt: skip
        if headers is None:
            headers = {"ALI-LIVE-TIMESTAMP": self.now,
                       "ALI-LIVE-SIGNATURE": sign(query["app"], self.now)}  # fmt: skip
        assert self.endpoint.url is not None
        async with asyncio.timeout(5), aiohttp.ClientSession() as session:
            if method == "POST":
                request = session.post(self.endpoint.url, data=query, headers=headers)
            else:
                request = session.get(self.endpoint.url, params=query, headers=headers)
            async with request as resp:
                return resp.status


@pytest.fixture
async def bench(serve: Serve) -> Bench:
    clock, heard = FakeClock(), Heard()
    endpoint = await serve(clock, heard.published.append, heard.done.append)
    return Bench(clock, heard, endpoint)


async def test_signed_publish_and_publish_done_trigger_with_the_streaming_domain(
    bench: Bench,
) -> None:
    assert await bench.send() == 200
    assert await bench.send(action="publish_done") == 200
    assert bench.heard.published == [CAM] and bench.heard.done == [CAM]


async def test_signature_is_compared_case_insensitively(bench: Bench) -> None:
    headers = {
        "ALI-LIVE-TIMESTAMP": bench.now,
        "ALI-LIVE-SIGNATURE": sign(INGEST, bench.now).upper(),
    }
    assert await bench.send(headers) == 200
    assert bench.heard.published == [CAM]


async def test_a_post_form_is_accepted_like_a_get(bench: Bench) -> None:
    assert await bench.send(method="POST") == 200
    assert bench.heard.published == [CAM]


async def test_an_unmapped_ingest_domain_is_taken_as_the_streaming_domain(bench: Bench) -> None:
    assert await bench.send(app="other.example.com") == 200
    assert bench.heard.published == [StreamKey("other.example.com", "live", "cam")]


def _forged(bench: Bench, case: str) -> dict[str, str]:
    now, stale = bench.now, str(int(bench.now) - 301)
    future = str(int(bench.now) + 301)
    return {
        "unsigned": {},
        "timestamp only": {"ALI-LIVE-TIMESTAMP": now},
        "signature only": {"ALI-LIVE-SIGNATURE": sign(INGEST, now)},
        "wrong key": {"ALI-LIVE-TIMESTAMP": now,
                      "ALI-LIVE-SIGNATURE": sign(INGEST, now, "SomeOtherKey0123456789")},
        "other domain": {"ALI-LIVE-TIMESTAMP": now,
                         "ALI-LIVE-SIGNATURE": sign("evil.example.com", now)},
        "other timestamp": {"ALI-LIVE-TIMESTAMP": now,
                            "ALI-LIVE-SIGNATURE": sign(INGEST, str(int(now) - 1))},
        "stale": {"ALI-LIVE-TIMESTAMP": stale, "ALI-LIVE-SIGNATURE": sign(INGEST, stale)},
        "future": {"ALI-LIVE-TIMESTAMP": future, "ALI-LIVE-SIGNATURE": sign(INGEST, future)},
        # Full-width digits: str.isdigit() says yes, int() would even parse them.
        "not a number": {"ALI-LIVE-TIMESTAMP": WIDE, "ALI-LIVE-SIGNATURE": sign(INGEST, WIDE)},
        "garbage": {"ALI-LIVE-TIMESTAMP": now, "ALI-LIVE-SIGNATURE": "zz" * 16},
    }[case]  # fmt: skip


@pytest.mark.parametrize(
    "case",
    ["unsigned", "timestamp only", "signature only", "wrong key", "other domain",
     "other timestamp", "stale", "future", "not a number", "garbage"],
)  # fmt: skip
async def test_forged_unsigned_and_stale_callbacks_get_403_and_trigger_nothing(
    bench: Bench, case: str
) -> None:
    assert await bench.send(_forged(bench, case)) == 403
    assert await bench.send(_forged(bench, case), action="publish_done") == 403
    assert bench.heard == Heard()


async def test_freshness_allows_five_minutes_either_way(bench: Bench) -> None:
    for offset in (-299, 299):
        stamp = str(int(bench.now) + offset)
        headers = {"ALI-LIVE-TIMESTAMP": stamp, "ALI-LIVE-SIGNATURE": sign(INGEST, stamp)}
        assert await bench.send(headers) == 200
    assert len(bench.heard.published) == 2


async def test_a_replayed_callback_gets_403_and_triggers_nothing_more(bench: Bench) -> None:
    headers = {"ALI-LIVE-TIMESTAMP": bench.now, "ALI-LIVE-SIGNATURE": sign(INGEST, bench.now)}
    assert await bench.send(headers) == 200
    assert await bench.send(headers) == 403
    assert await bench.send(headers, method="POST") == 403
    # Another stream of the same domain in the same second is a different event.
    assert await bench.send(headers, id="cam2") == 200
    assert bench.heard.published == [CAM, key("cam2")]


async def test_a_replay_is_remembered_until_it_would_be_stale_anyway(bench: Bench) -> None:
    headers = {"ALI-LIVE-TIMESTAMP": bench.now, "ALI-LIVE-SIGNATURE": sign(INGEST, bench.now)}
    assert await bench.send(headers) == 200
    bench.clock.advance(299)
    assert await bench.send(headers) == 403  # still fresh: refused as a replay
    bench.clock.advance(2)
    assert await bench.send(headers) == 403  # now stale
    assert bench.heard.published == [CAM]


async def test_authentic_but_unknown_action_is_answered_200_and_ignored(bench: Bench) -> None:
    assert await bench.send(action="record_done") == 200
    assert bench.heard == Heard()


async def test_authentic_callback_without_a_stream_name_is_a_bad_request(bench: Bench) -> None:
    assert await bench.send(id="") == 400
    assert bench.heard == Heard()


async def test_the_key_never_reaches_a_log_line_or_a_repr(bench: Bench) -> None:
    with capture_logs() as logs:
        await bench.send()
        await bench.send(_forged(bench, "wrong key"))
        await bench.send(_forged(bench, "stale"))
    assert logs and AUTH_KEY not in repr(logs)
    assert AUTH_KEY not in repr(bench.endpoint)


async def test_a_flood_of_refusals_is_logged_once_per_period(bench: Bench) -> None:
    with capture_logs() as logs:
        for _ in range(5):
            await bench.send({})
    refused = [e for e in logs if e["event"] == "ingest_callback_refused"]
    assert len(refused) == 1 and refused[0]["reason"] == "unsigned"


# -- configuration ----------------------------------------------------------------------------


def _from_config(listen: ListenAddress | None, environ: dict[str, str]) -> IngestEndpoint | None:
    return endpoint_from_config(
        WatchConfig(callback_listen=listen), on_publish=print, on_publish_done=print,
        domains=dict, clock=FakeClock(), environ=environ,
    )  # fmt: skip


def test_no_callback_listen_means_no_endpoint() -> None:
    assert _from_config(None, {}) is None


def test_callback_listen_without_a_key_refuses_to_start() -> None:
    with pytest.raises(CredentialsError, match="LIVERECD_NOTIFY_AUTH_KEY"):
        _from_config(LOOPBACK, {})


def test_a_malformed_key_is_refused_without_being_shown() -> None:
    with pytest.raises(CredentialsError) as caught:
        _from_config(LOOPBACK, {"LIVERECD_NOTIFY_AUTH_KEY": "short-key!"})
    assert "short-key" not in str(caught.value)


def test_the_key_file_in_credentials_directory_is_used(tmp_path: Path) -> None:
    (tmp_path / "notify_auth_key").write_text(AUTH_KEY + "\n")
    assert _from_config(LOOPBACK, {"CREDENTIALS_DIRECTORY": str(tmp_path)}) is not None


# -- real callbacks from the emulator, into the watch ------------------------------------------


async def test_emulator_callbacks_rearm_a_returning_stream_without_any_poll(
    make_rig: RigFactory, serve: Serve
) -> None:
    # One fake time for the emulator, the endpoint and the watch; the endpoint comes first
    # (the emulator needs its URL), so it reaches the watch through `target`.
    clock, target = FakeClock(autojump=True), dict[str, Any]()
    endpoint = await serve(
        clock, lambda k: target["watch"].publish(k), lambda k: target["watch"].publish_done(k)
    )
    rig = await make_rig(
        clock=clock, notify_url=endpoint.url, notify_auth_key=AUTH_KEY,
        ingest_domain_map={DOMAIN: INGEST},
    )  # fmt: skip
    target["watch"] = rig.watch
    rig.open(CAM)

    async def settle() -> None:
        async with asyncio.timeout(10):
            await rig.emu.drain_callbacks()
            await endpoint.drain()

    rig.emu.set_online(CAM, True)
    await settle()
    assert len(rig.asked) == 1 and rig.emu.state(CAM) is StreamState.RECORDING
    rig.clock.advance(5)
    rig.emu.set_online(CAM, False)
    await settle()
    rig.clock.advance(20)
    rig.emu.set_online(CAM, True)
    await settle()

    assert rig.watch.polls == 0
    assert len(rig.asked) == 2 and rig.emu.state(CAM) is StreamState.RECORDING
    assert rig.changes() == [("stream_dropped", "cam"), ("stream_returned", "cam"),
                             ("stream_rearmed", "cam")]  # fmt: skip
    assert rig.events[-1].rearm_seconds is not None and rig.events[-1].rearm_seconds < 2
    await rig.poll()
    assert len(rig.asked) == 2  # the poll agrees: armed in this session


async def test_emulator_callbacks_signed_with_another_key_are_refused_every_time(
    make_rig: RigFactory, serve: Serve
) -> None:
    clock, target = FakeClock(autojump=True), dict[str, Any]()
    endpoint = await serve(clock, lambda k: target["watch"].publish(k), print)
    rig = await make_rig(
        clock=clock, notify_url=endpoint.url, notify_auth_key="AnotherKey0123456789abcdef"
    )
    target["watch"] = rig.watch
    rig.open(CAM)
    rig.emu.set_online(CAM, True)
    async with asyncio.timeout(10):
        await rig.emu.drain_callbacks()
        await endpoint.drain()
    [delivery] = rig.emu.callbacks
    assert (delivery.delivered, delivery.attempts, delivery.status) == (False, 5, 403)
    assert rig.asked == [] and rig.emu.state(CAM) is StreamState.IDLE

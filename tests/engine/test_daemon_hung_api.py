"""A server that never answers, against a daemon on FakeClock: the attempt's deadline
(`api.timeout`) and the credentials URI's run on the injected clock, so fake seconds time a
hung request out and the daemon retries it, with no real waiting for the deadline."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from conftest import fake_clock
from liverecd.api.chain import UriProvider
from liverecd.clock import FakeClock
from liverecd.errors import CredentialsError
from liverecd.ops import service
from liverecd.schedule.config import load_config

from .conftest import CREDENTIALS, schedule_text

DEADLINE = 30.0  # simulated seconds (api.timeout); the test never waits that long for real
REAL_BOUND = 10.0  # real seconds for the whole play: a real-time deadline would overrun it


@dataclass
class HungServer:
    """Takes every request and answers none of them until `release` is set."""

    url: str = ""
    seen: list[tuple[str | None, str | None]] = field(default_factory=list)  # (Command, nonce)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        nonce = request.query.get("SignatureNonce") or request.headers.get("x-acs-signature-nonce")
        self.seen.append((request.query.get("Command"), nonce))
        self.arrived.set()
        await self.release.wait()
        return web.json_response({"RequestId": "released"})


@pytest.fixture
async def hung() -> AsyncIterator[HungServer]:
    server = HungServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}"
    yield server
    server.release.set()
    await runner.cleanup()


def write_config(root: Path, endpoint: str) -> Path:
    (root / "schedules").mkdir()
    path = root / "liverecd.yaml"
    path.write_text(
        textwrap.dedent(f"""\
            api:
              endpoint: {endpoint}
              timeout: {DEADLINE:g}s
              retry:
                base: 50ms
                cap: 500ms
            schedules:
              - schedules/*.yaml
            state_dir: state
            max_lead: 0s
            log:
              format: json
            status:
              listen: off
            watch:
              interval: 0s
              callback_listen: off
            """)
    )
    return path


async def step(clock: FakeClock, seconds: float, *, by: float = 1.0) -> None:
    """Advance `seconds` of fake time in steps, with a little real time for loopback I/O."""
    for _ in range(round(seconds / by)):
        clock.advance(by)
        await asyncio.sleep(0.01)


async def test_a_hung_request_times_out_on_fake_seconds_and_is_retried(
    tmp_path: Path, hung: HungServer
) -> None:
    clock = fake_clock()
    t0 = clock.wall()
    config_path = write_config(tmp_path, hung.url)
    window = [(t0 - timedelta(minutes=1), t0 + timedelta(hours=1))]  # open now: start at once
    (tmp_path / "schedules" / "s.yaml").write_text(schedule_text({"news": window}))
    with capture_logs() as logs:
        async with service.running(
            load_config(config_path), CREDENTIALS, clock=clock, watch_files=False
        ):
            async with asyncio.timeout(REAL_BOUND):
                await hung.arrived.wait()
                await step(clock, DEADLINE - 1)
                await asyncio.sleep(0.1)
                assert len(hung.seen) == 1, "timed out before its deadline on the clock"
                clock.advance(1.5)  # past the deadline: the attempt is cancelled
                while len(hung.seen) < 2:  # the retry waits its backoff on the fake clock too
                    await step(clock, 0.1, by=0.1)
            hung.release.set()  # the retry in flight ends, so the daemon drains at once
    assert [command for command, _ in hung.seen[:2]] == ["start", "start"]
    assert hung.seen[0][1] != hung.seen[1][1], "a retry is signed anew"
    attempts = [e for e in logs if e["event"] == "command_attempt"]
    first = attempts[0]
    assert (first["transport_error"], first["outcome"], first["attempt"]) == (
        "timeout", "retry", 1,
    )  # fmt: skip
    assert DEADLINE <= first["latency_ms"] / 1000 < DEADLINE + 2  # fake seconds


async def test_a_hung_credentials_uri_times_out_on_fake_seconds(hung: HungServer) -> None:
    clock = FakeClock()
    fetch = asyncio.create_task(
        UriProvider(f"{hung.url}/creds", clock=clock, timeout=DEADLINE).fetch()
    )
    await asyncio.wait_for(hung.arrived.wait(), 3)
    clock.advance(DEADLINE - 1)
    await asyncio.sleep(0.05)
    assert not fetch.done()
    clock.advance(1)
    with pytest.raises(CredentialsError, match=r"credentials URI .*/creds unreachable: Timeout"):
        await asyncio.wait_for(fetch, 2)

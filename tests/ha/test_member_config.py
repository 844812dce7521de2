"""A member's term runs the main config as its file says when the term begins, as a single
daemon does when it starts: not the config the process was started with."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from conftest import EmulatorFactory
from liverecd.api.credentials import Credentials, Secret
from liverecd.ops import service
from liverecd.schedule.config import load_config
from liverecd.streams import StreamKey
from reliability.rig import APP, DOMAIN, now, schedule_text, seconds

from .cluster import member_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

ONE_FOLDER = "- schedules/*.yaml"
KEY = ("LTAI5tFAKEexampleKeyId01", "FakeSecretForTestVectorsOnly0123")


async def until(done: Callable[[], bool], within: float = 15.0) -> None:
    async with asyncio.timeout(within):
        while not done():  # noqa: ASYNC110 - loopback I/O signals nothing we could await
            await asyncio.sleep(0.02)


async def test_a_standby_takes_over_with_the_main_config_as_it_is_now(
    emulator_factory: EmulatorFactory, pg_url: str, tmp_path: Path
) -> None:
    # The operator drops a folder of schedules from liverecd.yaml on both members and sends
    # SIGHUP: the active stops its streams. The standby that takes over later must not record
    # them again from the config it was started with (a single daemon restarted would not).
    emu = await emulator_factory()
    t = now()
    window = [(t - seconds(10), t + seconds(120))]
    configs = []
    for name in ("one", "two"):
        root = tmp_path / name
        root.mkdir()
        path, _ = member_config(root, emu.url, pg_url, lease="3s",
                                schedule=schedule_text({"a": window}))  # fmt: skip
        path.write_text(path.read_text().replace(ONE_FOLDER, ONE_FOLDER + "\n- extra/*.yaml"))
        (root / "extra").mkdir()
        (root / "extra" / "b.yaml").write_text(schedule_text({"b": window}))
        configs.append(path)
    a, b = StreamKey(DOMAIN, APP, "a"), StreamKey(DOMAIN, APP, "b")
    emu.set_online(a, True)
    emu.set_online(b, True)

    def sent(key: StreamKey) -> list[str]:
        return [r.command for r in emu.requests if r.stream == key and r.command]

    creds = Credentials(KEY[0], Secret(KEY[1]))
    with capture_logs() as logs:
        async with contextlib.AsyncExitStack() as first:
            active = await first.enter_async_context(
                service.running(load_config(configs[0]), creds, watch_files=False)
            )
            await until(lambda: sent(a) == sent(b) == ["start"])
            async with service.running(load_config(configs[1]), creds, watch_files=False):
                for path in configs:
                    path.write_text(path.read_text().replace("\n- extra/*.yaml", ""))
                active.request_reload("sighup")  # (a standby has nothing to apply yet)
                await until(lambda: sent(b) == ["start", "stop", "cancel_delay"])
                await first.aclose()  # the active stops and hands over
                takeovers = lambda: [e for e in logs if e["event"] == "takeover"]  # noqa: E731
                await until(lambda: len(takeovers()) == 2)
                await until(lambda: len(sent(a)) == 2)  # the new active re-asserts a
                await asyncio.sleep(0.5)
    assert sent(b) == ["start", "stop", "cancel_delay"]
    assert emu.state(b) != "recording"

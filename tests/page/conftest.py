"""The daemon with its status endpoint on a free loopback port, against the emulator."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import TEST_AK, TEST_SECRET
from liverecd.api.credentials import Credentials, Secret
from liverecd.config import ListenAddress
from liverecd.emulator import Emulator
from liverecd.engine.daemon import Daemon
from liverecd.ops import service
from liverecd.ops.extension import StatusExtension
from liverecd.ops.metrics import Metrics
from liverecd.ops.page.collect import Feeds
from liverecd.schedule.config import load_config

CREDENTIALS = Credentials(TEST_AK, Secret(TEST_SECRET))
DOMAIN, APP = "play.example.com", "live"


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def in_seconds(s: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=s)


def schedule(streams: dict[str, list[tuple[datetime, datetime]]], zone: str = "UTC") -> str:
    """A schedule file of one-off windows."""
    out = f"timezone: {zone}\ndomain: {DOMAIN}\napp: {APP}\nstreams:\n"
    for name, wins in streams.items():
        out += f"  - name: {name}\n    windows:\n"
        out += "".join(f"      - start: {iso(a)}\n        end: {iso(b)}\n" for a, b in wins)
    return out


@dataclass
class Served:
    daemon: Daemon
    url: str  # http://127.0.0.1:PORT
    root: Path


CONFIG = """\
    api:
      endpoint: {endpoint}
      qps: 50
      timeout: 2s
      retry:
        base: 50ms
        cap: 300ms
        wait_for_stream_cap: 300ms
        stop_cap: 300ms
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
    """

Serve = Callable[..., AbstractAsyncContextManager[Served]]


@pytest.fixture
def serve(tmp_path: Path, emulator: Emulator) -> Serve:
    """`async with serve({file name: schedule text}, feeds=None) as served`: the daemon running
    those schedules with its status endpoint (and the page, with `feeds`) on a free port."""

    @asynccontextmanager
    async def run(files: dict[str, str], feeds: Feeds | None = None) -> AsyncIterator[Served]:
        (tmp_path / "schedules").mkdir(exist_ok=True)
        for name, text in files.items():
            (tmp_path / "schedules" / name).write_text(text)
        config_path = tmp_path / "liverecd.yaml"
        config_path.write_text(textwrap.dedent(CONFIG.format(endpoint=emulator.url)))
        ext = StatusExtension(ListenAddress("127.0.0.1", 0), Metrics(), feeds=feeds)
        config = load_config(config_path)
        async with service.running(config, CREDENTIALS, extensions=[ext]) as daemon:
            assert ext.address is not None
            yield Served(daemon, f"http://127.0.0.1:{ext.address[1]}", tmp_path)

    return run

"""What the reliability suites share: a config folder on disk, schedules of one-off UTC windows,
the service run in-process (with the caller's clock, observer and extensions), and the measures
taken from the emulator's recorder (coverage of a window, how long a recording outlived it).

Each suite uses its own AccessKeyId: the limiter of an AccessKeyId is process-wide
(`api.ratelimit.limiter_for`), and a throttle storm in one test must not slow the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import yaml

from conftest import play_until
from liverecd.api.credentials import Credentials, Secret
from liverecd.clock import Clock, FakeClock
from liverecd.emulator import Emulator, RecordingInterval, RequestRecord
from liverecd.engine.daemon import Daemon
from liverecd.engine.observer import EngineObserver
from liverecd.ops import service
from liverecd.schedule.config import load_config
from liverecd.streams import StreamKey

SECRET = "FakeSecretForTestVectorsOnly0123"  # the test secret of tests/conftest.py
# An STS token with characters that URL-encoding changes, so an encoded leak is caught too.
TOKEN = "CAIS+FakeStsTokenForRelTests/Only9xQ=="
DOMAIN, APP = "play.example.com", "live"

Windows = dict[str, list[tuple[datetime, datetime]]]


def account(name: str) -> str:
    """A made-up AccessKeyId of this suite's own."""
    return f"LTAI5tFAKErel{name}"


def credentials(access_key_id: str, *, sts: bool = False) -> Credentials:
    """The test secret under `access_key_id`, with the STS token when `sts`."""
    return Credentials(access_key_id, Secret(SECRET), Secret(TOKEN) if sts else None)


def now() -> datetime:
    return datetime.now(UTC)


def seconds(s: float) -> timedelta:
    return timedelta(seconds=s)


def key(name: str) -> StreamKey:
    return StreamKey(DOMAIN, APP, name)


async def until(when: datetime) -> None:
    """Sleep until the wall clock reaches `when`."""
    await asyncio.sleep(max(0.0, (when - now()).total_seconds()))




# -- files ------------------------------------------------------------------------------------


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def schedule_text(streams: Windows) -> str:
    """A schedule file: each stream with one-off windows in UTC."""
    if not streams:
        return f"domain: {DOMAIN}\napp: {APP}\nstreams: []\n"
    out = f"domain: {DOMAIN}\napp: {APP}\nstreams:\n"
    for name, wins in streams.items():
        out += f"  - name: {name}\n    windows:\n"
        out += "".join(f"      - start: {iso(a)}\n        end: {iso(b)}\n" for a, b in wins)
    return out


def write_schedule(root: Path, name: str, text: str | bytes) -> Path:
    """Write `schedules/NAME` as editors save: a new file renamed over the old one."""
    folder = root / "schedules"
    folder.mkdir(exist_ok=True)
    path = folder / name
    tmp = folder / f".{name}.tmp"
    if isinstance(text, bytes):
        tmp.write_bytes(text)
    else:
        tmp.write_text(text)
    tmp.replace(path)
    return path


FAST_RETRY: dict[str, str | int] = {
    "base": "50ms",
    "cap": "500ms",
    "wait_for_stream_cap": "300ms",
    "stop_cap": "500ms",
}


def write_config(
    root: Path,
    endpoint: str,
    *,
    timeout: str = "1s",
    retry: dict[str, str | int] | None = None,
    max_lead: str = "0s",
    watch: str = "0s",
    status: str = "off",
) -> Path:
    """`liverecd.yaml` in `root`, state in `root/state`, schedules from `root/schedules`;
    `retry` is the `api.retry` section (default FAST_RETRY)."""
    (root / "schedules").mkdir(exist_ok=True)
    config = {
        "api": {
            "endpoint": endpoint,
            "qps": 50,
            "timeout": timeout,
            "connect_timeout": timeout,
            "retry": FAST_RETRY if retry is None else retry,
        },
        "schedules": ["schedules/*.yaml"],
        "state_dir": "state",
        "max_lead": max_lead,
        "log": {"format": "json"},
        "status": {"listen": status},
        "watch": {"interval": watch},
    }
    path = root / "liverecd.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


# -- the service in-process ------------------------------------------------------------------


@asynccontextmanager
async def serving(
    config_path: Path,
    creds: Credentials,
    *,
    clock: Clock | None = None,
    observer: EngineObserver | None = None,
    extensions: Sequence[service.Extension] = (),
    watch_files: bool = True,
) -> AsyncIterator[Daemon]:
    """`service.serve()` as `liverecd run` runs it, minus signals; ready (READY sent) on entry,
    stopped and drained on exit."""
    config = load_config(config_path)
    async with service.running(
        config, creds, clock=clock, observer=observer, extensions=extensions,
        watch_files=watch_files,
    ) as daemon:  # fmt: skip
        yield daemon


async def http_get(url: str) -> tuple[int, str]:
    """Status and body of a GET (the status endpoint)."""
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.text()


# -- measures ----------------------------------------------------------------------------------


def covered(intervals: Iterable[RecordingInterval], start: datetime, end: datetime) -> float:
    """Seconds of [start, end) during which one of `intervals` recorded (they never overlap:
    one stream records at most once at a time)."""
    total = 0.0
    for iv in intervals:
        a = max(iv.start, start)
        b = min(iv.end or end, end)
        total += max(0.0, (b - a).total_seconds())
    return total


def coverage(emu: Emulator, stream: StreamKey, start: datetime, end: datetime) -> float:
    """Share of the window [start, end) during which the emulator recorded `stream`."""
    return covered(emu.recordings(stream), start, end) / (end - start).total_seconds()


def outside(
    intervals: Iterable[RecordingInterval], windows: Sequence[tuple[datetime, datetime]],
    until_: datetime,
) -> list[tuple[datetime, datetime]]:  # fmt: skip
    """The stretches of recording that fall outside every window (a still-running interval is
    counted up to `until_`)."""
    out: list[tuple[datetime, datetime]] = []
    for iv in intervals:
        pieces = [(iv.start, iv.end or until_)]
        for a, b in windows:
            pieces = [p for x, y in pieces for p in ((x, min(y, a)), (max(x, b), y)) if p[0] < p[1]]
        out.extend(pieces)
    return out


def commands_of(emu: Emulator, stream: StreamKey) -> list[RequestRecord]:
    """The RealTimeRecordCommand requests that named `stream`, in arrival order."""
    return [r for r in emu.requests if r.stream == stream and r.command]


async def all_idle(emu: Emulator, streams: Iterable[StreamKey], *, within: float) -> bool:
    """Wait up to `within` seconds (of the emulator's clock: a FakeClock is stepped) for every
    stream to be idle; True when they all are."""
    keys = list(streams)
    if isinstance(emu.clock, FakeClock):
        with contextlib.suppress(TimeoutError):
            await play_until(emu.clock, lambda: all(emu.state(k) == "idle" for k in keys),
                             within=within)  # fmt: skip
        return all(emu.state(k) == "idle" for k in keys)
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if all(emu.state(k) == "idle" for k in keys):
            return True
        await asyncio.sleep(0.05)
    return all(emu.state(k) == "idle" for k in keys)


Span = tuple[datetime, datetime]


def overlap(span: Span, others: Iterable[Span]) -> float:
    """Seconds of `span` that `others` (not overlapping each other) cover."""
    a, b = span
    return sum(max(0.0, (min(b, y) - max(a, x)).total_seconds()) for x, y in others)


def gaps(window: Span, intervals: Iterable[RecordingInterval], until_: datetime) -> list[Span]:
    """The stretches of `window` during which nothing recorded (a running interval counts up
    to `until_`)."""
    pieces = [window]
    for iv in intervals:
        x, y = iv.start, iv.end or until_
        pieces = [p for a, b in pieces for p in ((a, min(b, x)), (max(a, y), b)) if p[0] < p[1]]
    return pieces

"""Does the rate limiter use the quota without ever exceeding it, against a real HTTP server?

Starts the bundled emulator on loopback (quota `--qps` per AccessKeyId over any sliding second),
then sends `--calls` RealTimeRecordCommand calls from `--senders` concurrent tasks through
`RateLimiter` + `LiveClient`, and prints:

- achieved rate as a ratio of the quota (target >= 0.98),
- the most calls the emulator saw in any 1 s (target <= qps),
- how many calls the emulator answered Throttling (target 0).

With `--baseline` it then does the same through a naive token bucket of capacity qps refilled at
qps/s (what `aiolimiter.AsyncLimiter(qps, 1)` does), to show why pacing matters.

With `--storm` it measures recovery instead: senders with more demand than the quota feed the
limiter's throttle/success signals back; after 2 s the emulator refuses everything for 10 s (a
throttle storm). Printed: calls that got through in the 5 s after the storm as a ratio of the
quota, the seconds from the storm's end to the first second at >= 0.9 of the quota, and calls
refused after it (overshoot); for the limiter, then for the previous rule (every cut lowers the
level the rate recovers to).

Run: .venv/bin/python bench/limiter.py [--calls 2000] [--qps 50] [--senders 64] [--baseline]
     .venv/bin/python bench/limiter.py --storm
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog

from liverecd.api.client import LiveClient
from liverecd.api.credentials import Credentials, Secret
from liverecd.api.outcome import is_throttle
from liverecd.api.ratelimit import RateLimiter
from liverecd.clock import SystemClock
from liverecd.config import ApiConfig
from liverecd.emulator import Emulator, EmulatorConfig
from liverecd.streams import Command, StreamKey

AK = "LTAI5tFAKEexampleKeyId01"
SECRET = "FakeSecretForTestVectorsOnly0123"


class NaiveBucket:
    """Token bucket, capacity `qps`, refilled continuously at `qps`/s: the usual first try."""

    def __init__(self, qps: float) -> None:
        self._qps = qps
        self._tokens = qps
        self._at = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> float:
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self._qps, self._tokens + (now - self._at) * self._qps)
                self._at = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return 0.0
                await asyncio.sleep((1 - self._tokens) / self._qps)


@dataclass(frozen=True)
class Figures:
    calls: int
    seconds: float
    achieved_ratio: float
    server_max_in_any_second: int
    throttled: int


async def _send_all(
    acquire: Callable[[], Awaitable[float]], client: LiveClient, calls: int, senders: int
) -> tuple[list[float], int]:
    counter = itertools.count()
    sent: list[float] = []
    throttled = 0

    async def sender() -> None:
        nonlocal throttled
        while (i := next(counter)) < calls:
            await acquire()
            sent.append(time.monotonic())
            key = StreamKey("play.example.com", "live", f"bench{i}")
            result = await client.real_time_record_command(Command.START, key)
            throttled += is_throttle(result)

    await asyncio.gather(*(sender() for _ in range(senders)))
    return sent, throttled


async def measure(
    name: str, make_acquire: Callable[[], Callable[[], Awaitable[float]]], args: argparse.Namespace
) -> Figures:
    config = EmulatorConfig(accounts={AK: SECRET}, qps=args.qps, default_online=True)
    async with Emulator(config) as emu:
        await emu.start(host="127.0.0.1", port=0)
        api = ApiConfig(endpoint=emu.url, qps=args.qps, timeout=timedelta(seconds=10))
        async with LiveClient(api, Credentials(AK, Secret(SECRET))) as client:
            sent, throttled = await _send_all(make_acquire(), client, args.calls, args.senders)
        seconds = max(sent) - min(sent)
        figures = Figures(
            calls=len(sent),
            seconds=seconds,
            achieved_ratio=(len(sent) - 1) / seconds / args.qps,
            server_max_in_any_second=emu.max_in_any_second(AK),
            throttled=throttled,
        )
    print(
        f"{name:<28} calls={figures.calls} in {figures.seconds:.2f}s  "
        f"achieved={figures.achieved_ratio:.3f} of quota  "
        f"max_in_any_1s={figures.server_max_in_any_second} (quota {args.qps})  "
        f"throttled={figures.throttled}"
    )
    return figures


class Compounding(RateLimiter):
    """The previous rule, for comparison: every cut lowers the level the rate recovers to."""

    def on_throttled(self, retry_after: float | None = None) -> None:
        self._through_since_cut = True
        super().on_throttled(retry_after)


STORM_AT, STORM, AFTER = 2.0, 10.0, 8.0


async def storm(name: str, limiter: RateLimiter, args: argparse.Namespace) -> tuple[float, float]:
    """Through-ratio in the 5 s after a 10 s storm, and seconds until >= 0.9 of the quota."""
    config = EmulatorConfig(accounts={AK: SECRET}, qps=args.qps, default_online=True)
    through: list[float] = []
    refused: list[float] = []
    async with Emulator(config) as emu:
        await emu.start(host="127.0.0.1", port=0)
        api = ApiConfig(endpoint=emu.url, qps=args.qps, timeout=timedelta(seconds=10))
        t0 = time.monotonic()
        end = t0 + STORM_AT + STORM + AFTER
        counter = itertools.count()
        async with LiveClient(api, Credentials(AK, Secret(SECRET))) as client:

            async def sender() -> None:
                while time.monotonic() < end:
                    await limiter.acquire()
                    key = StreamKey("play.example.com", "live", f"storm{next(counter)}")
                    result = await client.real_time_record_command(Command.STOP, key)
                    if is_throttle(result):
                        refused.append(time.monotonic() - t0)
                        limiter.on_throttled(result.retry_after)
                    else:
                        through.append(time.monotonic() - t0)
                        limiter.on_success()

            async def weather() -> None:
                await asyncio.sleep(STORM_AT)
                emu.throttle_storm(STORM)

            await asyncio.gather(weather(), *(sender() for _ in range(args.senders)))
    calm = STORM_AT + STORM
    ratio = sum(1 for t in through if calm <= t < calm + 5) / (5 * args.qps)
    per_second = [sum(1 for t in through if calm + k <= t < calm + k + 1) for k in range(8)]
    recovered = next((k + 1.0 for k, n in enumerate(per_second) if n >= 0.9 * args.qps), math.inf)
    late = sum(1 for t in refused if t >= calm + 0.5)  # the storm's own answers are excluded
    print(
        f"{name:<32} through in the 5 s after the storm: {ratio:.3f} of quota; "
        f">= 0.9 of quota {recovered:.0f} s after it; refused after it: {late}; "
        f"per second: {per_second}"
    )
    return ratio, recovered


async def main(args: argparse.Namespace) -> int:
    if args.storm:
        await storm("RateLimiter", RateLimiter(args.qps, SystemClock()), args)
        await storm("previous rule (compounding cuts)", Compounding(args.qps, SystemClock()), args)
        return 0
    result = await measure(
        "RateLimiter (paced)", lambda: RateLimiter(args.qps, SystemClock()).acquire, args
    )
    if args.baseline:
        await measure("naive bucket (capacity=qps)", lambda: NaiveBucket(args.qps).acquire, args)
    ok = (
        result.achieved_ratio >= 0.98
        and result.server_max_in_any_second <= args.qps
        and result.throttled == 0
    )
    print("targets (>= 0.98, <= qps, 0 throttled):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    # The emulator logs every request; only the figures matter here.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--qps", type=int, default=50)
    parser.add_argument("--senders", type=int, default=64)
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--storm", action="store_true", help="measure recovery from a storm")
    raise SystemExit(asyncio.run(main(parser.parse_args())))

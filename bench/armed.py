"""Do windows stay armed at scale, and at what API cost? (issue 5)

1,000 streams with open windows over 4 streaming domains, against the bundled emulator
in-process on loopback (real HTTP, real time). 10 % of the streams drop once, at a random moment,
and come back 5-40 s later. A minimal driver stands in for the daemon: it sends the 1,000 starts
of the window open through a RealTimeRecordCommand limiter (50/s), then a start whenever the
watch asks for one (`OnlineWatch.on_online`), and reports successes back (`note_started`). With
`--callbacks` the emulator also sends signed ingest callbacks to an `IngestEndpoint`.

Prints online-list calls per minute and per domain page per interval (target <= 1), start calls
per minute (the open's burst and re-arms apart; target: re-arms only for streams that came back),
and the recording lost per drop as the emulator recorded it (from the drop to the next recording;
p50/p95/max), with the part after the stream came back (watch alone: <= interval + a start).

Run: .venv/bin/python bench/armed.py [--streams 1000] [--domains 4] [--drop 0.1]
     [--interval 10] [--duration 240] [--callbacks] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from liverecd.api.client import LiveClient
from liverecd.api.credentials import Credentials, Secret
from liverecd.api.outcome import classify, is_throttle
from liverecd.api.ratelimit import RateLimiter
from liverecd.api.result import Outcome
from liverecd.clock import SystemClock
from liverecd.config import ApiConfig, ListenAddress
from liverecd.emulator import Emulator, EmulatorConfig
from liverecd.engine.online.lister import MAX_PAGE_SIZE, online_list_limiter
from liverecd.engine.online.sessions import Change, Event, OpenWindow
from liverecd.engine.online.watch import OnlineWatch
from liverecd.ops.ingest import IngestEndpoint
from liverecd.streams import Command, StreamKey

AK, SECRET = "LTAI5tFAKEexampleKeyId01", "FakeSecretForTestVectorsOnly0123"
NOTIFY_KEY = "BenchNotifyKey0123456789"
ONLINE_LIST = "DescribeLiveStreamsOnlineList"
WARMUP = 30.0  # seconds before the first drop: the open's burst of starts is over by then
WORKERS = 16  # concurrent start senders (the limiter, not they, sets the pace)


@dataclass
class Drop:
    key: StreamKey
    down: float  # monotonic
    up: float | None = None


@dataclass
class Driver:
    """The daemon's part, reduced to starts: one pending start per stream, sent through the
    RealTimeRecordCommand limiter, retried on transient answers."""

    client: LiveClient
    limiter: RateLimiter
    clock: SystemClock
    watch: OnlineWatch | None = None
    queue: asyncio.Queue[tuple[StreamKey, str, str]] = field(default_factory=asyncio.Queue)
    pending: set[StreamKey] = field(default_factory=set)
    sent: list[tuple[str, StreamKey, float, str]] = field(default_factory=list)

    def ask(self, key: StreamKey, window_id: str, origin: str) -> None:
        if key not in self.pending:
            self.pending.add(key)
            self.queue.put_nowait((key, window_id, origin))

    def on_online(self, key: StreamKey, window: OpenWindow, publish: datetime | None) -> None:
        self.ask(key, window.window_id, "rearm")

    async def worker(self) -> None:
        assert self.watch is not None
        while True:
            key, window_id, origin = await self.queue.get()
            await self.limiter.acquire()
            at_wall, at = self.clock.wall(), self.clock.monotonic()
            result = await self.client.real_time_record_command(Command.START, key)
            outcome = classify(Command.START, result)
            self.sent.append((origin, key, at, result.code or "OK"))
            if outcome in (Outcome.RETRY, Outcome.RETRY_RESIGNED_ONCE):
                if is_throttle(result):
                    self.limiter.on_throttled(result.retry_after)
                await asyncio.sleep(0.2)
                self.queue.put_nowait((key, window_id, origin))
                continue
            self.pending.discard(key)
            if outcome.succeeded:
                self.limiter.on_success()
                self.watch.note_started(key, window_id, at_wall)
            elif outcome is not Outcome.WAIT_FOR_STREAM:  # gone again: the watch will ask
                self.watch.note_start_failed(key)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


async def chaos(emu: Emulator, drop: Drop, at: float, down_for: float, clock: SystemClock) -> None:
    await asyncio.sleep(at)
    drop.down = clock.monotonic()
    emu.set_online(drop.key, False)
    await asyncio.sleep(down_for)
    drop.up = clock.monotonic()
    emu.set_online(drop.key, True)


def lost_per_drop(emu: Emulator, drops: list[Drop]) -> tuple[list[float], list[float], int]:
    """Recording lost per drop and the part after the return, from the emulator's record."""
    lost, after, never = [], [], 0
    for d in drops:
        again = [r.start_mono for r in emu.recordings(d.key) if d.up and r.start_mono >= d.up]
        if not again or d.up is None:
            never += 1
            continue
        lost.append(min(again) - d.down)
        after.append(min(again) - d.up)
    return lost, after, never


async def run(args: argparse.Namespace) -> None:
    clock, rng = SystemClock(), random.Random(args.seed)
    keys = [
        StreamKey(f"play{i % args.domains}.example.com", "live", f"s{i:05d}")
        for i in range(args.streams)
    ]
    windows: dict[StreamKey, OpenWindow] = {}
    events: list[Event] = []
    target: dict[str, OnlineWatch] = {}
    endpoint, notify_url = None, None
    if args.callbacks:
        endpoint = IngestEndpoint(
            ListenAddress("127.0.0.1", 0), NOTIFY_KEY, on_publish=lambda k: target["w"].publish(k),
            on_publish_done=lambda k: target["w"].publish_done(k), domains=dict, clock=clock,
        )  # fmt: skip
        notify_url = await endpoint.start()
    config = EmulatorConfig(
        accounts={AK: SECRET}, default_online=False, notify_url=notify_url,
        notify_auth_key=NOTIFY_KEY if notify_url else None,
    )  # fmt: skip
    async with Emulator(config) as emu:
        api = ApiConfig(endpoint=emu.url, timeout=timedelta(seconds=5))
        client = LiveClient(api, Credentials(AK, Secret(SECRET)), clock=clock)
        driver = Driver(client, RateLimiter(50, clock), clock)
        watch = OnlineWatch(
            client, online_list_limiter(clock), clock, interval=args.interval,
            windows=lambda: windows, on_online=driver.on_online, on_event=events.append,
        )  # fmt: skip
        driver.watch = target["w"] = watch
        for k in keys:
            emu.set_online(k, True)
        await emu.drain_callbacks()  # published before the windows open: nothing to do yet

        t0, now = clock.monotonic(), clock.wall()
        for k in keys:  # the windows open; the daemon sends their starts
            windows[k] = OpenWindow(f"w:{k}", now, now + timedelta(hours=2))
            driver.ask(k, windows[k].window_id, "open")
        dropping = rng.sample(keys, round(args.drop * len(keys)))
        drops = [Drop(k, math.inf) for k in dropping]
        tasks = [asyncio.create_task(driver.worker()) for _ in range(WORKERS)]
        tasks.append(asyncio.create_task(watch.run()))
        latest = max(WARMUP, args.duration - 45.0)
        tasks += [
            asyncio.create_task(
                chaos(emu, d, rng.uniform(WARMUP, latest), rng.uniform(5, 40), clock)
            )
            for d in drops
        ]
        await asyncio.sleep(args.duration)
        elapsed = clock.monotonic() - t0
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if endpoint is not None:
            await endpoint.close()
        await client.close()
        report(args, emu, driver, watch, drops, events, elapsed)


def report(
    args: argparse.Namespace,
    emu: Emulator,
    driver: Driver,
    watch: OnlineWatch,
    drops: list[Drop],
    events: list[Event],
    elapsed: float,
) -> None:
    minutes = elapsed / 60
    lists = [r for r in emu.requests if r.action == ONLINE_LIST]
    polls = [r for r in lists if r.stream is None]
    pages = args.domains * math.ceil(args.streams / args.domains / MAX_PAGE_SIZE)
    ticks = elapsed / args.interval
    opens = [s for s in driver.sent if s[0] == "open"]
    rearms = [s for s in driver.sent if s[0] == "rearm"]
    back = {d.key: d.up for d in drops if d.up is not None}
    spurious = [s for s in rearms if s[1] not in back or s[2] < (back[s[1]] or math.inf)]
    lost, after, never = lost_per_drop(emu, [d for d in drops if d.up is not None])
    answers = Counter(code for *_, code in rearms)
    mode = "watch + ingest callbacks" if args.callbacks else "watch alone"
    print(f"armed: {args.streams} streams, {args.domains} domains, {len(drops)} drops, {mode}, "
          f"interval {args.interval:g}s, {elapsed:.0f}s")  # fmt: skip
    print(f"  online-list polls:   {len(polls)} calls = {len(polls) / minutes:.1f}/min; "
          f"{len(polls) / (ticks * pages):.2f} per domain page per interval "
          f"({watch.polls} polls x {pages} pages; target <= 1)")  # fmt: skip
    print(f"  publish confirms:    {len(lists) - len(polls)} strict list calls")
    print(f"  starts at open:      {len(opens)} calls")
    print(f"  re-arm starts:       {len(rearms)} calls = {len(rearms) / minutes:.1f}/min for "
          f"{len(back)} returns; {len(spurious)} for streams that had not come back "
          f"(target 0); answers {dict(answers)}")  # fmt: skip
    print(f"  lost per drop:       p50 {percentile(lost, 50):.1f}s  p95 "
          f"{percentile(lost, 95):.1f}s  max {max(lost, default=math.nan):.1f}s   "
          "(emulator: drop to next recording)")  # fmt: skip
    print(f"  after the return:    p50 {percentile(after, 50):.2f}s  p95 "
          f"{percentile(after, 95):.2f}s  max {max(after, default=math.nan):.2f}s; "
          f"{never} returns never re-armed")  # fmt: skip
    rearmed = [e.lost_seconds for e in events if e.change is Change.REARMED and e.lost_seconds]
    print(f"  watch's own estimate of lost: p50 {percentile(rearmed, 50):.1f}s over "
          f"{len(rearmed)} stream_rearmed events")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--domains", type=int, default=4)
    parser.add_argument("--drop", type=float, default=0.1, help="fraction of streams that drop")
    parser.add_argument("--interval", type=float, default=10.0, help="watch.interval, seconds")
    parser.add_argument("--duration", type=float, default=240.0, help="seconds of real time")
    parser.add_argument("--callbacks", action="store_true", help="add signed ingest callbacks")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    # A bench prints its own figures: warnings and errors only.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))


if __name__ == "__main__":
    main()

"""How fast is the status page on a large timetable, and does it ever hold the daemon's loop?

Runs the daemon in-process against the emulator with 20,000 streams in 20 schedule files: a
cron rule each (`M */10 * * *`, 20 min, horizon 40 h: five windows per stream, about 100,000
in all), plus `--open` streams with a window open now, so that many recordings run. Then, from
a client thread over loopback HTTP, GETs `/` and `/api/status` (plain, with a `?stream=`
filter matching 1,000 streams, and one matching every stream, and a deep page), and prints per
kind: the first request (which builds the window index after the timeline changed) and the
median, p95 and max of the rest. Meanwhile a 1 ms ticker on the daemon's loop records how late
it wakes: the longest stall is what a request cost the loop. Targets on the 2-core machine:
`/` < 50 ms, `/api/status` < 20 ms, loop stall < 20 ms.

Run: .venv/bin/python bench/page.py [--streams 20000] [--open 500] [--requests 40]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from common import AK, APP, DOMAIN, SECRET, emulator, iso, percentile, quiet, write_config
from liverecd.api.credentials import Credentials, Secret
from liverecd.config import ListenAddress
from liverecd.engine.daemon import Daemon
from liverecd.ops import service
from liverecd.ops.metrics import Metrics
from liverecd.ops.page.collect import Context, collect, upcoming
from liverecd.ops.page.index import WindowIndex
from liverecd.ops.page.ledger import Ledger
from liverecd.ops.page.model import Query
from liverecd.schedule.config import load_config

FILES = 20
TARGETS = {"/": 50.0, "/api/status": 20.0}


def write_schedules(root: Path, streams: int, open_now: int) -> None:
    per_file = streams // FILES
    for f in range(FILES):
        lines = [f"domain: {DOMAIN}", f"app: {APP}", "streams:"]
        for i in range(f * per_file, (f + 1) * per_file):
            lines += [f"  - name: s{i:05d}", "    windows:",
                      f'      - cron: "{i % 60} */10 * * *"', "        duration: 20m"]  # fmt: skip
        (root / "schedules" / f"f{f:02d}.yaml").write_text("\n".join(lines) + "\n")
    now = datetime.now(UTC)
    lines = [f"domain: {DOMAIN}", f"app: {APP}", "streams:"]
    for i in range(open_now):
        lines += [f"  - name: open{i:04d}", "    windows:",
                  f"      - start: {iso(now + timedelta(seconds=2))}",
                  f"        end: {iso(now + timedelta(hours=3))}"]  # fmt: skip
    (root / "schedules" / "open.yaml").write_text("\n".join(lines) + "\n")


def timed_get(url: str) -> tuple[float, int]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        size = len(response.read())
    return (time.perf_counter() - start) * 1000, size


class Stalls:
    """The longest time the loop woke late for a 1 ms sleep, and the longest full (gen 2)
    garbage collection meanwhile: a pause of the whole process, whoever triggered it."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.gc_worst = 0.0
        self._gc_start = 0.0
        gc.callbacks.append(self._gc)

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.gc_worst = max(self.gc_worst, (time.perf_counter() - self._gc_start) * 1000)

    def reset(self) -> None:
        self.worst = self.gc_worst = 0.0

    async def run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, (time.perf_counter() - start) * 1000 - 1)


async def measure(base: str, kinds: list[str], n: int, stalls: Stalls) -> None:
    print(f"{'request':44} {'first':>8} {'p50':>8} {'p95':>8} {'max':>8} {'bytes':>8} "
          f"{'stall':>7} {'gc2':>7}")  # fmt: skip
    stalls.reset()
    await asyncio.sleep(2.0)
    print(f"{'(no request for 2 s)':44} {'':44} {stalls.worst:7.1f} {stalls.gc_worst:7.1f}")
    for path in kinds:
        stalls.reset()
        first, size = await asyncio.to_thread(timed_get, base + path)
        rest = [(await asyncio.to_thread(timed_get, base + path))[0] for _ in range(n)]
        print(f"{path:44} {first:8.1f} {percentile(rest, 50):8.1f} {percentile(rest, 95):8.1f} "
              f"{max(rest):8.1f} {size:8d} {stalls.worst:7.1f} {stalls.gc_worst:7.1f}")  # fmt: skip


def on_loop(daemon: Daemon, kinds: list[str], n: int) -> None:
    """How long `collect` holds the daemon's loop, and what the status thread spends on the
    index (build once, query per request): median and max per kind, in ms."""
    start = time.perf_counter()
    index = WindowIndex(daemon.engine.windows)
    built = (time.perf_counter() - start) * 1000
    context = Context(started_at=daemon.clock.wall(), ledger=Ledger())
    print(f"\nwindow index built in {built:.1f} ms (status thread, once per timeline)")
    print(f"{'':44} {'collect() on the loop':>21} {'upcoming() off it':>19}")
    print(f"{'':44} {'p50':>10} {'max':>10} {'p50':>9} {'max':>9}")
    for path in dict.fromkeys(k.replace("/api/status", "/") for k in kinds):
        query = Query.parse(dict(parse_qsl(urlsplit(path).query)))
        loop, off = [], []
        for _ in range(n):
            t0 = time.perf_counter()
            ahead = upcoming(daemon, index, daemon.clock.wall(), query)
            t1 = time.perf_counter()
            collect(daemon, daemon.clock.wall(), query, context, ahead)
            loop.append((time.perf_counter() - t1) * 1000)
            off.append((t1 - t0) * 1000)
        print(f"{path:44} {percentile(loop, 50):10.2f} {max(loop):10.2f} "
              f"{percentile(off, 50):9.2f} {max(off):9.2f}")  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    quiet()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        async with emulator(qps=50) as emu:
            config_path = write_config(root, emu.url, max_lead="0s")
            config_path.write_text(config_path.read_text() + "horizon: 40h\n")
            write_schedules(root, args.streams, args.open)
            ext = service.StatusExtension(ListenAddress("127.0.0.1", 0), Metrics())
            config = load_config(config_path)
            t0 = time.perf_counter()
            credentials = Credentials(AK, Secret(SECRET))
            async with service.running(
                config, credentials, extensions=[ext], watch_files=False, ready_within=300,
                stop_within=60,
            ) as daemon:  # fmt: skip
                ready = time.perf_counter() - t0
                windows = len(daemon.engine.windows)
                await asyncio.sleep(2 + args.open / 50 + 2)  # every open window has started
                recording = sum(1 for r in daemon.engine.book.rows() if r.phase.running)
                print(f"{windows} windows, {args.streams + args.open} streams, {recording} "
                      f"recording; daemon ready in {ready:.1f} s\n")  # fmt: skip
                assert ext.address is not None
                base = f"http://127.0.0.1:{ext.address[1]}"
                stalls = Stalls()
                ticker = asyncio.create_task(stalls.run())
                kinds = ["/", "/api/status", "/?stream=s01", "/api/status?stream=s01",
                         "/?stream=live/s", "/?stream=open&page=5", "/?page=1000"]  # fmt: skip
                await measure(base, kinds, args.requests, stalls)
                ticker.cancel()
                on_loop(daemon, kinds, args.requests)
    page, api = TARGETS["/"], TARGETS["/api/status"]
    print(f"\ntargets: / < {page:.0f} ms, /api/status < {api:.0f} ms, loop stall < 20 ms "
          "(times in ms; 'first' includes building the window index)")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=20_000)
    parser.add_argument("--open", type=int, default=500)
    parser.add_argument("--requests", type=int, default=40)
    asyncio.run(main(parser.parse_args()))

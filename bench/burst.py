"""2,000 starts due at one instant, qps 50: with max_lead 0 and with max_lead 60 s, side by side.

The daemon runs in-process (`liverecd run`'s `serve()`: schedule file, APScheduler alarms,
state store, dispatcher, LiveClient) against the bundled emulator over real HTTP on loopback.
Every figure is measured from the emulator's request log (arrival times as the server saw them):

- max_lead 0: the burst drains from the instant on; target >= 0.98 of the quota, 0 throttled;
- max_lead 60 s: starts leave early, as late as possible; targets: all land at or before the
  instant, none more than 1 s earlier than it needed to (the i-th of N needs to land by
  T - (N - 1 - i) / qps at the latest and, at the quota, no earlier), 0 throttled.

Run: .venv/bin/python bench/burst.py [--starts 2000] [--lead 60]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import daemon, emulator, quiet, write_config, write_schedule

QPS = 50


@dataclass
class Result:
    max_lead: float
    starts: int
    first: float  # seconds relative to the instant (negative: before)
    last: float
    ratio: float  # achieved rate / quota over the burst
    throttled: int
    late: int  # landed after the instant
    max_early: float  # seconds earlier than needed, worst start
    max_in_1s: int


async def run(starts: int, max_lead: float) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        async with emulator(QPS) as emu:
            setup = 5.0
            instant = datetime.now(UTC) + timedelta(seconds=setup + starts / QPS * max_lead / 60)
            instant = instant.replace(microsecond=0) + timedelta(seconds=1)
            end = instant + timedelta(hours=1)
            write_config(root, emu.url, max_lead=f"{max_lead:g}s")
            write_schedule(root, [(f"s{i:05}", instant, end) for i in range(starts)])
            async with daemon(root / "liverecd.yaml") as d:
                drain = (instant - datetime.now(UTC)).total_seconds() + starts / QPS + 3
                await asyncio.sleep(drain)
                await asyncio.wait_for(d.engine.dispatcher.wait_idle(), 60)
            sent = sorted(
                (r.wall - instant).total_seconds() for r in emu.requests if r.command == "start"
            )
            throttled = sum(1 for r in emu.requests if r.throttled)
            max_in_1s = emu.max_in_any_second()
    n = len(sent)
    span = sent[-1] - sent[0] if n > 1 else float("inf")
    early = [(-(n - 1 - i) / QPS) - t for i, t in enumerate(sent)]  # needed - landed
    return Result(
        max_lead=max_lead,
        starts=n,
        first=sent[0],
        last=sent[-1],
        ratio=(n - 1) / span / QPS,
        throttled=throttled,
        late=sum(1 for t in sent if t > 0),
        max_early=max(early),
        max_in_1s=max_in_1s,
    )


def table(results: list[Result]) -> str:
    rows = [
        ("max_lead", lambda r: f"{r.max_lead:g} s"),
        ("starts landed", lambda r: f"{r.starts}"),
        ("first lands (vs instant)", lambda r: f"{r.first:+.3f} s"),
        ("last lands (vs instant)", lambda r: f"{r.last:+.3f} s"),
        ("drain rate / quota", lambda r: f"{r.ratio:.3f}"),
        ("landed after the instant", lambda r: f"{r.late}"),
        ("most earlier than needed", lambda r: f"{r.max_early:.3f} s"),
        ("most calls in any 1 s", lambda r: f"{r.max_in_1s}"),
        ("throttled", lambda r: f"{r.throttled}"),
    ]
    head = "| | " + " | ".join(f"max_lead {r.max_lead:g} s" for r in results) + " |"
    sep = "|---|" + "---|" * len(results)
    body = [f"| {name} | " + " | ".join(f(r) for r in results) + " |" for name, f in rows[1:]]
    return "\n".join([head, sep, *body])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--starts", type=int, default=2000)
    parser.add_argument("--lead", type=float, default=60.0)
    args = parser.parse_args()
    quiet()
    results = [await run(args.starts, 0.0), await run(args.starts, args.lead)]
    print(table(results))


if __name__ == "__main__":
    asyncio.run(main())

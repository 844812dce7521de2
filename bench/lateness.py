"""How late do commands reach the API? 1,000 commands at distinct times, under the quota.

The daemon runs in-process (schedule file, APScheduler alarms, dispatcher, LiveClient) against
the bundled emulator over real HTTP on loopback. 500 streams each get one short window
(`finalize: delayed`, so no cancel_delay shares an instant): 500 starts and 500 stops, one every
`--gap` (30 ms: 33 commands/s, under the quota of 50). For each command the bench takes
(arrival at the emulator - due time) from the emulator's request log and prints p50, p99 and
max, for all commands and for starts and stops apart (a start may aim to land a request
latency early; a stop never leaves before its time). Targets: p50 <= 5 ms, p99 <= 50 ms.

Run: .venv/bin/python bench/lateness.py [--commands 1000] [--gap 0.03]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import (
    APP,
    DOMAIN,
    daemon,
    emulator,
    percentile,
    quiet,
    write_config,
    write_schedule,
)
from liverecd.streams import StreamKey


async def run(commands: int, gap: float) -> dict[str, list[float]]:
    streams = commands // 2
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        async with emulator() as emu:
            t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
            due: dict[tuple[str, StreamKey], datetime] = {}
            windows = []
            for i in range(streams):
                name = f"l{i:05}"
                start = t0 + timedelta(seconds=2 * i * gap)
                end = start + timedelta(seconds=gap)
                windows.append((name, start, end))
                key = StreamKey(DOMAIN, APP, name)
                due[("start", key)], due[("stop", key)] = start, end
            write_config(root, emu.url, max_lead="60s")
            write_schedule(root, windows, finalize="delayed")
            async with daemon(root / "liverecd.yaml") as d:
                last = max(due.values())
                await asyncio.sleep((last - datetime.now(UTC)).total_seconds() + 2)
                await asyncio.wait_for(d.engine.dispatcher.wait_idle(), 30)
            out: dict[str, list[float]] = {"all": [], "start": [], "stop": []}
            for r in emu.requests:
                if r.command is None or r.stream is None:
                    continue
                when = due.get((r.command, r.stream))
                if when is None:
                    continue
                ms = (r.wall - when).total_seconds() * 1000
                out["all"].append(ms)
                out[r.command].append(ms)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--gap", type=float, default=0.03, help="seconds between commands")
    args = parser.parse_args()
    quiet()
    result = await run(args.commands, args.gap)
    print("| commands | n | p50 | p99 | max |")
    print("|---|---|---|---|---|")
    for name, values in result.items():
        print(
            f"| {name} | {len(values)} | {percentile(values, 50):.1f} ms "
            f"| {percentile(values, 99):.1f} ms | {max(values):.1f} ms |"
        )


if __name__ == "__main__":
    asyncio.run(main())

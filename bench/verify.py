"""Verification at scale: 1,000 windows ending in the same minute.

The daemon runs in-process against the bundled emulator over real HTTP on loopback (index limit
15 calls/s per account, as documented). 1,000 streams get one window each: starts spread over
25 s, ends spread over the next minute (stop + cancel_delay each: 40 commands/s), `verify.grace`
0 s, so index reads run while stops and cancel_delays are still being sent. Prints how long
after the last window's end every window was verified, the most index calls the emulator saw in
any 1 s (target <= 15), and the lateness (arrival at the emulator - due) of the stops, p50 / p99,
against the same run with `verify.enabled: false` (target: p99 no worse than +5 ms).

Run: .venv/bin/python bench/verify.py [--windows 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).parent))

from common import APP, DOMAIN, daemon, emulator, percentile, quiet, write_config, write_schedule
from liverecd.streams import StreamKey
from liverecd.verify.coverage import Result
from liverecd.verify.store import VerificationStore

INDEX = "DescribeLiveStreamRecordIndexFiles"


def done_count(state: Path, since: datetime) -> int:
    store = VerificationStore(state, readonly=True)
    try:
        rows = store.verifications(since, since + timedelta(hours=1))
    finally:
        store.close()
    return sum(1 for r in rows if r.result is not Result.PENDING)


async def run(windows: int, verify: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        async with emulator() as emu:
            t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
            t1 = t0 + timedelta(seconds=30)
            plan, due = [], {}
            for i in range(windows):
                name = f"v{i:05}"
                start = t0 + timedelta(seconds=25 * i / windows)
                end = t1 + timedelta(seconds=50 * i / windows)
                plan.append((name, start, end))
                due[StreamKey(DOMAIN, APP, name)] = end
            config = write_config(root, emu.url, max_lead="10s")
            enabled = "true" if verify else "false"
            with config.open("a") as f:
                f.write(f"verify:\n  enabled: {enabled}\n  grace: 0s\n")
            write_schedule(root, plan)
            last_end = max(due.values())
            async with daemon(config) as d:
                await asyncio.sleep((last_end - datetime.now(UTC)).total_seconds() + 1)
                await asyncio.wait_for(d.engine.dispatcher.wait_idle(), 60)
                since = t0 - timedelta(minutes=1)
                while verify and done_count(root / "state", since) < windows:  # noqa: ASYNC110
                    await asyncio.sleep(0.5)
                verified_after = (datetime.now(UTC) - last_end).total_seconds()
            stops = [
                (r.wall - due[r.stream]).total_seconds() * 1000
                for r in emu.requests
                if r.command == "stop" and r.stream in due
            ]
            return {
                "verified_after_s": verified_after if verify else float("nan"),
                "index_peak": emu.max_in_any_second(action=INDEX),
                "index_calls": sum(1 for r in emu.requests if r.action == INDEX),
                "throttled": sum(1 for r in emu.requests if r.throttled),
                "stop_p50": percentile(stops, 50),
                "stop_p99": percentile(stops, 99),
                "stops": len(stops),
            }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", type=int, default=1000)
    args = parser.parse_args()
    quiet()
    # window_verified is a warning for each gap: keep the table readable.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    print("| verification | all verified after last end | index calls | most in any 1 s "
          "| throttled | stops | stop lateness p50 | p99 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for verify in (True, False):
        r = await run(args.windows, verify)
        print(
            f"| {'on' if verify else 'off'} | {r['verified_after_s']:.1f} s | "
            f"{r['index_calls']:.0f} | {r['index_peak']:.0f} | {r['throttled']:.0f} | "
            f"{r['stops']:.0f} | {r['stop_p50']:.1f} ms | {r['stop_p99']:.1f} ms |"
        )


if __name__ == "__main__":
    asyncio.run(main())

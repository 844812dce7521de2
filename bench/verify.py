"""Verification at scale: 1,000 windows ending in the same minute.

The daemon runs in-process against the bundled emulator over real HTTP on loopback, the emulator
in a process of its own (`liverecd emulator`: the API's work must not land on the daemon's
event loop; index limit 15 calls/s per account, as documented). 1,000 streams get one window
each: starts spread over 25 s, ends spread over the next 50 s (stop + cancel_delay each: 40
commands/s), `verify.grace` 0 s, so index reads run while stops and cancel_delays are still
being sent. Prints how long
after the last window's end every window was verified, the most index calls the emulator saw in
any 1 s (target <= 15), and the lateness (arrival at the emulator - due) of the stops, p50 / p99,
against the same run with `verify.enabled: false` (target: p99 no worse than +5 ms).

Run: .venv/bin/python bench/verify.py [--windows 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import structlog

sys.path.insert(0, str(Path(__file__).parent))

from common import AK, APP, DOMAIN, SECRET, daemon, percentile, quiet, write_config, write_schedule
from liverecd.engine.store.sqlite import SqliteStateStore
from liverecd.streams import StreamKey
from liverecd.verify.coverage import Result

INDEX = "DescribeLiveStreamRecordIndexFiles"


async def done_count(state: Path, since: datetime) -> int:
    store = SqliteStateStore(state, readonly=True)
    try:
        rows = await store.verifications(since, since + timedelta(hours=1))
    finally:
        await store.close()
    return sum(1 for r in rows if r.result is not Result.PENDING)


@asynccontextmanager
async def emulator_process() -> AsyncIterator[str]:
    """`liverecd emulator` in a subprocess; yields its URL."""
    env = {
        **os.environ,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": AK,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liverecd", "emulator", "--port", "0", "--stop-delay", "0.5s",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    out = proc.stdout
    drain: asyncio.Task[bytes] | None = None
    try:
        while b"listening on" not in (line := await out.readline()):
            if not line:
                raise RuntimeError("the emulator did not start")
        drain = asyncio.create_task(out.read())  # its log: a full pipe would stall it
        yield line.decode().split("listening on ")[1].split()[0]
    finally:
        proc.terminate()
        await proc.wait()
        if drain is not None:
            await drain


async def requests_of(url: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/_emulator/requests") as r:
        got: list[dict[str, Any]] = await r.json()
        return got


def peak(times: list[float]) -> int:
    """Most events in any half-open 1 s window."""
    times, best, j = sorted(times), 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


async def run(windows: int, verify: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        async with emulator_process() as url:
            t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
            t1 = t0 + timedelta(seconds=30)
            plan, due = [], {}
            for i in range(windows):
                name = f"v{i:05}"
                start = t0 + timedelta(seconds=25 * i / windows)
                end = t1 + timedelta(seconds=50 * i / windows)
                plan.append((name, start, end))
                due[StreamKey(DOMAIN, APP, name)] = end
            config = write_config(root, url, max_lead="10s")
            enabled = "true" if verify else "false"
            with config.open("a") as f:
                f.write(f"verify:\n  enabled: {enabled}\n  grace: 0s\n")
            write_schedule(root, plan)
            last_end = max(due.values())
            async with daemon(config) as d:
                await asyncio.sleep((last_end - datetime.now(UTC)).total_seconds() + 1)
                await asyncio.wait_for(d.engine.dispatcher.wait_idle(), 60)
                since = t0 - timedelta(minutes=1)
                while verify and await done_count(root / "state", since) < windows:  # noqa: ASYNC110
                    await asyncio.sleep(0.5)
                verified_after = (datetime.now(UTC) - last_end).total_seconds()
            requests = await requests_of(url)
            stops = [
                (_instant(r["wall"]) - due[StreamKey.parse(r["stream"])]).total_seconds() * 1000
                for r in requests
                if r["command"] == "stop" and StreamKey.parse(r["stream"]) in due
            ]
            index = [r["mono"] for r in requests if r["action"] == INDEX]
            return {
                "verified_after_s": verified_after if verify else float("nan"),
                "index_peak": peak(index),
                "index_calls": len(index),
                "throttled": sum(1 for r in requests if r["throttled"]),
                "stop_p50": percentile(stops, 50),
                "stop_p99": percentile(stops, 99),
                "stops": len(stops),
            }


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


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

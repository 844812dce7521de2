"""Soak: a day of recordings for 1,000 streams, compressed into 10 minutes, with faults on.

The day: each stream gets 2-5 windows of 30 min to 3 h (40 % of them starting on the hour or
the half hour, so commands come in bursts as real timetables make them), seeded; 24 h are
played in 10 real minutes (x144), so "1 h" is 25 s. The quota (50 calls/s) is not compressed:
the busy hours ask for about half of it, faults and retries included. `--minutes N` plays the
first N/10 of the day at the same pace.

The daemon runs as `python -m liverecd run -c CONFIG` (STS credentials, status endpoint on);
the emulator runs in this process: 15 % 5xx, 5 % hangs (3 s, longer than the 1-s client
timeout; the request takes effect, only the answer is lost), 5 % connection resets, plus
`--storms N` 10-second throttle storms spread over the run (default 1), plus with `--odd P` a
share P of answers that are no API answer (HTML pages, empty bodies, truncated JSON, an unknown
code, `{"Code":"OK"}`, a body that never ends: issue 12, case 1). Retries are compressed
too (base 50 ms, caps 2 s). Stop's delay is 180 s / 144 = 1.25 s.

Prints: commands sent (as the emulator received them) and their outcomes (the daemon's
/metrics), the faults injected, the coverage distribution of every window that ended at least
10 s before the end (min, p1, p5, p50) and how long recordings outlived their windows, with the
windows that opened or closed in a storm or the 20 s after it apart (a 10-s storm is 24
compressed minutes, and the limiter, cut to about 1 call/s by it, takes seconds to climb back);
the daemon's peak RSS and its growth (RSS at the end against RSS at minute 2, or half-way for
runs under 4 minutes: within 10 % means no leak); whether a secret reached its output.

`--refuse S`: nothing listens on the API port for the first S seconds (the emulator starts
late); the report adds when the daemon was ready and how the windows open at that moment fared.
Add `--retry real` to run that with the daemon's default retry policy (10-s timeout, backoff
from 200 ms capped at 30 s, 8 attempts for a start) instead of the compressed one.

Run: .venv/bin/python bench/soak.py [--minutes 10] [--streams 1000] [--refuse 60]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import signal
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import structlog
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from common import iso
from liverecd.emulator import Emulator, EmulatorConfig, FaultPlan
from soak_report import AK, APP, DOMAIN, SECRET, TOKEN, Played, Tally, Window, report

DAY = 86_400.0
DURATIONS_MIN = (30, 45, 60, 90, 120, 180)
SAMPLE_EVERY = 5.0


def make_day(streams: int, day0: datetime, compression: float, rng: random.Random) -> list[Window]:
    """Each stream's windows over one day (not overlapping), compressed into real time."""
    out = []
    for i in range(streams):
        at = rng.uniform(0, 180)  # minutes into the day
        for _ in range(rng.randint(2, 5)):
            at += rng.uniform(30, 300)
            if rng.random() < 0.4:
                at = 30 * round(at / 30)
            length = rng.choice(DURATIONS_MIN)
            if at + length > DAY / 60:
                break
            start = day0 + timedelta(seconds=at * 60 / compression)
            out.append(
                Window(f"s{i:04d}", start, start + timedelta(seconds=length * 60 / compression))
            )
            at += length
    return out


def write_files(root: Path, windows: list[Window], args: argparse.Namespace, port: int) -> Path:
    (root / "schedules").mkdir(parents=True)
    by_file: dict[int, dict[str, list[Window]]] = collections.defaultdict(dict)
    for w in windows:
        by_file[int(w.stream[1:]) % 10].setdefault(w.stream, []).append(w)
    for n, streams in by_file.items():
        lines = [f"domain: {DOMAIN}", f"app: {APP}", "streams:"]
        for name, wins in streams.items():
            lines += [f"  - name: {name}", "    windows:"]
            lines += [f"      - {{start: {iso(w.start)}, end: {iso(w.end)}}}" for w in wins]
        (root / "schedules" / f"day{n}.yaml").write_text("\n".join(lines) + "\n")
    api: dict[str, Any] = {"endpoint": f"http://127.0.0.1:{port}", "qps": 50}
    if args.retry == "compressed":
        retry = {"base": "50ms", "cap": "2s", "wait_for_stream_cap": "1s", "stop_cap": "2s"}
        api |= {"timeout": "1s", "connect_timeout": "1s", "retry": retry}
    config = {
        "api": api,
        "schedules": ["schedules/*.yaml"],
        "state_dir": "state",
        "max_lead": "10s",
        "log": {"format": "json", "level": "info"},
        "status": {"listen": f"127.0.0.1:{free_port()}"},
        "watch": {"interval": "5s" if args.retry == "compressed" else "10s"},
    }
    path = root / "liverecd.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def scrape(url: str) -> str:
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            return await resp.text()
    except aiohttp.ClientError as exc:
        return f"unreachable: {exc}"


async def run(args: argparse.Namespace, root: Path) -> int:
    tally = Tally()
    structlog.configure(processors=[tally.processor])
    rng = random.Random(args.seed)
    compression = DAY / 600.0
    port = free_port()
    began = datetime.now(UTC)
    day0 = began + timedelta(seconds=8.0)  # time to load and reconcile 6,000 windows
    windows = make_day(args.streams, day0, compression, rng)
    config = write_files(root, windows, args, port)
    status = yaml.safe_load(config.read_text())["status"]["listen"]
    emu = Emulator(EmulatorConfig(
        accounts={AK: SECRET}, sts_tokens={AK: TOKEN}, stop_delay=180.0 / compression,
        seed=args.seed, request_log_limit=1000))  # fmt: skip
    emu.inject(FaultPlan(error_5xx=0.15, hang=0.05, reset=0.05, odd=args.odd, hang_seconds=3.0,
                         hang_after_effect=True))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "NOTIFY"))}
    env |= {"ALIBABA_CLOUD_ACCESS_KEY_ID": AK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
            "ALIBABA_CLOUD_SECURITY_TOKEN": TOKEN}  # fmt: skip
    out_path, err_path = root / "daemon.out", root / "daemon.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "liverecd", "run", "-c", str(config),
            stdout=out, stderr=err, env=env,
        )  # fmt: skip
    print(f"day: {args.streams} streams, {len(windows)} windows in 24 h, x{compression:.0f} "
          f"(1 h = {3600 / compression:.0f} s); playing {args.minutes} min = "
          f"{args.minutes * 60 * compression / 3600:.1f} h of it; work dir {root}")  # fmt: skip
    played = Played()
    try:
        await play(args, emu, proc, port, played)
        metrics = await scrape(f"http://{status}/metrics")
        health = await scrape(f"http://{status}/healthz")
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await emu.close()
    end = datetime.now(UTC)
    report(args, emu, tally, windows, played, (metrics, health), code, root, began, end)
    return 0


async def play(
    args: argparse.Namespace, emu: Emulator, proc: asyncio.subprocess.Process, port: int,
    played: Played,
) -> None:  # fmt: skip
    """Start the emulator (late with --refuse), storm on schedule, sample RSS; until the end."""
    t0 = time.monotonic()
    length = args.minutes * 60
    storms = [length * (k + 1) / (args.storms + 1) for k in range(args.storms)]
    if not args.refuse:
        await emu.start("127.0.0.1", port)
    daemon = psutil.Process(proc.pid)
    while (elapsed := time.monotonic() - t0) < length:
        if proc.returncode is not None:
            raise SystemExit(f"daemon exited with {proc.returncode}")
        if args.refuse and played.appeared is None and elapsed >= args.refuse:
            await emu.start("127.0.0.1", port)
            played.appeared = datetime.now(UTC)
        if storms and elapsed >= storms[0]:
            storms.pop(0)
            emu.throttle_storm(10.0)
            played.storms.append(datetime.now(UTC))
        rss = daemon.memory_info().rss
        played.samples.append((elapsed, rss))
        if len(played.samples) % 12 == 0:
            print(f"  {elapsed / 60:4.1f} min: RSS {rss / 2**20:6.1f} MB", flush=True)
        wake = min([SAMPLE_EVERY, length - elapsed, *(t - elapsed for t in storms[:1])])
        await asyncio.sleep(max(0.0, wake))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--refuse", type=float, default=0.0, help="seconds of refused connects")
    parser.add_argument("--storms", type=int, default=1, help="10-s throttle storms in the run")
    parser.add_argument("--odd", type=float, default=0.0,
                        help="share of answers that are no API answer (HTML, empty, truncated, "
                        "unknown code, endless body)")  # fmt: skip
    parser.add_argument("--retry", choices=("compressed", "real"), default="compressed")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
        return asyncio.run(run(args, args.keep))
    with tempfile.TemporaryDirectory(prefix="liverecd-soak-") as tmp:
        return asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    raise SystemExit(main())

"""The daemon on 100,000 windows: time to READY, memory, loop stalls, reloads, CPU per command.

Generates `bench/scale.py`'s timetable (100,000 windows over 20,000 streams, 20 files, ten
zones), starts the bundled emulator in a subprocess on loopback, and runs the daemon
in-process (`service.running`: the same wiring as `liverecd run`) with a 5 ms probe on its
event loop that records the longest stall. Prints, for the 2-core machine's targets:

- seconds from start to READY, and this process's RSS after READY and after the horizon fill;
- the longest event-loop stall during start-up and the horizon fill;
- SIGHUP-equivalent reloads, each timed (seconds to apply, longest stall): 10 % of the streams'
  windows moved, spread over every file (each of the 20 files is parsed again); the same
  number of streams moved within 10 % of the files (2 of 20: a person's edit; the other 18
  files' bytes are unchanged, so they are not parsed again); a whole file's timezone changed;
- a reloaded `max_lead` (60 s to 5 min): seconds until every start alarm has moved, and the
  longest stall meanwhile;
- CPU seconds of this process per RealTimeRecordCommand during a burst of 1,000 starts at one
  instant (the daemon at 400 calls/s against an emulator allowing 1,000, so the burst is not
  held back by the 50/s quota);
- wake-ups of the event loop per idle minute (nothing due): timers that fire on the loop.

Run: .venv/bin/python bench/daemon_scale.py [--streams 20000] [--idle 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import AK, SECRET, iso
from liverecd.api.credentials import Credentials, Secret
from liverecd.config import LogConfig
from liverecd.ops import logs, service
from liverecd.schedule.config import load_config
from scale import generate

BURST_QPS = 400
TARGETS = "READY < 5 s, RSS < 200 MB, stall < 100 ms, reload(10%) < 1 s, CPU/command <= 1 ms"


class Probe:
    """Wakes every 5 ms and records how late it woke: the loop's longest stall."""

    def __init__(self) -> None:
        self.worst = 0.0

    def reset(self) -> float:
        worst, self.worst = self.worst, 0.0
        return worst

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, loop.time() - t - 0.005)


def rss_mb() -> float:
    with Path("/proc/self/status").open() as fh:
        return next(int(x.split()[1]) / 1024 for x in fh if x.startswith("VmRSS"))


def start_emulator(qps: int) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "ALIBABA_CLOUD_ACCESS_KEY_ID": AK}
    env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = SECRET
    proc = subprocess.Popen(
        [sys.executable, "-m", "liverecd", "emulator", "--port", "0", "--qps", str(qps),
         "--stop-delay", "1s"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    for raw in proc.stdout:
        found = re.search(r"(http://127\.0\.0\.1:\d+)", raw.decode())
        if found:
            return proc, found.group(1)
    raise RuntimeError("the emulator did not start")


def write_main(root: Path, endpoint: str, qps: int) -> Path:
    path = root / "run.yaml"
    path.write_text(
        f"api:\n  endpoint: {endpoint}\n  qps: {qps}\nschedules:\n  - schedules/*.yaml\n"
        "state_dir: state\nmax_lead: 60s\nstatus:\n  listen: off\nwatch:\n  interval: 0s\n"
    )
    return path


async def timed_reload(daemon: service.Daemon, probe: Probe, trigger: str) -> tuple[float, float]:
    probe.reset()
    t = time.perf_counter()
    await daemon.reload(trigger)
    return time.perf_counter() - t, probe.reset()


async def timed_max_lead(
    daemon: service.Daemon, probe: Probe, lead: timedelta
) -> tuple[float, float]:
    """A reloaded `max_lead`: seconds until every armed start alarm has moved, longest stall."""
    probe.reset()
    t = time.perf_counter()
    daemon.engine.set_max_lead(lead)
    movers = [task for task in asyncio.all_tasks() if task.get_name() == "max-lead"]
    await asyncio.wait(movers)
    return time.perf_counter() - t, probe.reset()


def move_windows(root: Path, share: float, files: tuple[str, ...] = ()) -> None:
    """Shift the first cron rule of `share` of the streams of each file (of `files` only,
    when given) by 5 minutes: changed windows."""
    for path in sorted((root / "schedules").glob("*.yaml")):
        if files and path.name not in files:
            continue
        lines = path.read_text().splitlines(keepends=True)
        streams, pending = 0, False
        for i, line in enumerate(lines):
            if line.startswith("  - name: "):
                streams += 1
                pending = streams % round(1 / share) == 0
            elif pending and line.startswith('      - cron: "'):
                minute = line.split('"')[1].split()[0]
                lines[i] = line.replace(f'"{minute} ', f'"{(int(minute) + 5) % 60} ', 1)
                pending = False
        path.write_text("".join(lines))


def change_zone(root: Path) -> None:
    path = root / "schedules" / "f00.yaml"
    text = path.read_text()
    path.write_text(re.sub(r"^timezone: .*$", "timezone: Pacific/Auckland", text, count=1,
                           flags=re.M))  # fmt: skip


async def burst(root: Path, endpoint: str, count: int) -> float:
    """CPU seconds per command for `count` starts due at one instant (at BURST_QPS)."""
    (root / "schedules").mkdir(parents=True, exist_ok=True)
    at = datetime.now(UTC) + timedelta(seconds=3)
    lines = ["domain: burst.example.com", "app: live", "streams:"]
    for i in range(count):
        lines += [f"  - name: b{i:05d}", "    windows:", f"      - start: {iso(at)}",
                  f"        end: {iso(at + timedelta(minutes=30))}"]  # fmt: skip
    (root / "schedules" / "burst.yaml").write_text("\n".join(lines) + "\n")
    config = load_config(write_main(root, endpoint, BURST_QPS))
    async with service.running(config, Credentials(AK, Secret(SECRET)), watch_files=False) as d:
        await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds() - 0.5))
        cpu0 = time.process_time()
        await asyncio.sleep(0.5)
        async with asyncio.timeout(60):
            while len(d.engine.dispatcher) or d.engine.counts()[1] < count:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        return (time.process_time() - cpu0) / count


async def idle_wakeups(root: Path, endpoint: str, seconds: float) -> float:
    """Event-loop wake-ups per minute with nothing due (one window a day ahead)."""
    (root / "schedules").mkdir(parents=True, exist_ok=True)
    at = datetime.now(UTC) + timedelta(days=1)
    (root / "schedules" / "idle.yaml").write_text(
        f"domain: idle.example.com\napp: live\nstreams:\n  - name: later\n    windows:\n"
        f"      - start: {iso(at)}\n        end: {iso(at + timedelta(hours=1))}\n"
    )
    config = load_config(write_main(root, endpoint, 50))
    async with service.running(config, Credentials(AK, Secret(SECRET)), watch_files=False):
        # A wake-up is a timer that fires on the loop (each costs two selector polls: the one
        # that times out, and the one that runs what the timer woke).
        real_run, count = asyncio.events.Handle._run, [0]

        def counting(handle: asyncio.events.Handle) -> None:
            count[0] += isinstance(handle, asyncio.TimerHandle)
            real_run(handle)

        await asyncio.sleep(2)
        asyncio.events.Handle._run = counting  # type: ignore[method-assign]
        await asyncio.sleep(seconds)
        asyncio.events.Handle._run = real_run  # type: ignore[method-assign]
        count[0] -= 1  # the bench's own sleep
    return count[0] * 60 / seconds


async def scale(args: argparse.Namespace, root: Path, endpoint: str) -> None:
    generate(root, args.streams, 20)
    config = load_config(write_main(root, endpoint, 50))
    probe = Probe()
    monitor = asyncio.create_task(probe.run())
    t0 = time.perf_counter()
    credentials = Credentials(AK, Secret(SECRET))
    async with service.running(config, credentials, watch_files=False, ready_within=300) as d:
        ready = time.perf_counter() - t0
        rss_ready, stall_start = rss_mb(), probe.reset()
        print(f"READY           {ready:6.2f} s   windows armed first {len(d.engine.windows)}")
        first, last, stable = len(d.engine.windows), -1, 0
        async with asyncio.timeout(120):  # the background horizon fill: until it settles
            while stable < 10:
                n = len(d.engine.windows)
                stable = stable + 1 if n == last and n > first else 0
                last = n
                await asyncio.sleep(0.1)
        print(f"RSS after READY {rss_ready:6.1f} MB; after the horizon fill {rss_mb():.1f} MB "
              f"({len(d.engine.windows)} windows, {d.engine.alarms.armed()} alarms)")  # fmt: skip
        print(f"longest stall   {stall_start * 1000:6.1f} ms (start-up and horizon fill)")
        move_windows(root, 0.10)
        took, stall = await timed_reload(d, probe, "bench-10pct")
        print(f"reload 10 %     {took:6.2f} s   longest stall {stall * 1000:.1f} ms "
              "(10 % of the streams, in every file)")  # fmt: skip
        move_windows(root, 1.0, files=("f05.yaml", "f15.yaml"))
        took, stall = await timed_reload(d, probe, "bench-10pct-files")
        print(f"reload 10 % b   {took:6.2f} s   longest stall {stall * 1000:.1f} ms "
              "(the same number of streams, all in 2 of the 20 files)")  # fmt: skip
        change_zone(root)
        took, stall = await timed_reload(d, probe, "bench-zone")
        print(f"reload one zone {took:6.2f} s   longest stall {stall * 1000:.1f} ms")
        took, stall = await timed_max_lead(d, probe, timedelta(minutes=5))
        print(f"max_lead 60s→5m {took:6.2f} s   longest stall {stall * 1000:.1f} ms (alarms moved)")
    monitor.cancel()


async def main_async(args: argparse.Namespace) -> None:
    emu, endpoint = start_emulator(1000)
    try:
        with tempfile.TemporaryDirectory(prefix="liverecd-dscale-") as tmp:
            # Warnings and errors only, as before, but written as `liverecd run` writes them
            # (JSON, through the non-blocking queue, to a file; left open for the queue's
            # writer until exit): rendered for a terminal on the loop, a reload's 1,300
            # schedule warnings were the bench's own stalls.
            log_file = (Path(tmp) / "daemon.log").open("w")
            logs.configure(LogConfig(level="warning"), stream=log_file)
            await scale(args, Path(tmp) / "scale", endpoint)
            cpu = await burst(Path(tmp) / "burst", endpoint, args.burst)
            print(f"CPU per command {cpu * 1000:6.3f} ms ({args.burst} starts at one instant)")
            wake = await idle_wakeups(Path(tmp) / "idle", endpoint, args.idle)
            print(f"idle wake-ups   {wake:6.1f} per minute")
    finally:
        emu.terminate()
        emu.wait()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the whole run {peak:.1f} MB. Targets: {TARGETS}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=20000)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=30.0)
    asyncio.run(main_async(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

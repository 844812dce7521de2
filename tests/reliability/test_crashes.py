"""kill -9 (issue 7, item 2): the daemon, a real `liverecd run` process with STS credentials, is
killed at 10 seeded random instants across a timetable of 8 streams with windows of a few
seconds, and restarted within 1.5 s each time. After every restart the emulator's recording state
agrees with the timetable within 5 s; over the whole run, every stretch recorded outside a
window, and every stretch of a window left unrecorded, is explained by the daemon's downtime
(from a kill to the next `daemon_started`) to within a second.

Seven kills fall in steady state (after the restart has converged, 0-1.5 s later, so they land
among window boundaries and commands in flight), each followed by a restart once the next window
boundary has passed (so every restart has something to put right); three during start-up
(0.15-0.6 s after the spawn: loading, reconcile, the first sends); a life cut short in start-up
is not checked for convergence, the next one is. Time is compressed to windows of 1.5-4 s; the
emulator, in this process, closes a stopped recording's file after 0.5 s. Every line the
processes printed, and /metrics and /healthz scraped in each steady life, go to the secret
scan. The last test: SIGTERM once the log reader has gone (it once went unheard).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from conftest import EmulatorFactory
from liverecd.emulator import Emulator
from liverecd.net import free_port

from .conftest import LeakScan
from .procs import DaemonProcess, daemon_env
from .rig import (
    SECRET,
    TOKEN,
    Span,
    Windows,
    account,
    all_idle,
    gaps,
    http_get,
    key,
    now,
    outside,
    overlap,
    schedule_text,
    seconds,
    until,
    write_config,
    write_schedule,
)

pytestmark = pytest.mark.realtime  # daemons in subprocesses, killed with real signals
AK = account("Crash01")
SEED = 20261218
KILLS = 10
STARTUP_KILLS = 3
CONVERGE_WITHIN = 5.0
LATENCY = 0.3  # seconds a command may take to land while the daemon runs
SLACK = 1.0


def timetable(rng: random.Random, t0: datetime, span: float) -> Windows:
    """8 streams, each a run of windows 1.5-4 s long with gaps of 1-3 s, over `span` seconds."""
    windows: Windows = {}
    for i in range(8):
        at, wins = rng.uniform(0.0, 2.0), []
        while at + 1.5 < span:
            length = rng.uniform(1.5, 4.0)
            wins.append((t0 + seconds(at), t0 + seconds(min(at + length, span))))
            at += length + rng.uniform(1.0, 3.0)
        windows[f"c{i}"] = wins
    return windows


def disagreements(emu: Emulator, windows: Windows, at: datetime, up_since: datetime) -> list[str]:
    """Streams whose emulator state disagrees with the timetable at `at`. A boundary the
    daemon could not see yet is excused: one less than LATENCY ago while the daemon was up
    (since `up_since`), or about to come. A boundary passed while it was down is not."""
    wrong = []
    for name, wins in windows.items():
        edges = [t for w in wins for t in w]
        if any(max(up_since, at - seconds(LATENCY)) <= t <= at + seconds(0.1) for t in edges):
            continue
        should = any(a <= at < b for a, b in wins)
        if should != (emu.state(key(name)) == "recording"):
            wrong.append(f"{name}: {'not ' if should else ''}recording")
    return wrong


async def converge(emu: Emulator, windows: Windows, life: DaemonProcess) -> float:
    """Seconds from spawn until the emulator agrees with the timetable, checked from READY on;
    fails after 5 s."""
    wrong: list[str] = ["not ready"]
    await life.wait_event("daemon_started", within=CONVERGE_WITHIN)
    ready = life.ready_at()
    assert ready is not None
    while (elapsed := (now() - life.spawned).total_seconds()) < CONVERGE_WITHIN:
        wrong = disagreements(emu, windows, now(), ready)
        if not wrong:
            return elapsed
        assert life.process.returncode is None, life.output()[-2000:]
        await asyncio.sleep(0.02)
    raise AssertionError(f"not converged {CONVERGE_WITHIN}s after restart: {wrong}")


async def scrape(life: DaemonProcess, leaks: LeakScan) -> None:
    """/metrics and /healthz of this life, into the secret scan."""
    listening = await life.wait_event("status_listening")
    for page in ("/metrics", "/healthz"):
        leaks.add(f"{page} of a daemon", (await http_get(f"http://{listening['listen']}{page}"))[1])


def next_boundary(windows: Windows, after: datetime) -> datetime:
    """Just past the next window boundary of any stream after `after` (a downtime that spans
    it gives the restart something to do)."""
    edges = [t for wins in windows.values() for w in wins for t in w if t > after]
    return min(edges, default=after) + seconds(0.1)


def downtime(lives: list[DaemonProcess], end: datetime) -> list[Span]:
    """When no daemon could act: from the first spawn (or a kill) to the next READY."""
    down, since = [], lives[0].spawned
    for life in lives:
        ready = life.ready_at()
        if ready is not None:
            down.append((since, ready))
            since = life.killed or end
    if since < end:
        down.append((since, end))
    return down


@pytest.mark.slow
@pytest.mark.timeout(60)
async def test_kill_9_at_random_instants_converges_and_records_only_what_downtime_explains(
    tmp_path: Path, emulator_factory: EmulatorFactory, leaks: LeakScan
) -> None:
    rng = random.Random(SEED)
    emu = await emulator_factory(accounts={AK: SECRET}, sts_tokens={AK: TOKEN}, stop_delay=0.5)
    config = write_config(tmp_path, emu.url, status=f"127.0.0.1:{free_port()}")
    t0 = now() + seconds(1.0)
    windows = timetable(rng, t0, span=12.5)
    write_schedule(tmp_path, "crash.yaml", schedule_text(windows))
    env = daemon_env(AK, sts=True)
    startup_kills = set(rng.sample(range(KILLS), STARTUP_KILLS))
    lives: list[DaemonProcess] = []
    converged: list[float] = []
    try:
        async with asyncio.timeout(50):
            for i in range(KILLS + 1):
                life = await DaemonProcess.spawn(config, env)
                lives.append(life)
                if i in startup_kills:
                    await asyncio.sleep(rng.uniform(0.15, 0.6))
                    await life.kill()
                    continue
                converged.append(await converge(emu, windows, life))
                if i == KILLS:
                    break
                await scrape(life, leaks)
                await asyncio.sleep(rng.uniform(0.0, 1.5))
                await life.kill()
                await until(min(next_boundary(windows, now()), now() + seconds(1.5)))
            last_end = max(b for wins in windows.values() for _, b in wins)
            await until(last_end)
            assert await all_idle(emu, map(key, windows), within=5.0)
            end = now()
            assert await lives[-1].terminate() == 0
    finally:
        for life in lives:
            if life.process.returncode is None:
                await life.kill()
            leaks.add("daemon output", life.output())

    assert len(converged) == KILLS - STARTUP_KILLS + 1
    assert sum(life.killed is not None for life in lives) == KILLS
    down = downtime(lives, end)
    for name, wins in windows.items():
        intervals = emu.recordings(key(name))
        for stretch in outside(intervals, wins, end) + [
            g for w in wins for g in gaps(w, intervals, end)
        ]:
            length = (stretch[1] - stretch[0]).total_seconds()
            assert length - overlap(stretch, down) <= SLACK, (name, stretch, down)
    assert max(converged) <= CONVERGE_WITHIN
    # the restarts had work to do: windows opened or closed while the daemon was down
    edges = [t for wins in windows.values() for w in wins for t in w]
    assert sum(any(a < t < b for a, b in down) for t in edges) >= KILLS - STARTUP_KILLS


@pytest.mark.timeout(30)
async def test_sigterm_stops_the_daemon_after_its_log_reader_died(
    tmp_path: Path, emulator_factory: EmulatorFactory
) -> None:
    ak = account("Crash02")
    emu = await emulator_factory(accounts={ak: SECRET})
    port = free_port()
    config = write_config(tmp_path, emu.url, status=f"127.0.0.1:{port}")
    write_schedule(tmp_path, "idle.yaml", schedule_text({}))
    read_end, write_end = os.pipe()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liverecd", "run", "-c", str(config),
        stdout=write_end, stderr=asyncio.subprocess.DEVNULL, env=daemon_env(ak, sts=False),
    )  # fmt: skip
    os.close(write_end)
    try:
        healthz = f"http://127.0.0.1:{port}/healthz"
        async with asyncio.timeout(10):
            while await http_get_or_none(healthz) != 200:  # noqa: ASYNC110 - a port to poll
                await asyncio.sleep(0.05)
        os.close(read_end)  # the log reader goes away (journald restarted, a pipe closed)
        read_end = -1
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(3):
                code = await process.wait()
        except TimeoutError:
            raise AssertionError("SIGTERM ignored") from None
        assert code == 0
    finally:
        if read_end >= 0:
            os.close(read_end)
        if process.returncode is None:
            process.kill()
            await process.wait()


async def http_get_or_none(url: str) -> int | None:
    """The status of a GET, None while nothing answers."""
    try:
        return (await http_get(url))[0]
    except aiohttp.ClientError:
        return None

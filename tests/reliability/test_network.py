"""No endpoint yet (issue 7, item 5): the daemon starts while nothing listens on the API port
(every connection refused), becomes ready (`on_ready`, right after systemd's READY=1), keeps
retrying, and recovers on its own once the endpoint appears.

The issue's 60-second refusal is compressed to 8 s here; the retry policy and the online-list
watch are scaled by the same factor (60 s -> 8 s: base 200 ms -> 27 ms, cap 30 s -> 4 s, watch
10 s -> 1.3 s; max_attempts stays 8), so the race between the outage and the retry budget is
the one a default configuration runs. `bench/soak.py --refuse 60 --retry real` runs the full
minute with the real policy.

One outage is run per module (a module-scoped fixture) and looked at by several tests. The
daemon and the emulator share a FakeClock the fixture steps; start-up to READY is timed in real
seconds (nothing steps the clock before the daemon is ready).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

import pytest
import pytest_asyncio
import structlog
from structlog.testing import capture_logs
from structlog.typing import EventDict

from conftest import fake_clock, play
from liverecd.emulator import Emulator, EmulatorConfig
from liverecd.net import free_port

from .conftest import LeakScan
from .rig import (
    SECRET,
    Windows,
    account,
    commands_of,
    coverage,
    credentials,
    key,
    schedule_text,
    seconds,
    serving,
    write_config,
    write_schedule,
)

REFUSE = 8.0
SCALE = REFUSE / 60.0
CAP = 30 * SCALE
RETRY: dict[str, str | int] = {
    "base": f"{round(200 * SCALE)}ms",
    "cap": f"{round(CAP * 1000)}ms",
    "max_attempts": 8,
    "wait_for_stream_cap": f"{round(10_000 * SCALE)}ms",
    "stop_cap": f"{round(30_000 * SCALE)}ms",
}
WATCH = f"{round(10_000 * SCALE)}ms"


AK = account("Net01")


@dataclass(frozen=True)
class Outage:
    """What one run through the outage left behind."""

    emu: Emulator
    windows: Windows
    ready_after: float  # real seconds from start-up to READY
    appeared: datetime  # when the endpoint started listening
    events: list[EventDict]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def outage(tmp_path_factory: pytest.TempPathFactory) -> Outage:
    """The daemon started against a refusing port; the emulator appears REFUSE seconds later."""
    root = tmp_path_factory.mktemp("outage")
    port = free_port()
    config = write_config(root, f"http://127.0.0.1:{port}", retry=RETRY, watch=WATCH)
    clock = fake_clock()
    t0 = clock.wall()
    windows: Windows = {
        "gone": [(t0 + seconds(1.5), t0 + seconds(4.0))],  # opens and closes while refused
        "early": [(t0 + seconds(1.0), t0 + seconds(REFUSE + 5.0))],  # open when it comes back
        "after": [(t0 + seconds(REFUSE + 0.6), t0 + seconds(REFUSE + 2.6))],
    }
    write_schedule(root, "net.yaml", schedule_text(windows))
    emu = Emulator(EmulatorConfig(accounts={AK: SECRET}, stop_delay=0.5), clock=clock)
    with capture_logs(processors=[structlog.processors.format_exc_info]) as events:
        try:
            started = time.monotonic()
            async with asyncio.timeout(30), serving(config, credentials(AK), clock=clock):
                ready_after = time.monotonic() - started
                await play(clock, t0 + seconds(REFUSE))
                await emu.start("127.0.0.1", port)
                appeared = clock.wall()
                await play(clock, windows["early"][0][1] + seconds(0.6))
        finally:
            await emu.close()
    return Outage(emu, windows, ready_after, appeared, events)


@pytest.mark.timeout(40)
def test_daemon_is_ready_while_refused_retries_and_fires_once_the_endpoint_appears(
    outage: Outage,
) -> None:
    assert outage.ready_after < 2.0  # ready without the endpoint
    refused = [e for e in outage.events if e.get("transport_error") == "connect"]
    assert len(refused) >= 2  # it kept trying
    emu = outage.emu
    assert not [r for r in commands_of(emu, key("gone")) if r.command == "start"]  # useless now
    start, end = outage.windows["after"][0]
    assert coverage(emu, key("after"), start, end) >= 0.95
    assert [r.command for r in commands_of(emu, key("after"))] == ["start", "stop", "cancel_delay"]


def test_outage_logs_hold_no_secret(outage: Outage, leaks: LeakScan) -> None:
    assert outage.events
    leaks.add("outage log events", "\n".join(repr(e) for e in outage.events))


def test_window_open_during_a_long_outage_is_recorded_once_the_endpoint_appears(
    outage: Outage,
) -> None:
    recordings = outage.emu.recordings(key("early"))
    assert recordings, "never recorded"
    # the start kept retrying (every attempt refused) and lands within one backoff cap
    assert (recordings[0].start - outage.appeared).total_seconds() <= CAP + 0.5
    end = outage.windows["early"][0][1]
    assert recordings[-1].end is not None and abs((recordings[-1].end - end).total_seconds()) < 1

"""The host's clock misbehaves (issue 7, item 3): the wall clock is stepped 10 minutes forward
and, later, 10 minutes back while the daemon runs; and the host is suspended for 10 minutes.
No command is lost, none is repeated (a `start` answered TaskAlreadyStarted would be an
idempotent re-assert and is tolerated), the detected step is logged (`clock_jump`) and the
daemon re-arms from the timetable at once: a window the step put in the past gets nothing, one
it put in the present is started, one it put back in the future comes in its turn.

How the host is faked, for the daemon only (the emulator, the "server", keeps real time, and
accepts the skewed signatures since they stay within its 15-minute window):
- the daemon's injected Clock reads the wall clock as real time + an offset, and APScheduler's
  `datetime.now` is patched to read the same: a step reaches the whole process, as libfaketime
  would (APScheduler reads `datetime.now` itself; the only other way to feed it our Clock is
  copying its job-processing loop into a subclass, which would then drift from the library);
- the event loop is a subclass whose `time()` can jump, so a suspend during which the monotonic
  clock counts (both clocks jump: every timer is overdue at resume) is real to asyncio. A Linux
  suspend, where CLOCK_MONOTONIC stops, is the wall step forward of the first test.
Times are compressed: windows of 1-3 s, real seconds between the steps. The tests are sync
functions that run their own event loop (`asyncio.Runner(loop_factory=...)`), and bound their
waits by real time, since a jumping loop would trip `asyncio.timeout`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

import apscheduler.schedulers.base
import pytest

from liverecd.emulator import Emulator, EmulatorConfig

from .conftest import LeakScan
from .rig import (
    SECRET,
    Windows,
    account,
    commands_of,
    credentials,
    key,
    schedule_text,
    serving,
    write_config,
    write_schedule,
)

# The host's clocks are faked at the event loop (a loop whose time() jumps), not by a FakeClock.
pytestmark = pytest.mark.realtime

STEP = 600.0


class JumpLoop(asyncio.SelectorEventLoop):
    """An event loop whose monotonic clock can jump forward (a suspend it counts)."""

    jumped = 0.0

    def time(self) -> float:
        return super().time() + self.jumped


@dataclass
class Host:
    """The daemon's view of time: wall = real + offset; monotonic = the (jumping) loop's."""

    loop: JumpLoop
    offset: float = 0.0
    started: float = field(default_factory=time.monotonic)  # real, for the test's own waits

    # -- the liverecd.clock.Clock protocol --
    def wall(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def monotonic(self) -> float:
        return self.loop.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def timeout(self, seconds: float) -> asyncio.Timeout:
        return asyncio.timeout(max(0.0, seconds))

    # -- what happens to the host --
    def step_wall(self, seconds: float) -> None:
        """`date -s` or an NTP step: the wall clock only."""
        self.offset += seconds

    def suspend(self, seconds: float) -> None:
        """Sleep and resume, with a monotonic clock that counts the sleep: both jump."""
        self.offset += seconds
        self.loop.jumped += seconds

    # -- the test's real time --
    def real(self) -> float:
        return time.monotonic() - self.started

    async def until(self, real: float) -> None:
        """Wait until `real` seconds after the start, in real time (immune to loop jumps)."""
        while (left := real - self.real()) > 0:  # noqa: ASYNC110 - a jumping loop cannot time it
            await asyncio.sleep(min(left, 0.02))


class ServerClock:
    """The emulator's clock: real time, whatever the daemon's host does."""

    def wall(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def timeout(self, seconds: float) -> asyncio.Timeout:
        return asyncio.timeout(max(0.0, seconds))


@dataclass
class Run:
    host: Host
    emu: Emulator
    t0: datetime  # real (and initial daemon) wall time at real second 0

    def at(self, real: float) -> datetime:
        return self.t0 + timedelta(seconds=real)

    def when(self, stream: str, command: str) -> float | None:
        """Real seconds at which the first accepted `command` for `stream` arrived."""
        hits = [r for r in commands_of(self.emu, key(stream)) if r.command == command]
        return None if not hits else (hits[0].wall - self.t0).total_seconds()

    def commands(self, stream: str) -> list[str]:
        """What reached the emulator for `stream`, idempotent re-asserts left out."""
        return [
            r.command or ""
            for r in commands_of(self.emu, key(stream))
            if r.code != "TaskAlreadyStarted" and r.fault is None
        ]


Scenario = Callable[[Run], Awaitable[None]]


def run_daemon(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    windows: Callable[[datetime], Windows],
    scenario: Scenario,
    *,
    stop_at: float,
) -> Run:
    """Run the daemon in-process on a JumpLoop with a Host clock, against an emulator on real
    time, play `scenario`, stop at real second `stop_at`; return what happened."""

    async def main() -> Run:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, JumpLoop)
        host = Host(loop)
        monkeypatch.setattr(apscheduler.schedulers.base, "datetime", _shifted(host))
        ak = account(name)
        emu = Emulator(EmulatorConfig(accounts={ak: SECRET}, stop_delay=0.5), clock=ServerClock())
        await emu.start("127.0.0.1", 0)
        try:
            config = write_config(tmp_path, emu.url)
            host.started = time.monotonic()
            run = Run(host, emu, host.wall())
            write_schedule(tmp_path, "clock.yaml", schedule_text(windows(run.t0)))
            async with serving(config, credentials(ak), clock=host):
                await scenario(run)
                await host.until(stop_at)
            return run
        finally:
            await emu.close()

    with asyncio.Runner(loop_factory=JumpLoop) as runner:
        return runner.run(main())


def _shifted(host: Host) -> type[datetime]:
    class Shifted(datetime):
        """`datetime` for APScheduler's scheduler module: `now()` is the host's wall clock."""

        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            wall = host.wall()
            return wall.astimezone(tz) if tz is not None else wall.replace(tzinfo=None)

    return Shifted


def s(t0: datetime, a: float, b: float) -> list[tuple[datetime, datetime]]:
    return [(t0 + timedelta(seconds=a), t0 + timedelta(seconds=b))]


def jumps(leaks: LeakScan) -> list[float]:
    return [float(e["jump_s"]) for e in leaks.events if e["event"] == "clock_jump"]


def assert_never_started(run: Run, stream: str) -> None:
    """No start and no recording. A stop (and cancel_delay) may follow: when the jump lands
    while the window's start is still in hand, the overdue stop alarm finds its intent row, and
    a stop is never skipped on a guess (a harmless call, answered 200)."""
    assert "start" not in run.commands(stream), run.commands(stream)
    assert not run.emu.recordings(key(stream))


def near(value: float | None, expected: float, tolerance: float = 0.5) -> bool:
    return value is not None and abs(value - expected) <= tolerance


@pytest.mark.slow
@pytest.mark.timeout(30)
def test_wall_clock_steps_forward_then_back_lose_and_repeat_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, leaks: LeakScan
) -> None:
    # Daemon wall time D = real + offset: D = real until 2.0, real + 600 until 4.8, real after.
    def windows(t0: datetime) -> Windows:
        return {
            "before": s(t0, 0.5, 1.5),
            "across": s(t0, 0.5, STEP + 3.0),  # stopped at real 3.0, after the step
            "skipped": s(t0, 2.5, 3.5),  # the step puts it in the past: nothing to send
            "jumped_into": s(t0, STEP + 1.0, STEP + 3.8),  # open when the clock lands
            "straddle": s(t0, STEP + 3.4, STEP + 5.6),  # open when the clock goes back
            "after_back": s(t0, 5.9, 6.8),  # dropped as past while ahead, due again after
        }

    async def scenario(run: Run) -> None:
        await run.host.until(2.0)
        run.host.step_wall(+STEP)
        await run.host.until(4.8)
        run.host.step_wall(-STEP)

    run = run_daemon(tmp_path, monkeypatch, "Clock01", windows, scenario, stop_at=7.3)
    assert [round(j) for j in jumps(leaks)] == [STEP, -STEP]
    for stream in ("before", "across", "jumped_into", "after_back"):
        assert run.commands(stream) == ["start", "stop", "cancel_delay"], stream
        assert len(run.emu.recordings(key(stream))) == 1, stream
    assert_never_started(run, "skipped")
    assert run.commands("straddle") == ["start"]  # runs on until its end, by the new clock
    assert run.emu.state(key("straddle")) == "recording"
    assert near(run.when("before", "start"), 0.5) and near(run.when("before", "stop"), 1.5)
    assert near(run.when("across", "stop"), 3.0)
    assert 2.0 <= (run.when("jumped_into", "start") or 0) <= 3.0  # at once after the step
    assert near(run.when("jumped_into", "stop"), 3.8)
    assert near(run.when("straddle", "start"), 3.4)
    assert near(run.when("after_back", "start"), 5.9) and near(run.when("after_back", "stop"), 6.8)


@pytest.mark.slow
@pytest.mark.timeout(30)
def test_suspend_and_resume_is_handled_like_a_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, leaks: LeakScan
) -> None:
    # The host sleeps at real 1.8 for 600 s that both clocks count: D = real + 600 after.
    def windows(t0: datetime) -> Windows:
        return {
            "before": s(t0, 0.5, 1.5),
            "across": s(t0, 0.5, STEP + 3.0),  # stopped at real 3.0
            "slept_through": s(t0, 3.0, 4.0),  # began and ended while asleep: nothing
            "opened_in_sleep": s(t0, STEP + 1.0, STEP + 4.0),  # started on resume
            "after": s(t0, STEP + 3.8, STEP + 4.6),
        }

    async def scenario(run: Run) -> None:
        await run.host.until(1.8)
        run.host.suspend(STEP)

    run = run_daemon(tmp_path, monkeypatch, "Clock02", windows, scenario, stop_at=5.1)
    for stream in ("before", "across", "opened_in_sleep", "after"):
        assert run.commands(stream) == ["start", "stop", "cancel_delay"], stream
        assert len(run.emu.recordings(key(stream))) == 1, stream
    assert_never_started(run, "slept_through")
    assert 1.8 <= (run.when("opened_in_sleep", "start") or 0) <= 2.4  # at resume
    assert near(run.when("across", "stop"), 3.0)
    assert near(run.when("opened_in_sleep", "stop"), 4.0)
    assert near(run.when("after", "start"), 3.8) and near(run.when("after", "stop"), 4.6)


@pytest.mark.timeout(30)
def test_an_idle_daemon_notices_a_step_forward_within_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def windows(t0: datetime) -> Windows:
        return {"soon": s(t0, STEP + 2.0, STEP + 4.0)}  # nothing else: the daemon is idle

    async def scenario(run: Run) -> None:
        await run.host.until(0.5)
        run.host.step_wall(+STEP)  # "soon" now opens 1.5 s from here

    run = run_daemon(tmp_path, monkeypatch, "Clock03", windows, scenario, stop_at=2.8)
    assert near(run.when("soon", "start"), 2.0)

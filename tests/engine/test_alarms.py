"""The alarms: one timer on the injected clock rings each armed alarm once, in time order;
re-arming moves an alarm, periodic jobs follow their APScheduler trigger, nothing rings after
shutdown. Simulated time: no test here waits on the real clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from liverecd.clock import FakeClock
from liverecd.engine.alarms import Alarms

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def rig() -> AsyncIterator[tuple[Alarms, FakeClock, list[tuple[str, str, datetime]]]]:
    clock = FakeClock(T0)
    calls: list[tuple[str, str, datetime]] = []
    alarms = Alarms(lambda kind, wid: calls.append((kind, wid, clock.wall())), clock)
    task = asyncio.create_task(alarms.run())
    await asyncio.sleep(0)
    yield alarms, clock, calls
    alarms.shutdown()
    await asyncio.wait_for(task, 1)


async def settle(clock: FakeClock, seconds: float) -> None:
    """Advance simulated time in small steps, letting the loop run between them."""
    for _ in range(int(seconds * 10)):
        clock.advance(0.1)
        for _ in range(3):
            await asyncio.sleep(0)


async def test_alarms_ring_once_each_in_time_order(rig) -> None:  # type: ignore[no-untyped-def]
    alarms, clock, calls = rig
    assert alarms.set("stop", "w2", T0 + timedelta(seconds=5))
    assert alarms.set("start", "w1", T0 + timedelta(seconds=2))
    assert not alarms.set("start", "w3", T0 - timedelta(seconds=1))  # passed: caller acts
    await settle(clock, 6)
    assert [(k, w) for k, w, _ in calls] == [("start", "w1"), ("stop", "w2")]
    assert calls[0][2] >= T0 + timedelta(seconds=2)
    assert alarms.armed() == 0


async def test_rearming_moves_an_alarm_and_cancel_disarms_it(rig) -> None:  # type: ignore[no-untyped-def]
    alarms, clock, calls = rig
    alarms.set("stop", "w1", T0 + timedelta(seconds=1))
    alarms.set("stop", "w1", T0 + timedelta(seconds=3))  # a reload moved the end
    alarms.set("start", "w2", T0 + timedelta(seconds=2))
    alarms.cancel("start", "w2")
    await settle(clock, 4)
    assert [(k, w) for k, w, _ in calls] == [("stop", "w1")]
    assert calls[0][2] >= T0 + timedelta(seconds=3)


async def test_a_batch_reports_the_alarms_already_due_and_arms_the_rest(rig) -> None:  # type: ignore[no-untyped-def]
    alarms, clock, calls = rig
    batch = [("start", f"w{i}", T0 + timedelta(seconds=i - 2)) for i in range(6)]
    passed = alarms.set_many(batch)
    assert passed == [("start", "w0"), ("start", "w1"), ("start", "w2")]
    assert alarms.next_due() == (T0 + timedelta(seconds=1), "start", "w3")
    await settle(clock, 4)
    assert [w for _, w, _ in calls] == ["w3", "w4", "w5"]


async def test_a_periodic_job_follows_its_trigger_on_the_injected_clock(rig) -> None:  # type: ignore[no-untyped-def]
    alarms, clock, _ = rig
    ticks: list[datetime] = []
    trigger = IntervalTrigger(seconds=10, start_date=T0 + timedelta(seconds=10), timezone=UTC)
    alarms.every("horizon", trigger, lambda: ticks.append(clock.wall()))
    await settle(clock, 35)
    assert len(ticks) == 3
    assert all(t >= T0 + timedelta(seconds=10 * (i + 1)) for i, t in enumerate(ticks))


async def test_a_wall_clock_step_forward_rings_what_it_skipped(rig) -> None:  # type: ignore[no-untyped-def]
    alarms, clock, calls = rig
    alarms.set("start", "w1", T0 + timedelta(minutes=30))
    await settle(clock, 1)
    clock.step_wall(3600)  # NTP steps the wall clock; the monotonic clock does not move
    alarms.wakeup()
    for _ in range(3):
        await asyncio.sleep(0)
    assert [w for _, w, _ in calls] == ["w1"]


async def test_nothing_rings_after_shutdown(rig) -> None:  # type: ignore[no-untyped-def]
    alarms, clock, calls = rig
    alarms.set("start", "w1", T0 + timedelta(seconds=1))
    alarms.shutdown()
    alarms.wakeup()
    await settle(clock, 2)
    assert calls == []

"""The APScheduler glue: an alarm calls the engine's handler on the loop, once; nothing fires
once it is shut down."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from liverecd.clock import SystemClock
from liverecd.engine.scheduler import Alarms


async def test_an_alarm_calls_its_handler_with_kind_and_window() -> None:
    calls: list[tuple[str, str]] = []
    alarms = Alarms(lambda kind, wid: calls.append((kind, wid)), SystemClock())
    alarms.start()
    try:
        assert alarms.set("start", "w1", datetime.now(UTC) + timedelta(seconds=0.05))
        assert not alarms.set("stop", "w1", datetime.now(UTC) - timedelta(seconds=1))
        await asyncio.sleep(0.2)
        assert calls == [("start", "w1")]
        assert alarms.armed() == 0
    finally:
        alarms.shutdown()


async def test_after_shutdown_nothing_is_armed_and_a_wakeup_is_harmless() -> None:
    calls: list[tuple[str, str]] = []
    loop_errors: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))
    alarms = Alarms(lambda kind, wid: calls.append((kind, wid)), SystemClock())
    alarms.start()
    alarms.set("start", "w1", datetime.now(UTC) + timedelta(seconds=0.05))
    alarms.shutdown()
    alarms.wakeup()  # a clock jump noticed in the same turn
    assert alarms.set("stop", "w1", datetime.now(UTC) + timedelta(seconds=0.05))
    await asyncio.sleep(0.2)
    assert calls == []
    assert loop_errors == []  # APScheduler, once stopped, has no loop to set a timer on

"""The dispatcher's ordering, release and retry rules, on a FakeClock with a scripted sender."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta

from liverecd.api.result import Outcome
from liverecd.api.retry import RetryPolicy
from liverecd.engine.dispatch.dispatcher import CHAIN_HEADROOM
from liverecd.streams import Command

from .helpers import T0, Rig, code, key, ok, order, rig, timeout

START, STOP, CANCEL, RESTART = Command.START, Command.STOP, Command.CANCEL_DELAY, Command.RESTART
NOT_LIVE = code(409, "StreamNotFound")
BUSY = code(503, "ServiceUnavailable")


@asynccontextmanager
async def running(r: Rig) -> AsyncIterator[Rig]:
    task = asyncio.create_task(r.dispatcher.run())
    try:
        yield r
    finally:
        await r.dispatcher.drain(0.0)
        async with asyncio.timeout(5):
            await task


async def idle(r: Rig) -> None:
    async with asyncio.timeout(5):
        await asyncio.sleep(0)
        await r.dispatcher.wait_idle()


async def test_same_instant_sends_start_then_stop_then_cancel_delay() -> None:
    r = rig(qps=1)
    async with running(r):
        r.dispatcher.submit(order(CANCEL, "c", 10))
        r.dispatcher.submit(order(STOP, "b", 10))
        r.dispatcher.submit(order(START, "a", 10, early=False))
        await idle(r)
    assert r.sender.order_of() == [(START, "a"), (STOP, "b"), (CANCEL, "c")]


async def test_earlier_due_goes_first_whatever_its_class() -> None:
    r = rig(qps=1)
    async with running(r):
        r.dispatcher.submit(order(START, "a", 10.5, early=False))
        r.dispatcher.submit(order(STOP, "b", 10))
        await idle(r)
    assert r.sender.order_of() == [(STOP, "b"), (START, "a")]


async def test_stop_never_leaves_before_its_time() -> None:
    r = rig(max_lead=60)
    async with running(r):
        r.dispatcher.submit(order(STOP, "a", 30))
        await idle(r)
    assert r.sender.sent[0].at >= 1030.0


async def test_first_attempts_beat_retries_at_the_same_due_time() -> None:
    r = rig(qps=2)
    r.sender.scripts[key("a")] = [BUSY, BUSY, ok]
    async with running(r):
        r.dispatcher.submit(order(STOP, "a", 1))
        for i in range(4):
            r.dispatcher.submit(order(STOP, f"b{i}", 1))
        await idle(r)
    names = [s for _, s in r.sender.order_of()]
    assert names[0] == "a"
    assert names[1:5] == ["b0", "b1", "b2", "b3"]  # a's retries wait behind first attempts
    assert names.count("a") >= 2


async def test_wait_for_stream_retries_only_use_slots_nobody_needs() -> None:
    r = rig(qps=5)
    r.sender.scripts[key("late")] = [NOT_LIVE, NOT_LIVE, NOT_LIVE, ok]
    async with running(r):
        r.dispatcher.submit(order(START, "late", 1, deadline=100, early=False))
        for i in range(20):
            r.dispatcher.submit(order(STOP, f"s{i}", 1.0 + i * 0.1))
        await idle(r)
    names = [s for _, s in r.sender.order_of()]
    # The late stream's first attempt goes first (earliest due); its retries are due earlier
    # than most stops but still wait until no first attempt is ready.
    assert names[0] == "late"
    later = [i for i, n in enumerate(names) if n == "late"][1:]
    last_stop = max(i for i, n in enumerate(names) if n != "late")
    sent_at = {i: r.sender.sent[i].at for i in later}
    for i in later:
        ready_stops = [
            j
            for j, n in enumerate(names)
            if n != "late" and j > i and 1000 + 1.0 + int(n[1:]) * 0.1 <= sent_at[i]
        ]
        assert not ready_stops, "a waiting retry went ahead of a ready first attempt"
    assert last_stop < len(names)
    assert r.settled[0].reason == "succeeded" or any(s.succeeded for s in r.settled)


async def test_starts_leave_as_late_as_possible_and_all_land_by_their_instant() -> None:
    r = rig(qps=10, max_lead=60)
    n, due = 100, 100.0
    async with running(r):
        for i in range(n):
            r.dispatcher.submit(order(START, f"s{i:03}", due))
        await idle(r)
    spacing = r.limiter.interval * (1 + CHAIN_HEADROOM)  # the limiter's, plus headroom
    times = sorted(s.at for s in r.sender.sent)
    instant = 1000 + due
    assert len(times) == n
    assert max(times) <= instant + 1e-6
    ahead = 0.12  # aims to land by the instant: 2 x the (initially assumed) latency + 20 ms
    for i, t in enumerate(times):
        needed = instant - (n - 1 - i) * spacing
        assert needed - ahead - 1e-3 <= t <= needed + 1e-3


async def test_lead_is_capped_by_max_lead() -> None:
    r = rig(qps=10, max_lead=2)
    async with running(r):
        for i in range(50):
            r.dispatcher.submit(order(START, f"s{i:03}", 100))
        await idle(r)
    first = min(s.at for s in r.sender.sent)
    assert abs(first - (1100 - 2)) < 1e-6


async def test_without_lead_a_burst_drains_at_the_limiter_rate() -> None:
    r = rig(qps=10, max_lead=0)
    async with running(r):
        for i in range(30):
            r.dispatcher.submit(order(START, f"s{i:03}", 100))
        await idle(r)
    times = sorted(s.at for s in r.sender.sent)
    assert times[0] >= 1100
    assert abs((times[-1] - times[0]) - 29 * 1.01 / 10) < 1e-6


async def test_a_start_for_the_next_window_waits_for_the_previous_stop_and_cancel_delay() -> None:
    r = rig(max_lead=60)
    async with running(r):
        r.dispatcher.submit(order(STOP, "a", 30, window="w1"))
        r.dispatcher.submit(order(START, "a", 40, window="w2"))
        await idle(r)
        r.dispatcher.submit(order(START, "a", 80, window="w3"))
        r.dispatcher.submit(order(CANCEL, "a", 80, window="w1"))
        await idle(r)
    assert r.sender.order_of()[:2] == [(STOP, "a"), (START, "a")]
    assert r.sender.sent[1].at >= r.sender.sent[0].at


async def test_a_start_retrying_for_a_stream_is_dropped_when_its_window_closes() -> None:
    r = rig()
    r.sender.scripts[key("a")] = [NOT_LIVE]
    async with running(r):
        r.dispatcher.submit(order(START, "a", 1, deadline=20, early=False))
        await idle(r)
    assert r.settled[-1].reason == "window_closed"
    assert r.settled[-1].outcome is Outcome.WAIT_FOR_STREAM
    assert max(s.at for s in r.sender.sent) < 1020
    gaps = [b.at - a.at for a, b in zip(r.sender.sent, r.sender.sent[1:], strict=False)]
    assert max(gaps) <= 1.0 + 1e-6  # wait_for_stream_cap in the rig's policy


async def test_stop_is_retried_until_it_lands() -> None:
    r = rig()
    r.sender.scripts[key("a")] = [BUSY] * 9 + [code(200, "")]
    async with running(r):
        r.dispatcher.submit(order(STOP, "a", 1))
        await idle(r)
    assert len(r.sender.sent) == 10
    assert r.settled[-1].succeeded


async def test_restart_with_unknown_outcome_is_reasserted_with_start() -> None:
    r = rig()
    r.sender.scripts[key("a")] = [timeout, code(409, "TaskAlreadyStarted")]
    async with running(r):
        r.dispatcher.submit(order(RESTART, "a", 1, deadline=100))
        await idle(r)
    assert r.sender.order_of() == [(RESTART, "a"), (START, "a")]
    assert r.settled[-1].succeeded and r.settled[-1].command is START


async def test_fatal_answers_are_not_retried() -> None:
    r = rig()
    r.sender.scripts[key("a")] = [code(400, "CodeConfigNotFound")]
    async with running(r):
        r.dispatcher.submit(order(START, "a", 1, deadline=100))
        await idle(r)
    assert len(r.sender.sent) == 1
    assert r.settled[-1].reason == "fatal"


async def test_cancel_withdraws_a_queued_order_and_reports_it() -> None:
    r = rig()
    async with running(r):
        r.dispatcher.submit(order(START, "a", 50, window="w"))
        assert r.dispatcher.cancel("w") == 1
        await idle(r)
    assert r.sender.sent == []
    assert [s.reason for s in r.settled] == ["cancelled"]


async def test_duplicate_orders_are_refused() -> None:
    r = rig()
    assert r.dispatcher.submit(order(START, "a", 5, window="w"))
    assert not r.dispatcher.submit(order(START, "a", 5, window="w"))
    assert len(r.dispatcher) == 1


async def test_a_wall_clock_jump_is_detected_and_due_times_follow_the_wall() -> None:
    jumps: list[float] = []
    r = rig(jumps=jumps)
    r.clock.autojump = False

    async def advance(seconds: float) -> None:
        r.clock.advance(seconds)
        for _ in range(10):
            await asyncio.sleep(0)

    async with running(r):
        r.dispatcher.submit(order(STOP, "a", 100))
        await advance(0)
        r.clock.step_wall(20)  # NTP steps the wall clock 20 s ahead: the stop is due 20 s sooner
        await advance(30)  # the dispatcher's periodic clock check notices
        assert jumps and abs(jumps[0] - 20) < 1e-6
        assert r.sender.sent == []
        await advance(50)
        await idle(r)
    assert abs(r.sender.sent[0].at - 1080) < 1e-6


async def test_drain_gives_in_flight_attempts_their_grace_and_sends_nothing_new() -> None:
    r = rig(qps=1)
    async with running(r):
        r.dispatcher.submit(order(STOP, "a", 1))
        r.dispatcher.submit(order(STOP, "b", 1))
        await asyncio.sleep(0)
        r.clock.advance(1)
        for _ in range(5):
            await asyncio.sleep(0)
        await r.dispatcher.drain(5.0)
    assert [s for _, s in r.sender.order_of()] == ["a"]


async def test_a_start_waiting_for_its_stream_goes_at_once_when_the_stream_appears() -> None:
    r = rig(policy=RetryPolicy(base=8.0, wait_for_stream_cap=10.0))
    r.clock.autojump = False
    r.sender.scripts[key("a")] = [NOT_LIVE, ok]
    async with running(r):
        r.dispatcher.submit(order(START, "a", 0, window="w", deadline=100, early=False))
        for _ in range(10):
            await asyncio.sleep(0)
        assert len(r.sender.sent) == 1
        assert not r.dispatcher.expedite("other")
        assert r.dispatcher.expedite("w")  # the watch saw the stream come up
        r.clock.advance(0.1)  # one limiter slot later, not one backoff (up to 8 s) later
        for _ in range(10):
            await asyncio.sleep(0)
        assert len(r.sender.sent) == 2
        await idle(r)
    assert r.settled[-1].succeeded


async def test_a_moved_deadline_survives_a_wall_clock_jump() -> None:
    jumps: list[float] = []
    r = rig(jumps=jumps)
    r.sender.scripts[key("a")] = [NOT_LIVE]
    async with running(r):
        r.dispatcher.submit(order(START, "a", 1, window="w", deadline=20, early=False))
        r.dispatcher.update_deadline("w", T0 + timedelta(seconds=60))  # the window was extended
        r.clock.step_wall(5)
        await idle(r)
    assert jumps
    assert r.settled[-1].reason == "window_closed"
    last = max(s.at for s in r.sender.sent)
    assert 1040 < last <= 1055  # retried past the old end, until the new one (5 s sooner)


async def test_a_reassert_refused_for_good_still_owes_its_stop() -> None:
    # A reassert stands for a start a crashed run may have sent: its failing must not make
    # the daemon forget the recording (the caller keeps the row, so the stop stays owed).
    r = rig()
    r.sender.scripts[key("a")] = [code(400, "CodeConfigNotFound")]
    async with running(r):
        r.dispatcher.submit(replace(order(START, "a", 1, deadline=100), reassert=True))
        await idle(r)
    assert r.settled[-1].reason == "fatal"
    assert r.settled[-1].maybe_acted


async def test_a_definite_refusal_lets_the_limiter_climb_back_after_a_throttle() -> None:
    r = rig()
    r.sender.scripts[key("a")] = [code(400, "Throttling.User"), NOT_LIVE]
    async with running(r):
        r.dispatcher.submit(order(START, "a", 1, deadline=10, early=False))
        await idle(r)
    assert r.settled[-1].reason == "window_closed"
    assert r.limiter.rate > 50 * 0.7  # StreamNotFound got past flow control

"""A start whose stream is not live waits for the watch (parked) or retries on the backoff timer,
as `stream_wait` says. FakeClock and a scripted sender; the daemon-level cases are in
test_daemon_watch.py."""

from __future__ import annotations

import asyncio

import pytest

from liverecd.api.ratelimit import RateLimiter
from liverecd.clock import FakeClock
from liverecd.streams import Command, StreamKey

from .helpers import T0, code, key, ok, order, rig
from .test_dispatch import idle, running

START, STOP = Command.START, Command.STOP
NOT_LIVE = code(409, "StreamNotFound")
PARK = 300.0


def parked(_: StreamKey) -> float | None:
    return PARK


def timer(_: StreamKey) -> float | None:
    return None


async def spin() -> None:
    """Let the loop run everything that is ready (the clock does not move)."""
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.mark.parametrize(("stream_wait", "gap"), [(parked, PARK), (timer, None)])
async def test_a_start_not_live_waits_for_the_watch_only_while_stream_wait_says_so(
    stream_wait: object, gap: float | None
) -> None:
    r = rig(stream_wait=stream_wait)  # type: ignore[arg-type]
    r.sender.scripts[key("a")] = [NOT_LIVE, ok]
    async with running(r):
        r.dispatcher.submit(order(START, "a", 1, deadline=3600, early=False))
        await idle(r)
    first, second = r.sender.sent
    if gap is None:
        assert second.at - first.at <= 1.0 + 1e-6  # the rig's wait_for_stream_cap
    else:
        assert second.at - first.at == pytest.approx(gap)  # the safety net, nothing sooner
    assert r.settled[-1].succeeded


async def test_a_parked_start_goes_at_once_when_expedited() -> None:
    r = rig(stream_wait=parked)
    r.clock.autojump = False
    r.sender.scripts[key("a")] = [NOT_LIVE, ok]
    async with running(r):
        r.dispatcher.submit(order(START, "a", 0, window="w", deadline=3600, early=False))
        await spin()
        r.clock.advance(60)
        await spin()
        assert len(r.sender.sent) == 1  # a minute on, still waiting
        assert r.dispatcher.expedite("w")
        await spin()
        assert len(r.sender.sent) == 2
        await idle(r)
    assert r.settled[-1].succeeded


async def test_a_parked_start_leaves_at_its_window_end_and_does_not_hold_the_stop_back() -> None:
    r = rig(stream_wait=parked)
    r.sender.scripts[key("a")] = [NOT_LIVE, ok]
    async with running(r):
        r.dispatcher.submit(order(START, "a", 1, window="w", deadline=60, early=False))
        r.dispatcher.submit(order(STOP, "a", 60, window="w"))
        await idle(r)
    assert r.sender.order_of() == [(START, "a"), (STOP, "a")]
    assert r.sender.sent[1].at == pytest.approx(1060)
    assert [s.reason for s in r.settled] == ["window_closed", "succeeded"]


async def test_a_window_end_moved_earlier_wakes_its_parked_start_then() -> None:
    r = rig(stream_wait=parked)
    r.clock.autojump = False
    r.sender.scripts[key("a")] = [NOT_LIVE]
    async with running(r):
        r.dispatcher.submit(order(START, "a", 0, window="w", deadline=3600, early=False))
        await spin()
        r.dispatcher.update_deadline("w", T0.replace(second=30))
        r.clock.advance(30)
        await spin()
        await idle(r)
    assert len(r.sender.sent) == 1
    assert r.settled[-1].reason == "window_closed"


async def test_unpark_sends_parked_starts_back_to_the_backoff_timer() -> None:
    r = rig(stream_wait=parked)
    r.clock.autojump = False
    r.sender.scripts[key("a")] = [NOT_LIVE, ok]
    r.sender.scripts[key("b")] = [NOT_LIVE, ok]
    async with running(r):
        for name in ("a", "b"):
            r.dispatcher.submit(order(START, name, 0, deadline=3600, early=False))
        await spin()
        r.clock.advance(0.1)  # b's limiter slot
        await spin()
        assert len(r.sender.sent) == 2
        assert r.dispatcher.unpark() == 2  # the watch stopped seeing
        for _ in range(12):  # the rig's wait_for_stream_cap (1 s), and limiter slots
            r.clock.advance(0.1)
            await spin()
        assert len(r.sender.sent) == 4
        await idle(r)
    assert all(s.succeeded for s in r.settled)


def test_the_limiter_interval_is_its_send_spacing_with_the_margin() -> None:
    limiter = RateLimiter(50, FakeClock())
    assert limiter.interval == pytest.approx(1.01 / 50)
    limiter.on_throttled(None)
    assert limiter.interval == pytest.approx(1.01 / 35)

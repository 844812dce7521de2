"""The limiter never lets more than qps sends into any 1-second window, and uses the quota."""

from __future__ import annotations

import asyncio
import bisect

from hypothesis import given, settings
from hypothesis import strategies as st

from liverecd.api.ratelimit import RateLimiter, limiter_for
from liverecd.clock import FakeClock, SystemClock


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    """Most sends in any closed window [t, t + window] starting at a send time."""
    ordered = sorted(times)
    return max(bisect.bisect_right(ordered, t + window) - i for i, t in enumerate(ordered))


async def _acquire_n(limiter: RateLimiter, clock: FakeClock, n: int, tasks: int = 1) -> list[float]:
    times: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            await limiter.acquire()
            times.append(clock.monotonic())

    per_task = n // tasks
    async with asyncio.timeout(30):
        await asyncio.gather(*(worker(per_task) for _ in range(tasks)))
    return times


async def test_ten_thousand_acquisitions_never_exceed_qps_in_any_second() -> None:
    clock = FakeClock(autojump=True)
    limiter = RateLimiter(50, clock)
    times = await _acquire_n(limiter, clock, 10_000, tasks=20)
    assert len(times) == 10_000
    assert max_in_any_window(times) <= 50
    achieved = (len(times) - 1) / (max(times) - min(times))
    assert achieved >= 0.98 * 50


async def test_late_wakeups_do_not_add_up() -> None:
    clock = FakeClock()
    limiter = RateLimiter(50, clock)
    times = []
    for _ in range(1000):
        clock.advance(max(0.0, limiter.next_slot() - clock.monotonic()) + 0.004)  # 4 ms late
        limiter.take()
        times.append(clock.monotonic())
    assert max_in_any_window(times) <= 50
    assert (len(times) - 1) / (times[-1] - times[0]) >= 0.98 * 50


async def test_idle_limiter_does_not_burst() -> None:
    clock = FakeClock(autojump=True)
    limiter = RateLimiter(50, clock)
    clock.advance(3600)  # a long idle hour must not bank credit
    times = await _acquire_n(limiter, clock, 200)
    assert max_in_any_window(times) <= 50
    assert max_in_any_window(times, window=0.1) <= 6


@settings(max_examples=25, deadline=None)
@given(qps=st.integers(min_value=1, max_value=300))
def test_any_integer_qps_is_respected_and_nearly_used(qps: int) -> None:
    async def scenario() -> list[float]:
        clock = FakeClock(autojump=True)
        return await _acquire_n(RateLimiter(qps, clock), clock, 3 * qps + 1, tasks=1)

    times = asyncio.run(scenario())
    assert max_in_any_window(times) <= qps
    achieved = (len(times) - 1) / (max(times) - min(times))
    assert achieved >= 0.98 * qps


@settings(max_examples=25, deadline=None)
@given(qps=st.floats(min_value=0.2, max_value=120.0))
def test_fractional_qps_never_exceeds_its_floor_in_any_second(qps: float) -> None:
    async def scenario() -> list[float]:
        clock = FakeClock(autojump=True)
        return await _acquire_n(RateLimiter(qps, clock), clock, 60, tasks=3)

    times = asyncio.run(scenario())
    assert max_in_any_window(times) <= max(1, int(qps))


async def test_next_slot_and_take_let_a_dispatcher_choose_whom_to_send() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, clock)
    assert limiter.next_slot() <= clock.monotonic()
    limiter.take()
    assert limiter.next_slot() > clock.monotonic()
    clock.advance(limiter.next_slot() - clock.monotonic())
    assert limiter.next_slot() <= clock.monotonic()


async def test_throttling_cuts_the_rate_once_per_window_and_success_recovers_it() -> None:
    clock = FakeClock()
    limiter = RateLimiter(50, clock)
    limiter.on_throttled(None)
    assert limiter.rate == 50 * 0.7
    limiter.on_throttled(None)  # same overload, reported by another in-flight answer
    assert limiter.rate == 50 * 0.7
    clock.advance(0.5)
    limiter.on_success()
    assert 35 <= limiter.rate < 50
    clock.advance(10)
    limiter.on_success()
    assert limiter.rate == 50


async def test_repeated_throttling_never_goes_below_one_per_second() -> None:
    clock = FakeClock()
    limiter = RateLimiter(50, clock)
    for _ in range(50):
        limiter.on_throttled(None)
        clock.advance(1.0)
    assert limiter.rate == 1.0


async def test_after_a_storm_the_rate_climbs_back_to_where_it_was_not_from_the_floor() -> None:
    clock = FakeClock()
    limiter = RateLimiter(50, clock)
    for _ in range(10):  # ten seconds in which nothing gets through
        limiter.on_throttled(None)
        clock.advance(1.0)
    assert limiter.rate < 2  # probing slowly while it lasts
    limiter.on_success()
    assert limiter.rate >= 35  # the curve of a single cut from 50
    clock.advance(3.5)
    limiter.on_success()
    assert limiter.rate == 50


async def test_throttling_between_successes_lowers_the_level_it_recovers_to() -> None:
    # Another tool shares the account: calls get through between the cuts.
    clock = FakeClock()
    limiter = RateLimiter(50, clock)
    limiter.on_throttled(None)
    clock.advance(0.5)
    limiter.on_success()
    reached = limiter.rate
    clock.advance(0.6)
    limiter.on_throttled(None)
    limiter.on_success()
    assert limiter.rate < reached < 50
    assert limiter.rate < 35  # the storm case above would be back at 35 or more


async def test_throttled_rate_spaces_sends_wider() -> None:
    clock = FakeClock(autojump=True)
    limiter = RateLimiter(50, clock)
    limiter.on_throttled(None)
    times = await _acquire_n(limiter, clock, 36)
    assert max_in_any_window(times) <= 35


async def test_retry_after_pauses_every_send() -> None:
    clock = FakeClock(autojump=True)
    limiter = RateLimiter(50, clock)
    await limiter.acquire()
    limiter.on_throttled(2.5)
    start = clock.monotonic()
    waited = await limiter.acquire()
    assert clock.monotonic() - start >= 2.5
    assert waited >= 2.5


async def test_one_limiter_per_access_key_and_clock() -> None:
    clock = FakeClock()
    a = limiter_for("AK-registry-test", 50, clock)
    assert limiter_for("AK-registry-test", 50, clock) is a
    assert limiter_for("AK-other-key", 50, clock) is not a
    assert limiter_for("AK-registry-test", 20, clock) is a
    assert a.qps == 20
    assert limiter_for("AK-registry-test", 50, FakeClock()) is not a


def test_every_system_clock_user_shares_one_limiter_per_key() -> None:
    a = limiter_for("AK-system-clock", 50, SystemClock())
    assert limiter_for("AK-system-clock", 50, SystemClock()) is a


def test_limiter_serves_successive_event_loops() -> None:
    clock = FakeClock(autojump=True)
    limiter = RateLimiter(5, clock)

    async def burst() -> None:
        await asyncio.gather(*(limiter.acquire() for _ in range(6)))

    asyncio.run(burst())
    asyncio.run(burst())  # a Lock bound to the first loop would fail here
    assert limiter.next_slot() > clock.monotonic()


async def test_a_late_send_keeps_the_full_margin_to_the_send_qps_places_after_it() -> None:
    # Every other 50th send goes out 15 ms late (a busy loop), the rest on time: the send
    # 50 places later must still be 1 + margin seconds after it, not just over one second, or
    # 10 ms of jitter on the way puts 51 arrivals in one second at the server.
    clock = FakeClock()
    limiter = RateLimiter(50, clock)
    times = []
    for i in range(200):
        late = 0.015 if i % 100 == 50 else 0.0
        clock.advance(max(0.0, limiter.next_slot() - clock.monotonic()) + late)
        limiter.take()
        times.append(clock.monotonic())
    gaps = [b - a for a, b in zip(times, times[50:], strict=False)]
    assert min(gaps) >= 1.01 - 1e-9
    jittered = [t + (0.0099 if i % 100 == 50 else 0.0) for i, t in enumerate(times)]
    assert max_in_any_window(jittered) <= 50

"""Per-AccessKeyId flow control over a sliding 1-second window (400 Throttling.User), the online
list's own per-minute limit, and the arrival statistics."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from conftest import EmulatorFactory
from liverecd.clock import FakeClock
from liverecd.emulator.throttle import ArrivalPeak, SlidingWindow
from liverecd.streams import StreamKey

from .rawcall import call, command

_times = st.lists(st.integers(min_value=0, max_value=5000), max_size=200).map(
    lambda ms: sorted(m / 1000 for m in ms)
)


def _most_in_a_second(times: list[float]) -> int:
    return max((sum(1 for u in times if t <= u < t + 1.0) for t in times), default=0)


@given(_times, st.integers(min_value=1, max_value=10))
def test_sliding_window_never_admits_more_than_its_limit_in_any_second(
    times: list[float], limit: int
) -> None:
    window = SlidingWindow(limit, 1.0)
    admitted = [t for t in times if window.admit(t)]
    assert _most_in_a_second(admitted) <= limit
    # ... and it refuses only when the window really is full.
    for t in set(times) - set(admitted):
        assert sum(1 for a in admitted if t - 1.0 < a <= t) >= limit


@given(_times)
def test_arrival_peak_is_the_busiest_second(times: list[float]) -> None:
    peak = ArrivalPeak()
    for t in times:
        peak.add(t)
    assert peak.peak == _most_in_a_second(times)


def _key(i: int) -> StreamKey:
    return StreamKey("play.example.com", "live", f"s{i}")


async def test_calls_over_qps_in_one_second_are_throttled_and_not_counted(
    emulator_factory: EmulatorFactory,
) -> None:
    clock = FakeClock()
    emu = await emulator_factory(clock=clock, qps=5)
    async with asyncio.timeout(10):
        first = [await command(emu, "start", _key(i)) for i in range(7)]
        clock.advance(0.5)
        mid = await command(emu, "start", _key(7))
        clock.advance(0.5)  # the first five leave the window; refused calls never entered it
        later = [await command(emu, "start", _key(i)) for i in range(8, 13)]
    assert [r.status for r in first] == [200] * 5 + [400] * 2
    assert first[5].code == first[6].code == mid.code == "Throttling.User"
    assert first[5].body["Message"] == "Request was denied due to user flow control."
    assert [r.status for r in later] == [200] * 5
    assert emu.max_in_any_second() == 8
    assert [r.throttled for r in emu.requests[:8]] == [False] * 5 + [True] * 3
    assert emu.state(_key(5)) == "idle"  # a throttled start did nothing


async def test_each_access_key_has_its_own_window(emulator_factory: EmulatorFactory) -> None:
    emu = await emulator_factory(clock=FakeClock(), qps=2, accounts={"A": "a", "B": "b"})
    async with asyncio.timeout(10):
        a = [await command(emu, "start", _key(i), ak="A", secret="a") for i in range(3)]
        b = [await command(emu, "start", _key(10 + i), ak="B", secret="b") for i in range(2)]
    assert [r.status for r in a] == [200, 200, 400]
    assert [r.status for r in b] == [200, 200]
    assert (emu.max_in_any_second("A"), emu.max_in_any_second("B")) == (3, 2)
    assert emu.max_in_any_second() == 5


async def test_online_list_has_its_own_per_minute_limit(
    emulator_factory: EmulatorFactory,
) -> None:
    clock = FakeClock()
    emu = await emulator_factory(clock=clock, qps=1, online_list_per_minute=3)
    params = {"DomainName": "play.example.com"}
    action = "DescribeLiveStreamsOnlineList"
    async with asyncio.timeout(10):
        assert (await command(emu, "start")).status == 200
        lists = [await call(emu, params, action=action) for _ in range(4)]
        clock.advance(59)
        still = await call(emu, params, action=action)
        clock.advance(1)
        again = await call(emu, params, action=action)
    assert [r.status for r in lists] == [200, 200, 200, 400]
    assert (still.code, again.status) == ("Throttling.User", 200)
    assert emu.max_in_any_second() == 1
    assert emu.max_in_any_second(action=action) == 4


async def test_throttle_storm_refuses_every_call_for_its_duration(
    emulator_factory: EmulatorFactory,
) -> None:
    clock = FakeClock()
    emu = await emulator_factory(clock=clock)
    emu.throttle_storm(seconds=10.0)
    async with asyncio.timeout(10):
        during = [await command(emu, "start", _key(i)) for i in range(3)]
        clock.advance(10)
        after = await command(emu, "start")
    assert {(r.status, r.code) for r in during} == {(400, "Throttling.User")}
    assert [r.fault for r in emu.requests[:3]] == ["throttle_storm"] * 3
    assert after.status == 200
    assert emu.state(_key(0)) == "idle"

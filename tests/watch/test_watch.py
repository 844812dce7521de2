"""The online-list watch against the emulator over HTTP on loopback (time from a FakeClock)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from structlog.testing import capture_logs

from liverecd.emulator import StreamState
from liverecd.engine.online.lister import Lister
from liverecd.engine.online.sessions import OpenWindow
from liverecd.streams import StreamKey

from .conftest import ONLINE_LIST, RigFactory, key, until

CAM = key("cam")


def ours(logs: Sequence[Mapping[str, Any]], level: str | None = None) -> list[str]:
    """Event names logged by liverecd itself (not the emulator), optionally at one level."""
    return [
        str(e["event"])
        for e in logs
        if not str(e["event"]).startswith("emulator_") and level in (None, e["log_level"])
    ]


async def test_stream_that_drops_and_returns_is_started_once_per_return(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig()
    rig.emu.set_online(CAM, True)
    rig.open(CAM)
    await rig.poll()
    assert len(rig.asked) == 1 and rig.emu.state(CAM) is StreamState.RECORDING
    await rig.poll()
    assert len(rig.asked) == 1  # armed: nothing more

    rig.clock.advance(3)
    rig.emu.set_online(CAM, False)
    await rig.poll()
    rig.clock.advance(20)
    rig.emu.set_online(CAM, True)
    await rig.poll()
    await rig.poll()

    assert len(rig.asked) == 2
    first, second = rig.asked[0][2], rig.asked[1][2]
    assert first is not None and second is not None and second > first
    assert [r.started_by for r in rig.emu.recordings(CAM)] == ["start", "start"]
    assert rig.changes() == [
        ("stream_dropped", "cam"),
        ("stream_returned", "cam"),
        ("stream_rearmed", "cam"),
    ]
    rearmed = rig.events[-1]
    assert rearmed.lost_seconds is not None and 20 <= rearmed.lost_seconds < 21


async def test_a_return_between_two_polls_is_caught_by_its_new_publish_time(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig()
    rig.emu.set_online(CAM, True)
    rig.open(CAM)
    await rig.poll()
    rig.clock.advance(4)
    rig.emu.set_online(CAM, False)
    rig.clock.advance(3)
    rig.emu.set_online(CAM, True)
    await rig.poll()
    assert len(rig.asked) == 2
    assert rig.events[0].missed_drop and rig.events[0].stream == CAM
    assert rig.emu.state(CAM) is StreamState.RECORDING


async def test_stream_coming_online_late_in_its_window_is_started_then(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig()
    rig.open(CAM)
    await rig.poll()
    assert rig.asked == [] and rig.watch.is_online(CAM) is False
    rig.clock.advance(30)
    rig.emu.set_online(CAM, True)
    await rig.poll()
    assert len(rig.asked) == 1 and rig.watch.is_online(CAM) is True
    assert rig.changes() == [("stream_came_online", "cam")]
    assert rig.emu.state(CAM) is StreamState.RECORDING


async def test_a_start_made_at_window_open_is_not_repeated_by_the_watch(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig()
    rig.emu.set_online(CAM, True)
    rig.clock.advance(60)
    rig.open(CAM)
    await rig.start(CAM, rig.windows[CAM].window_id)  # the daemon's own start at the open
    await rig.poll()
    await rig.poll()
    assert rig.asked == []
    assert len(rig.starts) == 1


async def test_listing_follows_total_page_with_one_call_per_page(make_rig: RigFactory) -> None:
    rig = await make_rig(page_size=3)
    names = [key(f"s{i}") for i in range(7)]
    for k in names:
        rig.emu.set_online(k, True)
    rig.open(*names)
    await rig.poll()
    assert rig.list_calls() == 3  # pages of 3, 3 and 1
    assert sorted(k for k, _, _ in rig.asked) == names
    await rig.poll()
    assert rig.list_calls() == 6 and len(rig.asked) == 7


async def test_one_call_per_domain_with_open_windows(make_rig: RigFactory) -> None:
    rig = await make_rig()
    streams = [key("a", "one.example.com"), key("b", "two.example.com")]
    for k in streams:
        rig.emu.set_online(k, True)
    rig.open(*streams)
    rig.emu.set_online(key("c", "three.example.com"), True)  # no window there: not listed
    await rig.poll()
    assert rig.list_calls() == 2
    assert sorted(k for k, _, _ in rig.asked) == streams


async def test_failed_listing_is_unhealthy_logged_once_and_invents_no_drop(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig()
    rig.emu.set_online(CAM, True)
    rig.open(CAM)
    await rig.poll()
    health = [rig.watch.healthy]
    rig.emu.respond_with("ServiceUnavailable", 503, action=ONLINE_LIST)
    with capture_logs() as logs:
        assert await rig.poll() is False
    health.append(rig.watch.healthy)
    assert rig.watch.is_online(CAM) is None
    failures = [e for e in logs if e["event"] == "online_list_failed"]
    assert len(failures) == 1 and failures[0]["code"] == "ServiceUnavailable"
    assert rig.events == []  # the stream is not reported dropped
    with capture_logs() as logs:
        assert await rig.poll() is True
    health.append(rig.watch.healthy)
    assert health == [True, False, True] and rig.watch.is_online(CAM) is True
    assert ours(logs, "info") == ["online_list_recovered"]
    assert len(rig.asked) == 1


async def test_throttled_listing_slows_the_online_list_limiter(make_rig: RigFactory) -> None:
    rig = await make_rig()
    rig.open(CAM)
    before = rig.limiter.rate
    rig.emu.respond_with("Throttling.User", 400, action=ONLINE_LIST)
    assert await rig.poll() is False
    assert rig.limiter.rate < before


async def test_healthy_polls_log_nothing_at_info(make_rig: RigFactory) -> None:
    rig = await make_rig()
    rig.emu.set_online(CAM, True)
    rig.open(CAM)
    rig.auto_start = False
    await rig.poll()
    with capture_logs() as logs:
        await rig.poll()
        await rig.poll()
    assert set(ours(logs)) == {"online_list_polled"}  # at debug level
    assert {e["log_level"] for e in logs if e["event"] == "online_list_polled"} == {"debug"}


async def test_no_open_window_means_no_api_call(make_rig: RigFactory) -> None:
    rig = await make_rig()
    rig.emu.set_online(CAM, True)
    assert await rig.poll() is True
    assert rig.list_calls() == 0 and rig.watch.calls == 0 and rig.asked == []


async def test_run_polls_every_interval_and_idles_without_windows(make_rig: RigFactory) -> None:
    rig = await make_rig(autojump=False, interval=10.0)
    rig.emu.set_online(CAM, True)
    rig.open(CAM)
    task = asyncio.create_task(rig.watch.run())
    try:
        await until(lambda: rig.list_calls() == 1)
        rig.clock.advance(9.9)
        await asyncio.sleep(0.05)
        assert rig.list_calls() == 1  # not before the interval
        rig.clock.advance(0.1)
        await until(lambda: rig.list_calls() == 2)
        rig.windows.clear()
        for _ in range(3):
            rig.clock.advance(10)
            await asyncio.sleep(0.05)
        assert rig.list_calls() == 2  # idle: no window, no call
        rig.open(CAM, window_id="w2")
        rig.clock.advance(10)
        await until(lambda: rig.list_calls() == 3)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_interval_zero_disables_the_watch(make_rig: RigFactory) -> None:
    rig = await make_rig(interval=0.0)
    rig.open(CAM)
    async with asyncio.timeout(5):
        await rig.watch.run()
    assert not rig.watch.enabled and not rig.watch.healthy
    assert rig.watch.is_online(CAM) is None and rig.list_calls() == 0


async def test_closed_window_is_forgotten_and_the_next_window_asks_again(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig()
    rig.emu.set_online(CAM, True)
    rig.open(CAM)
    await rig.poll()
    rig.windows.clear()
    await rig.poll()
    assert rig.watch.is_online(CAM) is None
    rig.auto_start = False
    rig.open(CAM, window_id="w2")
    await rig.poll()
    assert [w for _, w, _ in rig.asked] == [f"w1:{CAM}", f"w2:{CAM}"]


async def test_failed_start_is_asked_again_once_reported(make_rig: RigFactory) -> None:
    rig = await make_rig()
    rig.emu.set_online(CAM, True)
    rig.open(CAM)
    rig.emu.respond_with("InternalError", 500, times=1)
    await rig.poll()
    await rig.poll()
    assert len(rig.asked) == 1  # asked once; the daemon owns the retries
    rig.watch.note_start_failed(CAM)
    await rig.poll()
    assert len(rig.asked) == 2 and rig.emu.state(CAM) is StreamState.RECORDING


async def test_a_failing_callback_is_logged_and_polling_goes_on(make_rig: RigFactory) -> None:
    rig = await make_rig()
    a, b = key("a"), key("b")
    for k in (a, b):
        rig.emu.set_online(k, True)
    rig.open(a, b)

    def explode(*_: object) -> None:
        raise RuntimeError("daemon bug")

    rig.watch._on_online = explode
    with capture_logs() as logs:
        assert await rig.poll() is True
    assert sum(e["event"] == "online_callback_failed" for e in logs) == 2


async def test_strict_listing_of_one_stream_ignores_names_it_is_a_prefix_of(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig()
    cam1, cam10 = key("cam1"), key("cam10")
    rig.emu.set_online(cam10, True)
    lister = Lister(rig.client, rig.limiter)
    async with asyncio.timeout(5):
        assert await lister.stream(cam1) == {}
        rig.emu.set_online(cam1, True)
        listed = await lister.stream(cam1)
    assert isinstance(listed, dict) and list(listed) == [cam1] and listed[cam1] is not None


async def test_publish_is_confirmed_by_the_list_before_anything_starts(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig()
    rig.open(CAM)
    with capture_logs() as logs:
        async with asyncio.timeout(5):
            await rig.watch.publish(CAM)  # not live: a forged or stale publish
    assert rig.asked == [] and "ingest_publish_not_listed" in ours(logs)
    rig.emu.set_online(CAM, True)
    async with asyncio.timeout(5):
        await rig.watch.publish(CAM)
        await rig.watch.publish(CAM)  # a duplicate delivery asks nothing more
    assert len(rig.asked) == 1 and rig.emu.state(CAM) is StreamState.RECORDING


async def test_publish_is_trusted_when_the_list_cannot_confirm_it(make_rig: RigFactory) -> None:
    rig = await make_rig()
    rig.emu.set_online(CAM, True)
    rig.open(CAM)
    await rig.poll()
    rig.clock.advance(5)
    rig.emu.set_online(CAM, False)
    rig.clock.advance(5)
    rig.emu.set_online(CAM, True)
    rig.emu.respond_with("ServiceUnavailable", 503, action=ONLINE_LIST)
    async with asyncio.timeout(5):
        await rig.watch.publish(CAM)
    assert len(rig.asked) == 2 and rig.asked[1][2] is None  # PublishTime unknown yet
    await rig.poll()  # fills the PublishTime in: the same session, nothing more to ask
    assert len(rig.asked) == 2 and rig.emu.state(CAM) is StreamState.RECORDING


async def test_publish_for_a_stream_without_an_open_window_costs_no_call(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig()
    rig.emu.set_online(CAM, True)
    async with asyncio.timeout(5):
        await rig.watch.publish(CAM)
    rig.watch.publish_done(CAM)
    assert rig.list_calls() == 0 and rig.asked == [] and rig.events == []


async def test_a_crashing_poll_is_logged_unhealthy_and_the_loop_goes_on(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig(autojump=False)
    rig.emu.set_online(CAM, True)
    rig.open(CAM)
    calls = 0

    def windows() -> dict[StreamKey, OpenWindow]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("provider bug")
        return rig.windows

    rig.watch._windows = windows
    with capture_logs() as logs:
        task = asyncio.create_task(rig.watch.run())
        try:
            await until(lambda: calls == 1)
            assert not rig.watch.healthy
            rig.clock.advance(10)
            await until(lambda: len(rig.asked) == 1)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert "online_watch_poll_crashed" in ours(logs) and rig.watch.healthy

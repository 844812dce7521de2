"""A start for an offline stream waits for the online watch, not a timer (issue 5), against the
emulator over HTTP on loopback: one start, then none until the watch sees the stream; while the
online list fails, the capped-backoff retries; a fatal answer to a re-arm start is not asked
again every poll; and drops, re-arms, list calls and the watch's health reach the metrics. The
daemon and the emulator share a FakeClock the test steps."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager as AsyncContextManager

from prometheus_client.parser import text_string_to_metric_families

from liverecd.emulator import Emulator
from liverecd.engine.daemon import Daemon
from liverecd.ops.metrics import Metrics
from liverecd.streams import StreamKey

from .conftest import APP, DOMAIN, Workspace, play, running_daemon, schedule_text, seconds

ONLINE_LIST = "DescribeLiveStreamsOnlineList"


def observed_daemon(ws: Workspace, metrics: Metrics | None = None) -> AsyncContextManager[Daemon]:
    """`service.serve()` in-process with `metrics` as its observer, ready on entry."""
    return running_daemon(ws, watch_files=False, observer=metrics)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    """One sample of a render, through prometheus-client's own text parser."""
    text = metrics.render().decode()
    found = [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and s.labels == labels
    ]
    assert len(found) == 1, f"{name}{labels}: {len(found)} samples"
    return found[0]


def starts(emu: Emulator, key: StreamKey) -> list[str]:
    """The answers to the daemon's starts of `key`, in order ("ok" for a success)."""
    return [r.code or "ok" for r in emu.requests if r.stream == key and r.command == "start"]


async def test_a_start_for_an_offline_stream_waits_for_the_watch_not_a_timer(
    fake_workspace: Workspace,
) -> None:
    workspace, clock = fake_workspace, fake_workspace.fake
    workspace.write_config(watch="200ms")  # and wait_for_stream_cap 300ms
    t = clock.wall()
    key = StreamKey(DOMAIN, APP, "late")
    emu = workspace.emulator
    emu.set_online(key, False)
    workspace.write_schedule(
        "main.yaml", schedule_text({"late": [(t + seconds(1), t + seconds(5))]})
    )
    async with observed_daemon(workspace) as daemon:
        # The ingest endpoint caches its domain map per schedule load on this identity.
        assert daemon.schedule_streams() is daemon.schedule_streams()
        await play(clock, t + seconds(2.5))
        waiting = starts(emu, key)  # 1.5 s offline: ~5 retries on the 300 ms timer
        emu.set_online(key, True)
        await play(clock, t + seconds(3.3))
    assert waiting == ["StreamNotFound"]
    assert starts(emu, key) == ["StreamNotFound", "ok"]  # the watch saw it come online
    assert [r.started_by for r in emu.recordings(key)] == ["start"]


async def test_while_the_online_list_fails_a_waiting_start_retries_on_the_timer(
    fake_workspace: Workspace,
) -> None:
    workspace, clock = fake_workspace, fake_workspace.fake
    workspace.write_config(watch="200ms")
    t = clock.wall()
    key = StreamKey(DOMAIN, APP, "late")
    emu = workspace.emulator
    emu.set_online(key, False)
    workspace.write_schedule(
        "main.yaml", schedule_text({"late": [(t + seconds(1), t + seconds(7))]})
    )
    metrics = Metrics()
    async with observed_daemon(workspace, metrics):
        await play(clock, t + seconds(2))
        parked = starts(emu, key)
        emu.respond_with("ServiceUnavailable", 503, times=10_000, action=ONLINE_LIST)
        await play(clock, t + seconds(3.5))
        failing = starts(emu, key)
        health_failing = sample(metrics, "liverecd_watch_healthy")
        emu.clear_faults()
        emu.set_online(key, True)
        await play(clock, t + seconds(4.5))
    assert parked == ["StreamNotFound"]
    assert len(failing) >= 3 and set(failing) == {"StreamNotFound"}  # back on the 300 ms cap
    assert starts(emu, key)[-1] == "ok" and len(emu.recordings(key)) == 1
    assert health_failing == 0 and sample(metrics, "liverecd_watch_healthy") == 1
    assert sample(metrics, "liverecd_online_list_calls_total", result="failed") >= 1
    assert sample(metrics, "liverecd_online_list_calls_total", result="ok") >= 1


async def test_a_fatal_answer_to_a_rearm_start_is_not_asked_again_every_poll(
    fake_workspace: Workspace,
) -> None:
    workspace, clock = fake_workspace, fake_workspace.fake
    workspace.write_config(watch="200ms")
    t = clock.wall()
    key = StreamKey(DOMAIN, APP, "cam")
    workspace.write_schedule(
        "main.yaml", schedule_text({"cam": [(t + seconds(1), t + seconds(8))]})
    )
    emu = workspace.emulator
    async with observed_daemon(workspace):
        await play(clock, t + seconds(2))
        emu.respond_with("CodeConfigNotFound", 400, times=100, command="start")
        emu.set_online(key, False)
        await play(clock, clock.wall() + seconds(0.6))
        emu.set_online(key, True)
        await play(clock, t + seconds(4))  # about 7 polls with the stream online, not armed
    assert starts(emu, key) == ["ok", "CodeConfigNotFound"]


async def test_drops_and_rearms_reach_the_metrics_with_the_recording_they_cost(
    fake_workspace: Workspace,
) -> None:
    workspace, clock = fake_workspace, fake_workspace.fake
    workspace.write_config(watch="200ms")
    t = clock.wall()
    key = StreamKey(DOMAIN, APP, "cam")
    workspace.write_schedule(
        "main.yaml", schedule_text({"cam": [(t + seconds(1), t + seconds(8))]})
    )
    emu = workspace.emulator
    metrics = Metrics()
    async with observed_daemon(workspace, metrics):
        await play(clock, t + seconds(2))
        emu.set_online(key, False)
        await play(clock, clock.wall() + seconds(1.0))
        emu.set_online(key, True)
        await play(clock, t + seconds(3.6))
    assert sample(metrics, "liverecd_stream_drops_total") == 1
    assert sample(metrics, "liverecd_stream_rearms_total") == 1
    assert sample(metrics, "liverecd_drop_lost_seconds_count") == 1
    lost = sample(metrics, "liverecd_drop_lost_seconds_sum")
    assert 0.8 <= lost <= 3.0  # away for a second, noticed and re-armed within a poll or two
    assert sample(metrics, "liverecd_drop_lost_seconds_bucket", le="5.0") == 1
    assert sample(metrics, "liverecd_watch_healthy") == 1

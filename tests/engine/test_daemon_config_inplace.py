"""What a main-config reload changes in place in the running daemon (DESIGN.md §12): `max_lead`
(the next burst's starts leave earlier, or no longer early), `watch.interval` (the online list
is polled at the new rate, counted in the emulator's request log; 0 stops it) and `verify`
(a shorter grace verifies the next window sooner and min_coverage judges it; qps reaches the
index limiter)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from structlog.testing import capture_logs

from liverecd.api import ratelimit
from liverecd.api.record_index import ACTION_INDEX
from liverecd.emulator import Emulator
from liverecd.engine.store.sqlite import SqliteStateStore
from liverecd.verify.coverage import Result
from liverecd.verify.rows import Verification

from .conftest import TEST_AK, Workspace, now, running_daemon, schedule_text, seconds
from .test_daemon_config_reload import edit

BURST = 20  # starts at one instant, at 10 calls/s: two seconds of sending


def start_times(emu: Emulator) -> list[datetime]:
    """When the emulator received each accepted start."""
    return [r.wall for r in emu.requests if r.command == "start" and r.code is None]


def online_lists(emu: Emulator, since: datetime, until: datetime) -> int:
    return sum(
        r.action == "DescribeLiveStreamsOnlineList" and since <= r.wall < until
        for r in emu.requests
    )


async def verified(ws: Workspace) -> Verification | None:
    """The one window's verification once it is no longer pending (read as `report` does)."""
    store = SqliteStateStore(ws.root / "state", readonly=True)
    try:
        rows = await store.verifications(now() - seconds(3600), now())
    finally:
        await store.close()
    return next((r for r in rows if r.result is not Result.PENDING), None)


async def burst_after_reload(ws: Workspace, before: str, after: str) -> list[float]:
    """A burst opening 6 s after start-up, with `max_lead` changed from `before` to `after`
    first: how many seconds before the burst's instant each start was received."""
    ws.write_config(qps=10, max_lead=before)
    at = now() + seconds(6)
    ws.write_schedule(
        "s.yaml", schedule_text({f"s{i:02d}": [(at, at + seconds(30))] for i in range(BURST)})
    )
    async with running_daemon(ws) as daemon:
        edit(ws.config_path, (f"max_lead: {before}", f"max_lead: {after}"))
        async with asyncio.timeout(5):
            await daemon.wait_reloads(1)
        assert daemon.config.max_lead == seconds(float(after.removesuffix("s")))
        await asyncio.sleep((at - now()).total_seconds() + 3.5)
    got = start_times(ws.emulator)
    assert len(got) == BURST
    return sorted((at - t).total_seconds() for t in got)


@pytest.mark.slow
async def test_a_longer_max_lead_reloaded_in_place_sends_the_next_burst_early(
    workspace: Workspace,
) -> None:
    # At 0 s no start may leave before its instant; the alarms armed for it move with the
    # reload, so the burst is sent ahead and lands by its instant.
    ahead = await burst_after_reload(workspace, "0s", "60s")
    assert sum(a > 0.5 for a in ahead) >= BURST // 2, ahead
    assert min(ahead) > -1.0, ahead  # and the last lands about on time


@pytest.mark.slow
async def test_a_shorter_max_lead_reloaded_in_place_holds_back_queued_starts(
    workspace: Workspace,
) -> None:
    # At 60 s the starts are queued at start-up already (their alarms rang); the reload
    # re-plans them, so none leaves early any more.
    ahead = await burst_after_reload(workspace, "60s", "0s")
    assert max(ahead) < 0.05, ahead


@pytest.mark.slow
async def test_watch_interval_reloaded_in_place_polls_at_the_new_rate_and_zero_stops_it(
    workspace: Workspace,
) -> None:
    emu = workspace.emulator
    at = now() + seconds(0.5)
    workspace.write_schedule("s.yaml", schedule_text({"news": [(at, at + seconds(60))]}))
    cfg = workspace.config_path
    with capture_logs() as logs:
        async with running_daemon(workspace) as daemon:  # watch.interval: 0s
            await asyncio.sleep(1.5)
            t0 = now()
            edit(cfg, ("interval: 0s", "interval: 200ms"))
            async with asyncio.timeout(5):
                await daemon.wait_reloads(1)
            t1 = now()
            await asyncio.sleep(2.0)
            t2 = now()
            edit(cfg, ("interval: 200ms", "interval: 1s"))
            async with asyncio.timeout(5):
                await daemon.wait_reloads(2)
            t3 = now()
            await asyncio.sleep(3.0)
            t4 = now()
            edit(cfg, ("interval: 1s", "interval: 0s"))
            async with asyncio.timeout(5):
                await daemon.wait_reloads(3)
            t5 = now()
            await asyncio.sleep(2.0)
            t6 = now()
    assert online_lists(emu, at, t0) == 0  # off at start-up
    assert 6 <= online_lists(emu, t1, t2) <= 13  # 2 s at 200 ms: 10
    assert 2 <= online_lists(emu, t3, t4) <= 4  # 3 s at 1 s: 3
    assert online_lists(emu, t5, t6) == 0  # off again
    applied = [e["keys"] for e in logs if e["event"] == "config_reloaded"]
    assert applied == [["watch.interval"]] * 3
    assert not [e for e in logs if e["event"] == "config_restart_needed"]


@pytest.mark.slow
async def test_verify_grace_min_coverage_and_qps_reloaded_in_place_reach_the_verifier(
    workspace: Workspace,
) -> None:
    # The default grace (60 s) would leave the window unverified for a minute after its end.
    t = now()
    t = t.replace(microsecond=t.microsecond // 1000 * 1000)  # schedules carry milliseconds
    a, b = t + seconds(2.5), t + seconds(5.5)
    workspace.write_schedule("s.yaml", schedule_text({"news": [(a, b)]}))
    workspace.write_config(extra="verify:\n  grace: 60s\n  qps: 15\n  min_coverage: 0.999\n")
    async with running_daemon(workspace) as daemon:
        index = ratelimit._REGISTRY[(TEST_AK, ACTION_INDEX, None)]
        assert index.qps == 15
        edit(
            workspace.config_path,
            ("grace: 60s", "grace: 300ms"), ("qps: 15", "qps: 5"), ("0.999", "0.5"),
        )  # fmt: skip
        async with asyncio.timeout(5):
            await daemon.wait_reloads(1)
        assert daemon.config.verify.grace == seconds(0.3) and index.qps == 5
        async with asyncio.timeout((b - now()).total_seconds() + 8):
            while (row := await verified(workspace)) is None:  # noqa: ASYNC110 - a file to poll
                await asyncio.sleep(0.2)
    # a short window is never fully covered (the emulator's recording starts a moment after
    # the start): OK only at the reloaded min_coverage
    assert row.result is Result.OK and 0.5 <= (row.coverage or 0) < 0.999, row


async def test_missing_file_grace_reloaded_in_place_keeps_a_vanished_files_windows_longer(
    workspace: Workspace,
) -> None:
    at = now() + seconds(600)
    workspace.write_config(extra="missing_file_grace: 1s\n")
    path = workspace.write_schedule("s.yaml", schedule_text({"news": [(at, at + seconds(60))]}))
    workspace.write_schedule("t.yaml", schedule_text({"talk": [(at, at + seconds(60))]}))
    with capture_logs() as logs:
        async with running_daemon(workspace) as daemon:
            edit(workspace.config_path, ("missing_file_grace: 1s", "missing_file_grace: 1h"))
            async with asyncio.timeout(5):
                await daemon.wait_reloads(1)
            path.unlink()  # a deploy that takes its time: the windows stay for the new grace
            async with asyncio.timeout(5):
                await daemon.wait_reloads(2)
            await asyncio.sleep(2.5)  # well past the old 1 s grace
            assert len(daemon.engine.windows) == 2
    applied = [e["keys"] for e in logs if e["event"] == "config_reloaded"]
    assert applied == [["missing_file_grace"]]

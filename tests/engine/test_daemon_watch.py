"""A stream that drops and comes back while its window is open is started again (the watch
polling the online list), and the window still ends with its stop."""

from __future__ import annotations

import asyncio

from liverecd.streams import StreamKey

from .conftest import APP, DOMAIN, Workspace, now, running_daemon, schedule_text, seconds


async def test_a_stream_that_drops_and_returns_is_recorded_again(workspace: Workspace) -> None:
    workspace.write_config(watch="200ms")
    t = now()
    key = StreamKey(DOMAIN, APP, "cam")
    workspace.write_schedule(
        "main.yaml", schedule_text({"cam": [(t + seconds(1), t + seconds(5))]})
    )
    emu = workspace.emulator
    async with running_daemon(workspace):
        await asyncio.sleep((t + seconds(2) - now()).total_seconds())
        emu.set_online(key, False)  # the encoder drops: the manual recording ends with it
        await asyncio.sleep(0.6)
        emu.set_online(key, True)
        await asyncio.sleep((t + seconds(5.8) - now()).total_seconds())
    sent = [r.command for r in emu.requests if r.stream == key and r.command]
    assert sent == ["start", "start", "stop", "cancel_delay"]
    intervals = emu.recordings(key)
    assert [iv.started_by for iv in intervals] == ["start", "start"]
    assert intervals[0].ended_by == "stream_drop"
    assert intervals[1].start >= intervals[0].end  # started again after the return
    assert intervals[1].end is not None and intervals[1].end <= t + seconds(5 + 2)

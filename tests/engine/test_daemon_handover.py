"""Windows that hand over: a `split: true` boundary opens with `restart` (one file per window);
with `finalize: delayed`, a window opening inside the previous stop's delay opens with
`restart` too (start would be answered TaskAlreadyStarted while nothing records)."""

from __future__ import annotations

from liverecd.streams import StreamKey

from .conftest import APP, DOMAIN, Workspace, play, running_daemon, schedule_text, seconds


async def test_split_boundaries_and_delayed_stops_open_with_restart(
    fake_workspace: Workspace,
) -> None:
    workspace, clock = fake_workspace, fake_workspace.fake
    t = clock.wall()
    split, delayed = StreamKey(DOMAIN, APP, "split"), StreamKey(DOMAIN, APP, "delayed")
    workspace.write_schedule(
        "split.yaml",
        schedule_text(
            {"split": [(t + seconds(1), t + seconds(2.5)), (t + seconds(2.5), t + seconds(4))]},
            extra="split: true\n",
        ),
    )
    workspace.write_schedule(
        "delayed.yaml",
        schedule_text(
            {"delayed": [(t + seconds(1), t + seconds(2)), (t + seconds(3), t + seconds(4))]},
            extra="finalize: delayed\ndelay: 15s\n",
        ),
    )
    emu = workspace.emulator
    emu.set_stop_delay(delayed, 15.0)
    async with running_daemon(workspace):
        await play(clock, t + seconds(4.6))

    def sent(key: StreamKey) -> list[str | None]:
        return [r.command for r in emu.requests if r.stream == key and r.command]

    assert sent(split) == ["start", "restart", "stop", "cancel_delay"]
    assert sent(delayed) == ["start", "stop", "restart", "stop"]
    assert [iv.started_by for iv in emu.recordings(split)] == ["start", "restart"]
    assert len({iv.file for iv in emu.recordings(split)}) == 2  # one file per window
    assert [iv.started_by for iv in emu.recordings(delayed)] == ["start", "restart"]

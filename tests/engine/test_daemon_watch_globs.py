"""The file watch: it follows the main config (after `schedules` is changed in place, DESIGN
§12, an edit of a file under the new glob reloads within seconds, §5, like one under the old),
and a watch that cannot run is an error in the log, not a silence."""

from __future__ import annotations

import errno

import pytest
from structlog.testing import capture_logs

from liverecd.engine import watchfs
from liverecd.streams import StreamKey

from .conftest import (
    APP,
    DOMAIN,
    Workspace,
    play,
    play_until,
    running_daemon,
    schedule_text,
    seconds,
)

FOLDER = "  - schedules/*.yaml\n"


async def test_a_schedule_glob_added_in_place_is_watched_for_edits(
    fake_workspace: Workspace,
) -> None:
    workspace, clock = fake_workspace, fake_workspace.fake
    t = clock.wall()
    workspace.write_schedule("s.yaml", schedule_text({"a": [(t + seconds(60), t + seconds(90))]}))
    extra = workspace.root / "extra"
    extra.mkdir()
    emu, key = workspace.emulator, StreamKey(DOMAIN, APP, "c")
    emu.set_online(key, True)
    async with running_daemon(workspace) as daemon:
        text = workspace.config_path.read_text()
        workspace.config_path.write_text(text.replace(FOLDER, FOLDER + "  - extra/*.yaml\n"))
        await play_until(clock, lambda: daemon.reloads >= 1, within=10)
        assert "extra/*.yaml" in daemon.config.schedules
        (extra / "c.yaml").write_text(schedule_text({"c": [(t, t + seconds(120))]}))
        await play_until(clock, lambda: daemon.reloads >= 2, within=10)
        await play(clock, clock.wall() + seconds(2))
    assert [r.command for r in emu.requests if r.stream == key] == ["start"]


async def test_a_file_watch_that_cannot_start_says_so(
    fake_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The host's inotify instances are used up (fs.inotify.max_user_instances): edits will not
    # reload until SIGHUP, and the operator must be told, not left guessing.
    def exhausted(self: object) -> None:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(watchfs._Inotify, "__init__", exhausted)
    workspace = fake_workspace
    workspace.write_schedule("s.yaml", schedule_text({}))
    with capture_logs() as logs:
        async with running_daemon(workspace):
            await play(workspace.fake, workspace.fake.wall() + seconds(1))
    failed = [e for e in logs if e["event"] == "watch_files_failed"]
    assert failed and failed[0]["log_level"] == "error"
    assert "Too many open files" in failed[0]["error"]

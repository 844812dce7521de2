"""`fire` and the daemon decide a `restart` whose outcome is unknown the same way (issue 11):
both hand the answer to the one verdict (`engine.dispatch.answers.decide`), which re-sends it as a
`start` (TaskAlreadyStarted makes that harmless when the restart did go through; DESIGN.md §5:
a restart is never blindly repeated). Each side meets the same emulator fault, a hang after
effect (the restart ran, its answer is lost) or a connection reset, and each leaves the same
follow-up command in the emulator's log."""

from __future__ import annotations

import asyncio
import itertools
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from liverecd.api.credentials import Credentials, Secret
from liverecd.emulator import Emulator, FaultPlan
from liverecd.ops import service
from liverecd.schedule.config import load_config
from liverecd.streams import StreamKey

from .conftest import AK, SECRET, fire, write_fire_config

DOMAIN, APP = "play.example.com", "live"
FIRED, SPLIT = StreamKey(DOMAIN, APP, "fired"), StreamKey(DOMAIN, APP, "split")
FAULTS = {
    "hang_after_effect": FaultPlan(
        hang=1.0, hang_seconds=1.0, hang_after_effect=True, commands=frozenset({"restart"})
    ),
    "reset": FaultPlan(reset=1.0, commands=frozenset({"restart"})),
}


def follow_up(emu: Emulator, key: StreamKey) -> list[tuple[str | None, str | None, str | None]]:
    """(command, fault, answered code) of what `key` was sent after its restart, up to the next
    command a timetable would send (its stop)."""
    sent = [(r.command, r.fault, r.code) for r in emu.requests if r.stream == key]
    restart = [c for c, _, _ in sent].index("restart")
    after = sent[restart + 1 :]
    stops = [i for i, (c, _, _) in enumerate(after) if c == "stop"]
    return after[: stops[0]] if stops else after


def daemon_config(emu: Emulator, folder: Path) -> Path:
    (folder / "schedules").mkdir()
    text = f"""\
        api:
          endpoint: {emu.url}
          timeout: 300ms
          retry:
            base: 1ms
            cap: 10ms
            max_attempts: 3
        schedules:
          - schedules/*.yaml
        state_dir: state
        max_lead: 0s
        log:
          format: json
        status:
          listen: off
        watch:
          interval: 0s
          callback_listen: off
        """
    path = folder / "liverecd.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def split_schedule(at: datetime) -> str:
    """Two touching windows of SPLIT with `split: true`: a restart at `at`."""

    def iso(when: datetime) -> str:
        return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    edges = [at - timedelta(seconds=1), at, at + timedelta(seconds=1.5)]
    windows = "".join(
        f"      - start: {iso(a)}\n        end: {iso(b)}\n" for a, b in itertools.pairwise(edges)
    )
    head = f"domain: {DOMAIN}\napp: {APP}\nsplit: true\nstreams:\n"
    return f"{head}  - name: {SPLIT.stream}\n    windows:\n{windows}"


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_fire_and_the_daemon_follow_an_unknown_restart_with_the_same_start(
    emu: Emulator, tmp_path: Path, fire_env: None, capsys: pytest.CaptureFixture[str], fault: str
) -> None:
    emu.inject(FAULTS[fault])

    # The daemon, at a split boundary (a restart between two touching windows).
    config = daemon_config(emu, tmp_path)
    boundary = datetime.now(UTC) + timedelta(seconds=1.5)
    (tmp_path / "schedules" / "split.yaml").write_text(split_schedule(boundary))
    creds = Credentials(AK, Secret(SECRET))
    async with service.running(load_config(config), creds, watch_files=False):
        await asyncio.sleep((boundary - datetime.now(UTC)).total_seconds() + 1.2)

    # `fire restart` by hand, on a stream that records.
    (tmp_path / "fire").mkdir()
    fired = str(write_fire_config(emu, tmp_path / "fire", timeout="300ms"))
    assert await fire("start", str(FIRED), "-c", fired) == 0
    assert await fire("restart", str(FIRED), "-c", fired) == 0
    out = capsys.readouterr().out
    assert "restart play.example.com/live/fired: idempotent_ok" in out
    assert "re-sent as start" in out

    daemon_sent, fire_sent = follow_up(emu, SPLIT), follow_up(emu, FIRED)
    assert daemon_sent == fire_sent == [("start", None, "TaskAlreadyStarted")]
    for key in (SPLIT, FIRED):
        restarts = [r for r in emu.requests if r.stream == key and r.command == "restart"]
        assert [r.fault for r in restarts] == [fault.split("_")[0]]  # never repeated

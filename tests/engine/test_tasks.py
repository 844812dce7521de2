"""One TaskSet owns the service's tasks: essential loops end the service when they fail, side
work is logged and the service goes on, a scope cancels only its owner's tasks; and the daemon's
companions are wired when it is built (they hear settled commands with their window)."""

from __future__ import annotations

import asyncio
import gc
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from conftest import EmulatorFactory
from liverecd.clock import FakeClock
from liverecd.engine.daemon import Daemon
from liverecd.engine.dispatch.orders import Settled
from liverecd.engine.tasks import TaskSet
from liverecd.ops import service
from liverecd.schedule.config import load_config

from .conftest import CREDENTIALS, Workspace, running_daemon, schedule_text


async def _boom() -> None:
    await asyncio.sleep(0)
    raise RuntimeError("boom")


async def test_a_failing_side_task_is_logged_and_its_siblings_go_on() -> None:
    sibling = asyncio.Event()

    async def later() -> None:
        for _ in range(3):  # still running after the side task has failed
            await asyncio.sleep(0)
        sibling.set()

    with capture_logs() as logs:
        async with TaskSet() as tasks:
            tasks.spawn(_boom(), "side")
            tasks.spawn(later(), "sibling")
    assert sibling.is_set()
    assert [e["task"] for e in logs if e["event"] == "task_failed"] == ["side"]


async def test_a_failing_essential_loop_cancels_the_set_and_raises() -> None:
    forever = asyncio.Event()
    with pytest.raises(ExceptionGroup) as caught:
        async with TaskSet() as tasks:
            waiter = tasks.start(forever.wait(), "waiter")  # type: ignore[arg-type]
            tasks.start(_boom(), "essential")
            await forever.wait()  # cancelled by the failure, never set
    assert caught.group_contains(RuntimeError, match="boom")
    assert waiter.cancelled()


async def test_a_scope_cancels_its_own_tasks_but_those_it_keeps_and_then_refuses_new_ones() -> None:
    async with TaskSet() as tasks:
        mine, other = tasks.scope(), tasks.scope()
        go = asyncio.Event()  # set once the scope is closed: kept and theirs then finish
        doomed = mine.start(asyncio.Event().wait(), "doomed")  # type: ignore[arg-type]
        kept = mine.start(go.wait(), "kept")  # type: ignore[arg-type]
        theirs = other.start(go.wait(), "theirs")  # type: ignore[arg-type]
        await mine.close(kept)
        assert doomed.cancelled() and not kept.done() and not theirs.done()
        go.set()

        async def never() -> None:
            pytest.fail("a closed scope ran new work")

        assert mine.spawn(never(), "late") is None
    assert kept.done() and theirs.done() and not theirs.cancelled()


class Listener:
    """A companion that hears settled commands, as the page and verification do."""

    def __init__(self) -> None:
        self.heard: list[Settled] = []

    async def start(self, daemon: Daemon) -> None:
        pass

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def close(self) -> None:
        pass

    def settled(self, settled: Settled) -> None:
        self.heard.append(settled)


async def window_with(
    tmp_path: Path, emulator_factory: EmulatorFactory, extensions: list[Listener]
) -> dict[str, object]:
    """One two-minute window played through the service with `extensions`, on fake time; the
    daemon's window counts at the end."""
    t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    clock = FakeClock(t0)
    workspace = Workspace(tmp_path, await emulator_factory(clock=clock))
    workspace.write_config(timeout="30s")  # fake seconds: see write_config
    workspace.write_schedule(
        "s.yaml", schedule_text({"news": [(t0 + timedelta(minutes=1), t0 + timedelta(minutes=3))]})
    )
    config = load_config(workspace.config_path)
    async with service.running(
        config, CREDENTIALS, clock=clock, watch_files=False, extensions=extensions
    ) as daemon:
        async with asyncio.timeout(30):
            while clock.wall() < t0 + timedelta(minutes=5):
                clock.advance(5)
                await asyncio.sleep(0.01)
        windows: dict[str, object] = daemon.snapshot()["windows"]  # type: ignore[assignment]
    return windows


async def test_a_companion_given_to_the_service_hears_every_settled_command_with_its_window(
    tmp_path: Path, emulator_factory: EmulatorFactory
) -> None:
    listener = Listener()
    before = asyncio.all_tasks()
    await window_with(tmp_path, emulator_factory, [listener])
    heard = [(s.command.value, s.reason, s.window is not None) for s in listener.heard]
    assert heard == [
        ("start", "succeeded", True), ("stop", "succeeded", True),
        ("cancel_delay", "succeeded", True),
    ]  # fmt: skip
    assert {s.window.window_id for s in listener.heard if s.window} == {
        listener.heard[0].order.window_id
    }
    assert asyncio.all_tasks() - before == set()  # the companion's run() ended with the service


class Faulty(Listener):
    """A companion whose settle listener has a bug."""

    def settled(self, settled: Settled) -> None:
        super().settled(settled)
        raise RuntimeError("a companion's bug")


async def test_a_listener_that_raises_is_logged_and_the_others_and_the_engine_still_hear(
    tmp_path: Path, emulator_factory: EmulatorFactory
) -> None:
    # The engine told its listeners in a loop, before its own bookkeeping: one that raised kept
    # the later ones (verification, the page) from hearing, and the status from being updated.
    faulty, listener = Faulty(), Listener()
    with capture_logs() as logs:
        windows = await window_with(tmp_path, emulator_factory, [faulty, listener])
    commands = ["start", "stop", "cancel_delay"]
    assert [s.command.value for s in faulty.heard] == commands
    assert [s.command.value for s in listener.heard] == commands
    assert windows["recording"] == 0, windows
    failed = [e for e in logs if e["event"] == "listener_failed"]
    assert len(failed) == 3 and failed[0]["log_level"] == "error", failed


async def test_side_work_spawned_as_the_daemon_stops_is_closed_not_left_unawaited(
    fake_workspace: Workspace,
) -> None:
    # A task cancelled before its first step never ran the wrapper that awaits its coroutine:
    # `liverecd run` printed "coroutine 'Daemon._publish_soon' was never awaited" on a SIGTERM
    # that came right after a status change.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with running_daemon(fake_workspace) as daemon:
            daemon.request_stop()
            daemon.engine.set_max_lead(timedelta(seconds=30))  # spawns work as the daemon stops
        gc.collect()
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []

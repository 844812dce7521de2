"""Faults an adversarial run reproduced in the engine, each through the in-process daemon against
the emulator over real HTTP: early starts the watch forgot (and sent again), a state write that
failed once and was never written, health that said nothing was wrong."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import Iterable

import pytest

from liverecd.engine.state import RecordingState, SqliteStateStore
from liverecd.errors import StateError
from liverecd.ops.metrics import Metrics

from .conftest import Workspace, now, running_daemon, schedule_text, seconds


def starts_by_stream(ws: Workspace) -> Counter[str]:
    return Counter(
        r.stream.stream
        for r in ws.emulator.requests
        if r.command == "start" and r.stream is not None and r.code != "Throttling.User"
    )


async def test_starts_sent_early_under_max_lead_are_not_sent_again_by_the_watch(
    workspace: Workspace,
) -> None:
    # 30 starts at one instant at 10 calls/s: most leave early (max_lead), before their window
    # opens. The watch polls every 0.5 s meanwhile; it used to forget an early start at its
    # next poll and send a second one when the window opened.
    workspace.write_config(qps=10, max_lead="60s", watch="500ms")
    at = now() + seconds(4.5)
    names = [f"early{i:02d}" for i in range(30)]
    workspace.write_schedule(
        "s.yaml", schedule_text({n: [(at, at + seconds(30))] for n in names})
    )
    async with running_daemon(workspace):
        await asyncio.sleep((at - now()).total_seconds() + 2.5)  # open, then polls after it
    starts = starts_by_stream(workspace)
    assert set(starts) == set(names)
    assert max(starts.values()) == 1, {n: c for n, c in starts.items() if c > 1}


async def test_a_state_write_that_fails_is_retried_and_health_says_so_meanwhile(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = [True]
    write = SqliteStateStore.apply

    def flaky_apply(
        self: SqliteStateStore, put: Iterable[RecordingState] = (), delete: Iterable[str] = ()
    ) -> None:
        if failing[0]:
            raise StateError("state store: write: database or disk is full")
        write(self, put, delete)

    at = now() + seconds(1.5)
    workspace.write_schedule("s.yaml", schedule_text({"news": [(at, at + seconds(60))]}))
    metrics = Metrics()
    async with running_daemon(workspace, observer=metrics) as daemon:
        monkeypatch.setattr(SqliteStateStore, "apply", flaky_apply)
        await asyncio.sleep((at - now()).total_seconds() + 1.0)
        assert starts_by_stream(workspace)["news"] == 0  # no start without its durable intent
        body = daemon.snapshot()
        assert body["state_error"] and any("state writes failing" in p for p in body["problems"])
        failing[0] = False  # the disk has room again
        await asyncio.sleep(4.0)  # the book's backoff is at most 5 s; 0.5+1+2 s so far
        assert starts_by_stream(workspace)["news"] == 1
        body = daemon.snapshot()
        assert body["state_error"] is None and body["problems"] == []
    db = sqlite3.connect(workspace.root / "state" / "state.sqlite3")
    rows = db.execute("SELECT window_id, phase FROM recordings").fetchall()
    db.close()
    assert [phase for _, phase in rows] == ["recording"]

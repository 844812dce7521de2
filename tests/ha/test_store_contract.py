"""The state-store contract (engine/store/interface.py), run against both implementations: the
embedded SQLite store and the PostgreSQL store of one term (against a real server, as the rest of
tests/ha, whose fixtures start it). Rows round trip, reads go by stream and by time range,
verification rows and file callbacks are kept, a reader without a fencing token reads the same
rows, the next writer resumes the pending checks, and under PostgreSQL a superseded epoch cannot
write anything."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from liverecd.api.record_index import IndexFile
from liverecd.engine.lifecycle import Phase, RecordingState
from liverecd.engine.store.interface import StateStore
from liverecd.engine.store.sqlite import SqliteStateStore
from liverecd.errors import FencedError
from liverecd.ha.store import Database, TermStore
from liverecd.schedule.model import Finalize
from liverecd.streams import Command, StreamKey
from liverecd.verify.coverage import Gap, Result
from liverecd.verify.rows import Verification

from .conftest import db_config

T = datetime(2026, 12, 18, 12, 0, tzinfo=UTC)
NEWS = StreamKey("play.example.com", "live", "news")
SPORT = StreamKey("play.example.com", "live", "sport")


def minutes(m: float) -> timedelta:
    return timedelta(minutes=m)


def rec(wid: str, stream: StreamKey = NEWS, a: float = 0, b: float = 60,
        phase: Phase = Phase.RECORDING) -> RecordingState:  # fmt: skip
    return RecordingState(
        window_id=wid, stream=stream, start=T + minutes(a), end=T + minutes(b),
        finalize=Finalize.DELAYED, delay=timedelta(seconds=180), phase=phase,
        last_command=Command.START, updated_at=T + timedelta(microseconds=123456),
        started_at=T + timedelta(seconds=1),
    )  # fmt: skip


def pending(wid: str, end_min: int, due_min: int | None = None) -> Verification:
    due = T + minutes(end_min + 1 if due_min is None else due_min)
    return Verification(window_id=wid, stream=NEWS, start=T, end=T + minutes(end_min),
                        due=due, first_due=due)  # fmt: skip


def file(uri: str, a: int, b: int) -> IndexFile:
    return IndexFile(uri=uri, start=T + minutes(a), end=T + minutes(b), duration=(b - a) * 60.0)


@dataclass
class Rig:
    """A store under test, and what the contract asks of its surroundings."""

    store: StateStore
    reader: StateStore  # how `liverecd report` reads: read-only, no token
    successor: Callable[[], Awaitable[StateStore]]  # the next writer (a restart, a takeover)
    fenced: bool
    closing: list[StateStore] = field(default_factory=list)


async def _holder(db: Database, name: str) -> int:
    """Make `name` the lease holder (a takeover bumps the epoch); its epoch."""
    (epoch,) = (await db.fetch(
        "INSERT INTO liverecd_lease VALUES (%s, %s, 1, clock_timestamp() + interval '1 hour')"
        " ON CONFLICT (cluster) DO UPDATE SET holder = EXCLUDED.holder,"
        " epoch = liverecd_lease.epoch + 1 RETURNING epoch", (db.cluster, name),
    ))[0]  # fmt: skip
    return int(epoch)


@pytest.fixture(params=["sqlite", "postgres"])
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    if request.param == "sqlite":
        store = SqliteStateStore(tmp_path)
        await store.load()  # creates the file the reader opens

        async def restart() -> StateStore:
            await store.close()
            return SqliteStateStore(tmp_path)

        r = Rig(store, SqliteStateStore(tmp_path, readonly=True), restart, fenced=False)
        yield r
        for s in (store, r.reader, *r.closing):
            await s.close()
        return
    db = Database(db_config(request.getfixturevalue("pg_url")))
    await db.open()
    epoch = await _holder(db, "a")

    async def takeover() -> StateStore:
        return TermStore(db, "b", await _holder(db, "b"))

    try:
        yield Rig(TermStore(db, "a", epoch), TermStore(db, "report", None), takeover, fenced=True)
    finally:
        await db.close()


async def test_recording_rows_round_trip_upsert_and_delete_in_one_write(rig: Rig) -> None:
    s = rig.store
    await s.apply(put=[rec("w1"), rec("w2", phase=Phase.OPENING)])
    await s.apply(put=[rec("w2", phase=Phase.FINALIZING), rec("w3")], delete=["w1"])
    await s.apply()  # nothing to write: no transaction, no error
    assert await s.load() == [rec("w2", phase=Phase.FINALIZING), rec("w3")]
    assert await rig.reader.load() == await s.load()


async def test_rows_are_read_by_stream_and_by_overlapping_time_range(rig: Rig) -> None:
    rows = [rec("n1", NEWS, 0, 30), rec("n2", NEWS, 30, 60), rec("s1", SPORT, 10, 20),
            rec("s2", SPORT, 59.5, 120)]  # fmt: skip
    await rig.store.apply(put=rows)
    assert await rig.store.rows_of(NEWS) == rows[:2]
    assert await rig.store.rows_of(StreamKey("play.example.com", "live", "newsroom")) == []

    async def between(a: float, b: float) -> list[str]:
        got = await rig.store.rows_between(T + minutes(a), T + minutes(b))
        return [r.window_id for r in got]

    assert await between(15, 35) == ["n1", "n2", "s1"]
    assert await between(30, 59) == ["n2"]  # n1 ends at 30: [start, end) does not overlap
    assert await between(60, 61) == ["s2"]  # n2 ends at 60; s2 started half a minute before
    assert await between(-10, 0) == []  # ends where the first window starts
    assert await between(121, 200) == []


async def test_verification_rows_and_files_round_trip_and_resume_with_the_next_writer(
    rig: Rig,
) -> None:
    s = rig.store
    done = Verification(
        window_id="w2", stream=NEWS, start=T, end=T + minutes(30), result=Result.GAP,
        coverage=0.5, gaps=(Gap(T, T + minutes(15), "missed"),), files=(file("f2", 15, 30),),
        due=T + minutes(31), first_due=T + minutes(31), attempts=2, error=None,
    )  # fmt: skip
    await s.put_verification(pending("w1", 60, due_min=90), done, pending("w3", 45, due_min=50))
    assert await s.verification("w2") == done
    assert await s.verification("nope") is None
    ended = await s.verifications(T, T + minutes(45))
    assert [v.window_id for v in ended] == ["w2", "w3"]  # by end, both ends inclusive
    assert [v.window_id for v in await s.pending()] == ["w3", "w1"]  # soonest due first
    assert await s.put_file(NEWS, file("f1", 0, 20))
    assert not await s.put_file(NEWS, file("f1", 0, 20))  # stored once by uri
    assert await s.put_file(SPORT, file("g1", 0, 20))
    assert await s.files(NEWS, T, T + minutes(10)) == [file("f1", 0, 20)]
    assert await s.files(NEWS, T + minutes(20), T + minutes(30)) == []  # [start, end)
    assert await rig.reader.verifications(T, T + minutes(45)) == ended
    nxt = await rig.successor()
    rig.closing.append(nxt)
    assert [v.window_id for v in await nxt.pending()] == ["w3", "w1"]
    assert await nxt.files(SPORT, T, T + minutes(5)) == [file("g1", 0, 20)]


async def test_a_superseded_fencing_token_cannot_write(rig: Rig) -> None:
    old = rig.store
    await old.apply(put=[rec("w1")])
    if not rig.fenced:  # one writer per state_dir (the state lock): there is no token
        assert old.fence is None
        return
    assert old.fence is not None
    nxt = await rig.successor()
    assert nxt.fence == old.fence + 1
    with pytest.raises(FencedError, match=f"epoch {old.fence} was superseded"):
        await old.apply(put=[rec("w1", phase=Phase.FINALIZING)], delete=["w1"])
    with pytest.raises(FencedError, match=f"epoch {old.fence}"):
        await old.put_verification(pending("w1", 60))
    with pytest.raises(FencedError, match=f"epoch {old.fence}"):
        await old.put_file(NEWS, file("f1", 0, 20))
    assert await nxt.load() == [rec("w1")]  # nothing the old term tried landed
    assert await nxt.pending() == [] and await nxt.files(NEWS, T, T + minutes(60)) == []
    await nxt.apply(put=[rec("w1", phase=Phase.FINALIZING)])  # the new term writes
    assert await old.load() == [rec("w1", phase=Phase.FINALIZING)]  # reads need no token
    with pytest.raises(FencedError, match="no lease"):
        await rig.reader.apply(put=[rec("w9")])

"""The state store: durable rows, atomic transactions, readable after a kill -9 at any instant,
shared safely by two processes."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from liverecd.clock import SystemClock
from liverecd.engine.lifecycle import Phase, RecordingState
from liverecd.engine.store import sqlite as sqlite_state
from liverecd.engine.store.book import StateBook
from liverecd.engine.store.sqlite import DB_NAME, SCHEMA_VERSION, SqliteStateStore
from liverecd.errors import StateError
from liverecd.schedule.model import Finalize
from liverecd.streams import Command, StreamKey
from liverecd.verify.coverage import Result

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def row(wid: str, phase: Phase = Phase.RECORDING, name: str = "cam") -> RecordingState:
    return RecordingState(
        window_id=wid,
        stream=StreamKey("play.example.com", "live", name),
        start=T0,
        end=T0 + timedelta(hours=1),
        finalize=Finalize.DELAYED,
        delay=timedelta(seconds=90),
        phase=phase,
        last_command=Command.START,
        updated_at=T0,
        started_at=T0 + timedelta(seconds=1),
    )


async def test_rows_round_trip_and_upsert(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path)
    await store.apply(put=[row("w1"), row("w2", Phase.OPENING)])
    await store.apply(put=[row("w2", Phase.FINALIZING)], delete=["w1"])
    await store.close()
    again = SqliteStateStore(tmp_path)
    assert await again.load() == [row("w2", Phase.FINALIZING)]
    await again.close()


async def test_two_processes_sharing_a_state_dir_see_each_others_rows(tmp_path: Path) -> None:
    a, b = SqliteStateStore(tmp_path), SqliteStateStore(tmp_path)
    await a.apply(put=[row("from-a")])
    await b.apply(put=[row("from-b")])
    assert [r.window_id for r in await a.load()] == ["from-a", "from-b"]
    await a.close()
    await b.close()


async def test_a_corrupt_state_file_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"this is not a database" * 100)
    store = SqliteStateStore(tmp_path)
    with pytest.raises(StateError, match=DB_NAME):
        await store.load()
    await store.close()


async def test_a_state_file_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    store = SqliteStateStore(tmp_path)
    with pytest.raises(StateError, match="newer liverecd"):
        await store.load()
    await store.close()


async def test_a_closed_store_refuses_calls(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path)
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StateError, match="closed"):
        await store.load()


_WRITER = textwrap.dedent(
    """
    import asyncio
    import sys
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from liverecd.engine.store.sqlite import SqliteStateStore
    from liverecd.engine.lifecycle import Phase, RecordingState
    from liverecd.schedule.model import Finalize
    from liverecd.streams import Command, StreamKey

    async def main():
        store = SqliteStateStore(Path(sys.argv[1]))
        t = datetime(2026, 3, 1, tzinfo=UTC)
        await store.load()
        print("ready", flush=True)
        i = 0
        while True:  # every transaction writes a pair: a torn one would leave an odd count
            rows = [
                RecordingState(window_id=f"w{i}-{half}", stream=StreamKey("d", "a", f"s{i}"),
                               start=t, end=t + timedelta(hours=1), finalize=Finalize.IMMEDIATE,
                               delay=timedelta(seconds=180), phase=Phase.OPENING,
                               last_command=Command.START, updated_at=t)
                for half in (0, 1)
            ]
            await store.apply(put=rows, delete=[f"w{i - 3}-0", f"w{i - 3}-1"])
            i += 1

    asyncio.run(main())
    """
)


async def test_kill_9_in_the_middle_of_writes_leaves_a_readable_consistent_store(
    tmp_path: Path,
) -> None:
    for delay in (0.05, 0.13, 0.21):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _WRITER, str(tmp_path), stdout=asyncio.subprocess.PIPE
        )
        assert proc.stdout is not None
        async with asyncio.timeout(10):
            assert (await proc.stdout.readline()).strip() == b"ready"
            await asyncio.sleep(delay)
            os.kill(proc.pid, signal.SIGKILL)
            await proc.wait()
        store = SqliteStateStore(tmp_path)
        rows = await store.load()
        await store.close()
        assert rows, "the writer committed nothing"
        assert len(rows) % 2 == 0  # no torn transaction
        assert all(r.phase is Phase.OPENING for r in rows)


async def test_the_book_mirrors_at_once_and_commits_in_batches(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path)
    book = StateBook(store, SystemClock())
    await book.load()
    futures = [book.put(row(f"w{i}", name=f"s{i}")) for i in range(50)]
    assert len(book) == 50  # the mirror does not wait for the disk
    async with asyncio.timeout(5):
        await asyncio.gather(*futures)
    book.delete("w0")
    async with asyncio.timeout(5):
        await book.close()
    await store.close()
    again = SqliteStateStore(tmp_path)
    assert len(await again.load()) == 49
    await again.close()


# What liverecd wrote before the one store interface (schema 1): the engine's table and the
# verifier's two, created by two connections in the same file, with the values as they wrote them.
_SCHEMA_1 = """
PRAGMA journal_mode = WAL;
CREATE TABLE recordings (
    window_id TEXT PRIMARY KEY,
    domain TEXT NOT NULL, app TEXT NOT NULL, stream TEXT NOT NULL,
    start TEXT NOT NULL, end_ TEXT NOT NULL,
    finalize TEXT NOT NULL, delay_s REAL NOT NULL,
    phase TEXT NOT NULL, last_command TEXT NOT NULL,
    updated_at TEXT NOT NULL, started_at TEXT, stopped_at TEXT
);
PRAGMA user_version = 1;
CREATE TABLE verifications (
    window_id TEXT PRIMARY KEY, domain TEXT NOT NULL, app TEXT NOT NULL, stream TEXT NOT NULL,
    start TEXT NOT NULL, end_ TEXT NOT NULL, result TEXT NOT NULL, coverage REAL,
    gaps TEXT NOT NULL, files TEXT NOT NULL, due TEXT NOT NULL, first_due TEXT NOT NULL,
    attempts INTEGER NOT NULL, error TEXT
);
CREATE INDEX verifications_end ON verifications (end_);
CREATE TABLE record_files (
    uri TEXT PRIMARY KEY, domain TEXT NOT NULL, app TEXT NOT NULL, stream TEXT NOT NULL,
    start TEXT NOT NULL, end_ TEXT NOT NULL, duration REAL NOT NULL
);
CREATE INDEX record_files_stream ON record_files (domain, app, stream, start);
INSERT INTO recordings VALUES ('w1', 'play.example.com', 'live', 'cam',
    '2026-03-01T12:00:00+00:00', '2026-03-01T13:00:00+00:00', 'delayed', 90.0, 'recording',
    'start', '2026-03-01T12:00:00+00:00', '2026-03-01T12:00:01+00:00', NULL);
INSERT INTO verifications VALUES ('v1', 'play.example.com', 'live', 'cam',
    '2026-03-01T12:00:00.000000Z', '2026-03-01T13:00:00.000000Z', 'ok', 1.0, '[]',
    '[{"uri": "f1", "start": "2026-03-01T12:00:00Z", "end": "2026-03-01T13:00:00Z"}]',
    '2026-03-01T13:05:00.000000Z', '2026-03-01T13:05:00.000000Z', 1, NULL);
INSERT INTO verifications VALUES ('v2', 'play.example.com', 'live', 'cam',
    '2026-03-01T13:00:00.000000Z', '2026-03-01T14:00:00.000000Z', 'pending', NULL, '[]', '[]',
    '2026-03-01T14:05:00.000000Z', '2026-03-01T14:05:00.000000Z', 0, NULL);
INSERT INTO record_files VALUES ('f1', 'play.example.com', 'live', 'cam',
    '2026-03-01T12:00:00.000000Z', '2026-03-01T13:00:00.000000Z', 3600.0);
"""


async def test_a_schema_1_state_file_is_read_in_place_and_upgraded(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.executescript(_SCHEMA_1)
    db.close()
    cam, hour = StreamKey("play.example.com", "live", "cam"), timedelta(hours=1)
    report = SqliteStateStore(tmp_path, readonly=True)  # `report` before the daemon restarts
    assert [v.window_id for v in await report.verifications(T0, T0 + hour)] == ["v1"]
    await report.close()
    store = SqliteStateStore(tmp_path)
    assert await store.load() == [row("w1")]
    assert await store.rows_of(cam) == await store.rows_between(T0, T0 + hour) == [row("w1")]
    done = await store.verification("v1")
    assert done is not None and done.result is Result.OK and done.coverage == 1.0
    assert [f.uri for f in done.files] == ["f1"] and done.end == T0 + hour
    assert [v.window_id for v in await store.pending()] == ["v2"]  # its check resumes
    assert [f.duration for f in await store.files(cam, T0, T0 + hour)] == [3600.0]
    await store.close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    indexes = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"recordings_stream", "recordings_end"} <= indexes
    db.close()


async def test_a_commit_refused_while_busy_leaves_the_store_writable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where the state_dir cannot hold a WAL (rollback journal), a reader such as `liverecd
    # report` blocks a commit: SQLite answers SQLITE_BUSY and keeps the transaction open. The
    # next write must not find itself "within a transaction" for the rest of the run.
    monkeypatch.setattr(sqlite_state, "BUSY_TIMEOUT_MS", 50)
    store = SqliteStateStore(tmp_path)
    await store.apply(put=[row("w1")])
    await store._run("no wal", lambda db: db.execute("PRAGMA journal_mode = DELETE").fetchall())
    reader = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT * FROM recordings").fetchall()  # holds its shared lock
    with pytest.raises(StateError, match="locked"):
        await store.apply(put=[row("w2")])
    reader.execute("COMMIT")
    reader.close()
    await store.apply(put=[row("w2"), row("w3")])
    assert [r.window_id for r in await store.load()] == ["w1", "w2", "w3"]
    await store.close()

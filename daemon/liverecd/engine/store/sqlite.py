"""The embedded state store (`engine.store.interface.StateStore`): SQLite in
`state_dir/state.sqlite3`.

WAL journal. Recording rows commit with `synchronous=FULL`, so an opening intent is on disk
before `apply` returns and a kill -9 at any instant leaves the last committed state readable;
verification rows commit with `synchronous=NORMAL` (a result can be read back from Alibaba
again, so it does not cost an fsync). Every SQLite call runs on the store's one worker thread,
in call order: the event loop never waits on the disk, and one connection needs no lock.
Writes are `BEGIN IMMEDIATE` transactions with a busy timeout, so two processes sharing a
state_dir (the daemon and `liverecd report`) never see a torn write.

Schema 1 (before the one interface) had the same three tables in the same file, written by two
connections; schema 2 only adds the indexes for reads by stream and by range, so an old file is
read as it is and upgraded in place. A file of a newer schema is refused.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from liverecd.api.record_index import IndexFile
from liverecd.engine.lifecycle import Phase, RecordingState
from liverecd.errors import StateError
from liverecd.schedule.model import Finalize
from liverecd.streams import Command, StreamKey
from liverecd.verify.coverage import Result
from liverecd.verify.rows import Verification, from_key, from_row, to_row, utc_key

T = TypeVar("T")
DB_NAME = "state.sqlite3"
SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 5000

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS recordings (
    window_id TEXT PRIMARY KEY,
    domain TEXT NOT NULL, app TEXT NOT NULL, stream TEXT NOT NULL,
    start TEXT NOT NULL, end_ TEXT NOT NULL,
    finalize TEXT NOT NULL, delay_s REAL NOT NULL,
    phase TEXT NOT NULL, last_command TEXT NOT NULL,
    updated_at TEXT NOT NULL, started_at TEXT, stopped_at TEXT
);
CREATE INDEX IF NOT EXISTS recordings_stream ON recordings (domain, app, stream);
CREATE INDEX IF NOT EXISTS recordings_end ON recordings (end_);
CREATE TABLE IF NOT EXISTS verifications (
    window_id TEXT PRIMARY KEY, domain TEXT NOT NULL, app TEXT NOT NULL, stream TEXT NOT NULL,
    start TEXT NOT NULL, end_ TEXT NOT NULL, result TEXT NOT NULL, coverage REAL,
    gaps TEXT NOT NULL, files TEXT NOT NULL, due TEXT NOT NULL, first_due TEXT NOT NULL,
    attempts INTEGER NOT NULL, error TEXT
);
CREATE INDEX IF NOT EXISTS verifications_end ON verifications (end_);
CREATE TABLE IF NOT EXISTS record_files (
    uri TEXT PRIMARY KEY, domain TEXT NOT NULL, app TEXT NOT NULL, stream TEXT NOT NULL,
    start TEXT NOT NULL, end_ TEXT NOT NULL, duration REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS record_files_stream ON record_files (domain, app, stream, start);
PRAGMA user_version = {SCHEMA_VERSION};
"""
_REC = (
    "SELECT window_id, domain, app, stream, start, end_, finalize, delay_s, phase, last_command,"
    " updated_at, started_at, stopped_at FROM recordings"
)
_REC_PUT = (
    "INSERT OR REPLACE INTO recordings (window_id, domain, app, stream, start, end_, finalize,"
    " delay_s, phase, last_command, updated_at, started_at, stopped_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_VER = (
    "SELECT window_id, domain, app, stream, start, end_, result, coverage, gaps, files, due,"
    " first_due, attempts, error FROM verifications"
)
_VER_PUT = (
    "INSERT OR REPLACE INTO verifications (window_id, domain, app, stream, start, end_, result,"
    " coverage, gaps, files, due, first_due, attempts, error)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_DELETE = "DELETE FROM recordings WHERE window_id = ?"
_STREAM = " WHERE domain = ? AND app = ? AND stream = ?"
_FILES = (
    "SELECT uri, start, end_, duration FROM record_files"
    " WHERE domain = ? AND app = ? AND stream = ? AND start < ? AND end_ > ?"
)


def _iso(value: datetime | None) -> str | None:
    # Recording instants are `isoformat()` in UTC (as schema 1 wrote them): they compare as
    # text in time order too, since a missing fraction sorts before any fraction.
    return None if value is None else value.astimezone(UTC).isoformat()


def _instant(value: object) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value)).astimezone(UTC)


def _row(values: tuple[object, ...]) -> RecordingState:
    (wid, domain, app, stream, start, end, finalize, delay, phase, last, updated, started,
     stopped) = values  # fmt: skip
    return RecordingState(
        window_id=str(wid), stream=StreamKey(str(domain), str(app), str(stream)),
        start=datetime.fromisoformat(str(start)), end=datetime.fromisoformat(str(end)),
        finalize=Finalize(str(finalize)), delay=timedelta(seconds=float(str(delay))),
        phase=Phase(str(phase)), last_command=Command(str(last)),
        updated_at=datetime.fromisoformat(str(updated)), started_at=_instant(started),
        stopped_at=_instant(stopped),
    )  # fmt: skip


def _values(r: RecordingState) -> tuple[object, ...]:
    return (
        r.window_id, r.stream.domain, r.stream.app, r.stream.stream,
        _iso(r.start), _iso(r.end), r.finalize.value, r.delay.total_seconds(),
        r.phase.value, r.last_command.value, _iso(r.updated_at),
        _iso(r.started_at), _iso(r.stopped_at),
    )  # fmt: skip


def _write(
    db: sqlite3.Connection, durable: bool, *steps: tuple[str, list[tuple[object, ...]]]
) -> int:
    """One transaction of `executemany` steps; how many rows they changed."""
    db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
    db.execute("BEGIN IMMEDIATE")
    try:
        changed = sum(db.executemany(sql, rows).rowcount for sql, rows in steps if rows)
        db.execute("COMMIT")
    except BaseException:
        # A COMMIT refused (SQLITE_BUSY behind a reader's lock) leaves the transaction open:
        # unless it is rolled back, every later write fails "within a transaction".
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return changed


def _not_newer(db: sqlite3.Connection, path: Path) -> None:
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if int(version) > SCHEMA_VERSION:
        raise StateError(
            f"state store {path}: schema version {version} was written by a newer liverecd"
            f" (this one knows up to {SCHEMA_VERSION}); upgrade it"
        )


class SqliteStateStore:
    """`state_dir/state.sqlite3`; `readonly` for readers beside a running daemon (`report`).

    The file is opened by the first call, on the worker thread: constructing the store does no
    I/O, and a file that cannot be read is a StateError of that call."""

    fence: int | None = None  # one writer per state_dir (the state lock): nothing to fence

    def __init__(self, state_dir: Path, *, readonly: bool = False) -> None:
        self.path = state_dir / DB_NAME
        self._readonly = readonly
        self._db: sqlite3.Connection | None = None
        self._closed = False
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="liverecd-state")

    def _connect(self) -> sqlite3.Connection:
        if self._readonly:
            uri = f"{self.path.absolute().as_uri()}?mode=ro"
            db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            return db
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _not_newer(db, self.path)
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(_SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    async def _run(self, what: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self._closed:
                raise StateError(f"state store {self.path} is closed")
            try:
                if self._db is None:
                    self._db = self._connect()
                return fn(self._db)
            except (OSError, sqlite3.Error, ValueError, KeyError) as exc:
                raise StateError(f"state store {self.path}: {what}: {exc}") from exc

        try:
            return await asyncio.get_running_loop().run_in_executor(self._worker, call)
        except RuntimeError as exc:  # the worker was shut down: closed
            raise StateError(f"state store {self.path} is closed") from exc

    async def _recordings(
        self, where: str = "", args: tuple[object, ...] = ()
    ) -> list[RecordingState]:
        # Rows are decoded on the worker too: the loop only gets the finished list.
        query = f"{_REC}{where} ORDER BY window_id"
        return await self._run(
            "read", lambda db: [_row(tuple(r)) for r in db.execute(query, args).fetchall()]
        )

    async def _verifications(self, where: str, args: tuple[object, ...]) -> list[Verification]:
        return await self._run(
            "read verifications",
            lambda db: [from_row(tuple(r)) for r in db.execute(_VER + where, args).fetchall()],
        )

    async def load(self) -> list[RecordingState]:
        """Every recording row, by window id."""
        return await self._recordings()

    async def apply(self, put: Iterable[RecordingState] = (), delete: Iterable[str] = ()) -> None:
        """One durable (fsynced) transaction: upserts, then deletes."""
        rows, deletes = list(put), [(wid,) for wid in delete]
        if not rows and not deletes:
            return

        def write(db: sqlite3.Connection) -> int:
            puts = [
                _values(r) for r in rows
            ]  # encoded on the worker: a burst costs the loop nothing
            return _write(db, True, (_REC_PUT, puts), (_DELETE, list(deletes)))

        await self._run("write", write)

    async def rows_of(self, stream: StreamKey) -> list[RecordingState]:
        """The recording rows of exactly `stream`."""
        return await self._recordings(_STREAM, (stream.domain, stream.app, stream.stream))

    async def rows_between(self, since: datetime, until: datetime) -> list[RecordingState]:
        """The recording rows whose window overlaps [since, until)."""
        return await self._recordings(" WHERE start < ? AND end_ > ?", (_iso(until), _iso(since)))

    async def put_verification(self, *rows: Verification) -> None:
        """Upsert rows by window id, in one transaction."""
        await self._run(
            "write verification",
            lambda db: _write(db, False, (_VER_PUT, [to_row(r) for r in rows])),
        )

    async def verification(self, window_id: str) -> Verification | None:
        """One window's row, if any."""
        got = await self._verifications(" WHERE window_id = ?", (window_id,))
        return got[0] if got else None

    async def verifications(self, since: datetime, until: datetime) -> list[Verification]:
        """Rows of windows that ended in [since, until], by end then id."""
        where = " WHERE end_ >= ? AND end_ <= ? ORDER BY end_, window_id"
        return await self._verifications(where, (utc_key(since), utc_key(until)))

    async def pending(self) -> list[Verification]:
        """Rows still to be checked, soonest first."""
        return await self._verifications(" WHERE result = ? ORDER BY due", (Result.PENDING.value,))

    async def put_file(self, stream: StreamKey, file: IndexFile) -> bool:
        """Store a file callback; False when its uri was already stored (idempotent)."""
        at = (utc_key(file.start), utc_key(file.end))
        value: tuple[object, ...] = (file.uri, stream.domain, stream.app, stream.stream, *at,
                                     file.duration)  # fmt: skip
        step = ("INSERT OR IGNORE INTO record_files VALUES (?, ?, ?, ?, ?, ?, ?)", [value])
        return await self._run("write file", lambda db: _write(db, False, step)) > 0

    async def files(self, stream: StreamKey, start: datetime, end: datetime) -> list[IndexFile]:
        """Callback files of exactly `stream` overlapping [start, end)."""
        args = (stream.domain, stream.app, stream.stream, utc_key(end), utc_key(start))
        got = await self._run("read files", lambda db: db.execute(_FILES, args).fetchall())
        return [
            IndexFile(uri=u, start=from_key(a), end=from_key(b), duration=d) for u, a, b, d in got
        ]

    async def close(self) -> None:
        """Close the connection (SQLite checkpoints the WAL on the last close); idempotent."""
        if self._closed:
            return

        def shut() -> None:
            self._closed = True
            if self._db is not None:
                self._db.close()
                self._db = None

        await asyncio.get_running_loop().run_in_executor(self._worker, shut)
        self._worker.shutdown(wait=False)

"""What the daemon started, kept where a crash cannot take it: a small store behind a Protocol.

One row per window the daemon opened (or is about to open): enough for a restarted daemon to stop
a recording whose window closed while it was down, and to re-assert one still open. The physical
recording task is per stream; rows are per window so that a start released early for the next
window never hides the recording of the previous one that still needs its stop.

The embedded store is SQLite in `state_dir`: WAL journal with `synchronous=FULL`, so every commit
is on disk before `apply` returns and a kill -9 at any instant leaves the last committed state
readable. Nothing here assumes one process: writes are `BEGIN IMMEDIATE` transactions with a busy
timeout, rows are upserts keyed by window id, and the daemon reads the store at start-up instead
of trusting that it ran before (a PostgreSQL store under a lease can implement the same Protocol).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from liverecd.engine.lifecycle import Phase, RecordingState
from liverecd.errors import StateError
from liverecd.schedule.model import Finalize
from liverecd.streams import Command, StreamKey

DB_NAME = "state.sqlite3"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 5000


class StateStore(Protocol):
    """Durable rows of `RecordingState`, keyed by window id."""

    def load(self) -> list[RecordingState]:
        """Every row. Raises StateError when the store cannot be read."""
        ...

    def apply(self, put: Iterable[RecordingState] = (), delete: Iterable[str] = ()) -> None:
        """Upsert `put` and delete the ids in `delete` in one atomic, durable transaction."""
        ...

    def close(self) -> None:
        """Release the store; idempotent."""
        ...


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS recordings (
    window_id TEXT PRIMARY KEY,
    domain TEXT NOT NULL, app TEXT NOT NULL, stream TEXT NOT NULL,
    start TEXT NOT NULL, end_ TEXT NOT NULL,
    finalize TEXT NOT NULL, delay_s REAL NOT NULL,
    phase TEXT NOT NULL, last_command TEXT NOT NULL,
    updated_at TEXT NOT NULL, started_at TEXT, stopped_at TEXT
);
PRAGMA user_version = {SCHEMA_VERSION};
"""
_SELECT = (
    "SELECT window_id, domain, app, stream, start, end_, finalize, delay_s, phase, last_command,"
    " updated_at, started_at, stopped_at FROM recordings ORDER BY window_id"
)
_INSERT = (
    "INSERT OR REPLACE INTO recordings (window_id, domain, app, stream, start, end_, finalize,"
    " delay_s, phase, last_command, updated_at, started_at, stopped_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_DELETE = "DELETE FROM recordings WHERE window_id = ?"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _instant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


def _row(values: tuple[object, ...]) -> RecordingState:
    (wid, domain, app, stream, start, end, finalize, delay, phase, last, updated, started,
     stopped) = values  # fmt: skip
    return RecordingState(
        window_id=str(wid),
        stream=StreamKey(str(domain), str(app), str(stream)),
        start=datetime.fromisoformat(str(start)),
        end=datetime.fromisoformat(str(end)),
        finalize=Finalize(str(finalize)),
        delay=timedelta(seconds=float(str(delay))),
        phase=Phase(str(phase)),
        last_command=Command(str(last)),
        updated_at=datetime.fromisoformat(str(updated)),
        started_at=_instant(started if started is None else str(started)),
        stopped_at=_instant(stopped if stopped is None else str(stopped)),
    )


def _values(r: RecordingState) -> tuple[object, ...]:
    return (
        r.window_id, r.stream.domain, r.stream.app, r.stream.stream,
        _iso(r.start), _iso(r.end), r.finalize.value, r.delay.total_seconds(),
        r.phase.value, r.last_command.value, _iso(r.updated_at),
        _iso(r.started_at), _iso(r.stopped_at),
    )  # fmt: skip


class SqliteStateStore:
    """The embedded store: `state_dir/state.sqlite3`, WAL, synchronous=FULL.

    Safe to call from one worker thread at a time (the daemon's writer thread); the connection is
    opened with `check_same_thread=False` so it can be created on the loop and used there.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / DB_NAME
        try:
            state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._db: sqlite3.Connection | None = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False
            )
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"state store {self.path}: {exc}") from exc

    @contextmanager
    def _guard(self, what: str) -> Iterator[sqlite3.Connection]:
        if self._db is None:
            raise StateError(f"state store {self.path} is closed")
        try:
            yield self._db
        except (sqlite3.Error, ValueError) as exc:
            raise StateError(f"state store {self.path}: {what}: {exc}") from exc

    def load(self) -> list[RecordingState]:
        """Every row, ordered by window id."""
        with self._guard("read") as db:
            rows = db.execute(_SELECT).fetchall()
            return [_row(tuple(r)) for r in rows]

    def apply(self, put: Iterable[RecordingState] = (), delete: Iterable[str] = ()) -> None:
        """One durable transaction: upserts, then deletes."""
        puts = [_values(r) for r in put]
        deletes = [(wid,) for wid in delete]
        if not puts and not deletes:
            return
        with self._guard("write") as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if puts:
                    db.executemany(_INSERT, puts)
                if deletes:
                    db.executemany(_DELETE, deletes)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite on the last close)."""
        if self._db is not None:
            self._db.close()
            self._db = None

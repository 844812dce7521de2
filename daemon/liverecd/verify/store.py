"""Verification results and recording-callback files, in the daemon's SQLite state db.

Two tables of their own next to `recordings` (same file, own connection, WAL): `verifications`
(one row per window, pending until checked; survives restarts and reloads that delete the window)
and `record_files` (file callbacks, keyed by uri: a callback delivered twice is stored once).
`open_readonly` serves `liverecd report` while the daemon writes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from liverecd.api.record_index import IndexFile
from liverecd.engine.state import BUSY_TIMEOUT_MS, DB_NAME
from liverecd.errors import StateError
from liverecd.streams import StreamKey
from liverecd.verify.coverage import Gap, Result

__all__ = ["DB_NAME", "Verification", "VerificationStore", "VerifyStore", "iso"]

_SCHEMA = """
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
"""
_SELECT = (
    "SELECT window_id, domain, app, stream, start, end_, result, coverage, gaps, files, due,"
    " first_due, attempts, error FROM verifications"
)
_UPSERT = (
    "INSERT OR REPLACE INTO verifications (window_id, domain, app, stream, start, end_, result,"
    " coverage, gaps, files, due, first_due, attempts, error)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_ONE = _SELECT + " WHERE window_id = ?"
_ENDED = _SELECT + " WHERE end_ >= ? AND end_ <= ? ORDER BY end_, window_id"
_PENDING = _SELECT + " WHERE result = ? ORDER BY due"


@dataclass(frozen=True, slots=True, kw_only=True)
class Verification:
    """One window's verification, pending or done. Instants are aware UTC."""

    window_id: str
    stream: StreamKey
    start: datetime
    end: datetime
    result: Result = Result.PENDING
    coverage: float | None = None
    gaps: tuple[Gap, ...] = ()
    files: tuple[IndexFile, ...] = ()
    due: datetime  # when to check next
    first_due: datetime  # the first check: `unverified` comes 24 h after it
    attempts: int = 0
    error: str | None = field(default=None)


def iso(when: datetime) -> str:
    """ISO 8601 UTC with `Z`, as DESIGN §8 prints instants."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _key(when: datetime) -> str:
    """Fixed-width UTC text, so SQL compares instants as strings correctly."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _values(v: Verification) -> tuple[object, ...]:
    gaps = [{"from": iso(g.start), "to": iso(g.end), "cause": g.cause} for g in v.gaps]
    files = [{"uri": f.uri, "start": iso(f.start), "end": iso(f.end)} for f in v.files]
    return (
        v.window_id, v.stream.domain, v.stream.app, v.stream.stream, _key(v.start), _key(v.end),
        v.result.value, v.coverage, json.dumps(gaps), json.dumps(files), _key(v.due),
        _key(v.first_due), v.attempts, v.error,
    )  # fmt: skip


def _row(r: tuple[object, ...]) -> Verification:
    wid, d, a, s, start, end, result, cov, gaps, files, due, first, attempts, error = r
    gap_list = json.loads(str(gaps))
    file_list = json.loads(str(files))
    return Verification(
        window_id=str(wid), stream=StreamKey(str(d), str(a), str(s)),
        start=_when(str(start)), end=_when(str(end)), result=Result(str(result)),
        coverage=None if cov is None else float(str(cov)),
        gaps=tuple(Gap(_when(g["from"]), _when(g["to"]), g["cause"]) for g in gap_list),
        files=tuple(
            IndexFile(uri=f["uri"], start=_when(f["start"]), end=_when(f["end"]),
                      duration=(_when(f["end"]) - _when(f["start"])).total_seconds())
            for f in file_list
        ),
        due=_when(str(due)), first_due=_when(str(first)), attempts=int(str(attempts)),
        error=None if error is None else str(error),
    )  # fmt: skip


class VerifyStore(Protocol):
    """What the verifier needs of a store: this file's SQLite one, or `liverecd.ha`'s shared
    PostgreSQL one under `database:` (so a takeover resumes the pending checks)."""

    def put_verification(self, *rows: Verification) -> None: ...
    def verification(self, window_id: str) -> Verification | None: ...
    def verifications(self, since: datetime, until: datetime) -> list[Verification]: ...
    def pending(self) -> list[Verification]: ...
    def put_file(self, stream: StreamKey, file: IndexFile) -> bool: ...
    def files(self, stream: StreamKey, start: datetime, end: datetime) -> list[IndexFile]: ...
    def close(self) -> None: ...


class VerificationStore:
    """The two tables behind small methods; one connection, used from the event loop."""

    def __init__(self, state_dir: Path, *, readonly: bool = False) -> None:
        self.path = state_dir / DB_NAME
        try:
            if readonly:
                uri = f"{self.path.absolute().as_uri()}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, isolation_level=None)
            else:
                state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                # Written from the verifier's one writer thread; created on the loop's.
                self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not readonly:
                self._db.execute("PRAGMA journal_mode = WAL")
                # Results can be read back from Alibaba again: no fsync per commit needed.
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"state store {self.path}: {exc}") from exc

    @contextmanager
    def _guard(self, what: str) -> Iterator[sqlite3.Connection]:
        try:
            yield self._db
        except (sqlite3.Error, ValueError, KeyError) as exc:
            raise StateError(f"state store {self.path}: {what}: {exc}") from exc

    def put_verification(self, *rows: Verification) -> None:
        """Upsert rows by window id, in one transaction."""
        with self._guard("write verification") as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(_UPSERT, [_values(r) for r in rows])
            db.execute("COMMIT")

    def verification(self, window_id: str) -> Verification | None:
        """One window's row, if any."""
        with self._guard("read verification") as db:
            got = db.execute(_ONE, (window_id,)).fetchone()
        return None if got is None else _row(tuple(got))

    def verifications(self, since: datetime, until: datetime) -> list[Verification]:
        """Rows of windows that ended in [since, until], by end then id."""
        with self._guard("read verifications") as db:
            got = db.execute(_ENDED, (_key(since), _key(until))).fetchall()
        return [_row(tuple(r)) for r in got]

    def pending(self) -> list[Verification]:
        """Rows still to be checked, soonest first."""
        with self._guard("read pending") as db:
            got = db.execute(_PENDING, (Result.PENDING.value,)).fetchall()
        return [_row(tuple(r)) for r in got]

    def put_file(self, stream: StreamKey, file: IndexFile) -> bool:
        """Store a file callback; False when its uri was already stored (idempotent)."""
        with self._guard("write file") as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO record_files VALUES (?, ?, ?, ?, ?, ?, ?)",
                (file.uri, stream.domain, stream.app, stream.stream, _key(file.start),
                 _key(file.end), file.duration),
            )  # fmt: skip
            return cur.rowcount > 0

    def files(self, stream: StreamKey, start: datetime, end: datetime) -> list[IndexFile]:
        """Callback files of exactly `stream` overlapping [start, end)."""
        with self._guard("read files") as db:
            got = db.execute(
                "SELECT uri, start, end_, duration FROM record_files WHERE domain = ? AND app = ?"
                " AND stream = ? AND start < ? AND end_ > ?",
                (stream.domain, stream.app, stream.stream, _key(end), _key(start)),
            ).fetchall()
        return [IndexFile(uri=u, start=_when(a), end=_when(b), duration=d) for u, a, b, d in got]

    def close(self) -> None:
        """Close the connection; idempotent."""
        self._db.close()

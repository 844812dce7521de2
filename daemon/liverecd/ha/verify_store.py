"""Verification rows in PostgreSQL (DESIGN §8 under §9): the `VerifyStore` of one term.

Under `database:` the verifier keeps its pending checks, results and file callbacks in the shared
database rather than the member's SQLite file, so that the member taking over resumes the checks
the old active owed. Writes are fenced by the term's epoch like the recording rows: a superseded
active's late result or file is refused (the new active writes its own).

The verifier calls the store from its writer thread (the methods below block it until the
event loop that owns the pool has run the statement) and `pending()` on the loop at start-up,
which is why the pending rows are read beforehand by `refresh()`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from liverecd.api.record_index import IndexFile
from liverecd.config import DatabaseConfig
from liverecd.errors import StateError
from liverecd.ha import sql
from liverecd.ha.store import Database, DatabaseError, FencedError, where
from liverecd.streams import StreamKey
from liverecd.verify.coverage import Result
from liverecd.verify.store import Verification, _key, _row, _values

T = TypeVar("T")


class SharedVerificationStore:
    """The verification tables of `db.cluster`, written under `epoch` only."""

    def __init__(self, db: Database, holder: str, epoch: int) -> None:
        self._db = db
        self._fence = {"cluster": db.cluster, "holder": holder, "epoch": epoch}
        self.epoch = epoch
        self._pending: list[Verification] = []
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()

    async def refresh(self) -> list[Verification]:
        """Read the pending rows (what `pending()` returns): the checks owed so far."""
        self._pending = await pending_rows(self._db)
        return list(self._pending)

    def pending(self) -> list[Verification]:
        """The rows the last `refresh` read, soonest due first."""
        return list(self._pending)

    def put_verification(self, *rows: Verification) -> None:
        """Upsert rows by window id, in one fenced transaction."""
        values = [(self._db.cluster, *_values(r), self.epoch) for r in rows]
        self._call(self._write(sql.VERIFY_UPSERT, values))

    def put_file(self, stream: StreamKey, file: IndexFile) -> bool:
        """Store a file callback; False when its uri was already stored (idempotent)."""
        value = (self._db.cluster, file.uri, stream.domain, stream.app, stream.stream,
                 _key(file.start), _key(file.end), file.duration, self.epoch)  # fmt: skip
        return self._call(self._write(sql.FILE_INSERT, [value])) > 0

    def verification(self, window_id: str) -> Verification | None:
        """One window's row, if any."""
        got = self._call(self._db.fetch(sql.VERIFY_ONE, (self._db.cluster, window_id)))
        return _row(tuple(got[0])) if got else None

    def verifications(self, since: datetime, until: datetime) -> list[Verification]:
        """Rows of windows that ended in [since, until], by end then id."""
        return self._call(ended_rows(self._db, since, until))

    def files(self, stream: StreamKey, start: datetime, end: datetime) -> list[IndexFile]:
        """Callback files of exactly `stream` overlapping [start, end)."""
        args = (self._db.cluster, stream.domain, stream.app, stream.stream, _key(end), _key(start))
        got = self._call(self._db.fetch(sql.FILES, args))
        return [
            IndexFile(uri=u, start=_utc(a), end=_utc(b), duration=float(d)) for u, a, b, d in got
        ]

    def close(self) -> None:
        """Nothing: the pool outlives the term."""

    async def _write(self, statement: str, values: list[tuple[object, ...]]) -> int:
        async with self._db.transaction() as cur:
            await cur.execute(sql.FENCE.encode(), self._fence)
            if await cur.fetchone() is None:
                raise FencedError(f"verification write refused: epoch {self.epoch} was superseded")
            count = 0
            for value in values:
                await cur.execute(statement.encode(), value)
                count += max(0, cur.rowcount)
            return count

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the pool's loop from the calling (worker) thread."""
        if threading.get_ident() == self._loop_thread:
            coro.close()
            raise StateError("shared verification store: called on the event loop's thread")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout=self._db.timeout * 4)
        except TimeoutError as exc:
            future.cancel()
            raise StateError(f"database {where(self._db.config)}: timed out") from exc
        except DatabaseError as exc:
            raise StateError(str(exc)) from exc


async def pending_rows(db: Database) -> list[Verification]:
    """The cluster's checks still to run, soonest first."""
    got = await db.fetch(sql.VERIFY_PENDING, (db.cluster, Result.PENDING.value))
    return [_row(tuple(r)) for r in got]


async def ended_rows(db: Database, since: datetime, until: datetime) -> list[Verification]:
    """The cluster's rows of windows that ended in [since, until]."""
    got = await db.fetch(sql.VERIFY_ENDED, (db.cluster, _key(since), _key(until)))
    return [_row(tuple(r)) for r in got]


async def report_rows(
    config: DatabaseConfig, since: datetime, until: datetime
) -> list[Verification]:
    """`liverecd report` under `database:`: the shared rows (no lease needed to read)."""
    db = Database(config, max_size=1)
    try:
        await db.open()
        return await ended_rows(db, since, until)
    finally:
        await db.close()


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)

"""The shared state in PostgreSQL: a small psycopg 3 async pool, the schema and its forward
migrations, and the `StateStore` (engine/store/interface.py) of one term of leadership:
recording rows, verification rows and file callbacks, every write fenced by the term's epoch.

Connection settings are chosen so that a dead peer or a partition is noticed within about a
lease: libpq keepalives and `tcp_user_timeout` (an idle TCP connection at the kernel's defaults
would look alive for hours), a connect timeout, and server-side statement and lock timeouts.
Every call is also bounded on our side with `asyncio.timeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import psycopg_pool
import structlog

from liverecd.api.record_index import IndexFile
from liverecd.config import DatabaseConfig
from liverecd.engine.lifecycle import Phase, RecordingState
from liverecd.errors import FencedError, StateError
from liverecd.ha import sql
from liverecd.schedule.model import Finalize
from liverecd.streams import Command, StreamKey
from liverecd.verify.coverage import Result
from liverecd.verify.rows import Verification, from_row, to_row, utc_key

log = structlog.get_logger(__name__)

PASSWORD_FILE = "database_password"  # noqa: S105 - a file name, not a password


class DatabaseError(StateError):
    """The database could not be reached or used; the message names host and port. A
    StateError: to the state book a write that did not reach the database is retried."""


class SchemaTooNewError(DatabaseError):
    """The schema was written by a newer liverecd: this one refuses to touch it."""


def where(config: DatabaseConfig) -> str:
    """`host:port/dbname` of the URL, for messages (never the user's password: it has none)."""
    parts = urlsplit(config.url)
    host = parts.hostname or os.environ.get("PGHOST", "localhost")
    return f"{host}:{parts.port or 5432}{parts.path or ''}"


def connect_kwargs(config: DatabaseConfig, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """libpq settings for a lease of `config.lease`, and the password from the credential file
    `$CREDENTIALS_DIRECTORY/database_password` when there is one (else libpq's own means)."""
    env = os.environ if environ is None else environ
    lease = config.lease.total_seconds()
    statement_ms = int(lease * 1000 / 4)
    kwargs: dict[str, Any] = {
        "autocommit": True,
        "connect_timeout": 2,  # libpq's minimum that it honours
        "keepalives": 1,
        "keepalives_idle": max(1, int(lease / 3)),
        "keepalives_interval": 1,
        "keepalives_count": 2,
        "tcp_user_timeout": int(lease * 1000 / 3),
        "application_name": "liverecd",
        "options": f"-c statement_timeout={statement_ms} -c lock_timeout={statement_ms}"
        f" -c idle_in_transaction_session_timeout={int(lease * 1000)} -c TimeZone=UTC",
    }
    folder = env.get("CREDENTIALS_DIRECTORY")
    if folder:
        path = Path(folder) / PASSWORD_FILE
        if path.is_file():
            kwargs["password"] = path.read_text().strip()
    return kwargs


class Database:
    """The pool and the schema. `open()` connects and migrates; DatabaseError when it cannot."""

    def __init__(self, config: DatabaseConfig, *, max_size: int = 3) -> None:
        self.config = config
        self.cluster = config.cluster
        self.timeout = config.lease.total_seconds() / 4  # one statement, on our side
        self._pool = psycopg_pool.AsyncConnectionPool(
            config.url, kwargs=connect_kwargs(config), min_size=1, max_size=max_size,
            open=False, timeout=self.timeout, reconnect_timeout=0,
            check=psycopg_pool.AsyncConnectionPool.check_connection,
        )  # fmt: skip

    async def open(self) -> None:
        """Connect and bring the schema to this version (SchemaTooNewError when newer)."""
        try:
            await self._pool.open(wait=True, timeout=max(3.0, self.timeout * 2))
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise DatabaseError(f"database {where(self.config)} unreachable: {_why(exc)}") from exc
        await self.migrate()

    async def migrate(self) -> int:
        """Apply the forward migrations this schema lacks, each with its version bump."""
        async with self.transaction() as cur:
            await cur.execute(sql.MIGRATION_LOCK)
            await cur.execute(sql.VERSION_TABLE)
            await cur.execute(sql.READ_VERSION)
            row = await cur.fetchone()
            version = int(row[0]) if row and row[0] is not None else 0
            if version > sql.SCHEMA_VERSION:
                raise SchemaTooNewError(
                    f"database {where(self.config)}: schema version {version} was written by a"
                    f" newer liverecd (this one knows up to {sql.SCHEMA_VERSION}); upgrade it"
                )
            for v in range(version, sql.SCHEMA_VERSION):
                await cur.execute(sql.MIGRATIONS[v].encode())
                await cur.execute(sql.WRITE_VERSION, (v + 1,))
                log.info("database_migrated", version=v + 1)
        return max(version, sql.SCHEMA_VERSION)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[psycopg.AsyncCursor[Any]]:
        """`async with db.transaction() as cur:` one transaction on a pooled connection,
        bounded on our side too; psycopg errors and timeouts become DatabaseError."""
        try:
            async with asyncio.timeout(self.timeout * 2):
                async with (
                    self._pool.connection() as conn,
                    conn.transaction(),
                    conn.cursor() as cur,
                ):
                    yield cur
        except (psycopg.Error, psycopg_pool.PoolTimeout, TimeoutError, OSError) as exc:
            raise DatabaseError(f"database {where(self.config)}: {_why(exc)}") from exc

    async def fetch(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Rows of one statement in its own transaction."""
        async with self.transaction() as cur:
            await cur.execute(query.encode(), params)
            return await cur.fetchall() if cur.description else []

    async def close(self) -> None:
        """Close the pool; idempotent."""
        await self._pool.close()


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# -- the state of one term ------------------------------------------------------------------------


class TermStore:
    """The `StateStore` of `db.cluster` for the term of `epoch`: every write first checks that
    the lease still carries `epoch` (FencedError when not). Reads need no lease: with epoch None
    (`liverecd report`) the store only reads. The pool is the member's: `close` leaves it open."""

    def __init__(self, db: Database, holder: str, epoch: int | None) -> None:
        self._db = db
        self._holder = holder
        self.epoch = epoch  # set by the member when its term begins

    @property
    def fence(self) -> int | None:
        """The epoch every write is fenced by."""
        return self.epoch

    @contextlib.asynccontextmanager
    async def _fenced(self, what: str) -> AsyncIterator[psycopg.AsyncCursor[Any]]:
        if self.epoch is None:
            raise FencedError(f"{what} refused: no lease held")
        keys = {"cluster": self._db.cluster, "holder": self._holder, "epoch": self.epoch}
        async with self._db.transaction() as cur:
            await cur.execute(sql.FENCE.encode(), keys)
            if await cur.fetchone() is None:
                raise FencedError(f"{what} refused: epoch {self.epoch} was superseded")
            yield cur

    async def _recordings(self, query: str, *args: object) -> list[RecordingState]:
        return [_row(r) for r in await self._db.fetch(query, (self._db.cluster, *args))]

    async def _verifications(self, query: str, *args: object) -> list[Verification]:
        return [from_row(tuple(r)) for r in await self._db.fetch(query, (self._db.cluster, *args))]

    async def load(self) -> list[RecordingState]:
        """Every recording row of the cluster, by window id."""
        return await self._recordings(sql.SELECT)

    async def apply(self, put: Iterable[RecordingState] = (), delete: Iterable[str] = ()) -> None:
        """Upserts then deletes, in one transaction fenced by the epoch."""
        puts = [self._values(r) for r in put]
        deletes = [(self._db.cluster, wid) for wid in delete]
        if not puts and not deletes:
            return
        async with self._fenced("state write") as cur:
            if puts:
                await cur.executemany(sql.UPSERT.encode(), puts)
            if deletes:
                await cur.executemany(sql.DELETE.encode(), deletes)

    async def rows_of(self, stream: StreamKey) -> list[RecordingState]:
        """The recording rows of exactly `stream`."""
        return await self._recordings(sql.SELECT_STREAM, stream.domain, stream.app, stream.stream)

    async def rows_between(self, since: datetime, until: datetime) -> list[RecordingState]:
        """The recording rows whose window overlaps [since, until)."""
        return await self._recordings(sql.SELECT_BETWEEN, until, since)

    async def put_verification(self, *rows: Verification) -> None:
        """Upsert verification rows by window id, in one fenced transaction."""
        values = [(self._db.cluster, *to_row(r), self.epoch) for r in rows]
        async with self._fenced("verification write") as cur:
            await cur.executemany(sql.VERIFY_UPSERT.encode(), values)

    async def verification(self, window_id: str) -> Verification | None:
        """One window's row, if any."""
        got = await self._verifications(sql.VERIFY_ONE, window_id)
        return got[0] if got else None

    async def verifications(self, since: datetime, until: datetime) -> list[Verification]:
        """Rows of windows that ended in [since, until], by end then id."""
        return await self._verifications(sql.VERIFY_ENDED, utc_key(since), utc_key(until))

    async def pending(self) -> list[Verification]:
        """The checks still owed, soonest due first."""
        return await self._verifications(sql.VERIFY_PENDING, Result.PENDING.value)

    async def put_file(self, stream: StreamKey, file: IndexFile) -> bool:
        """Store a file callback; False when its uri was already stored (idempotent)."""
        value = (self._db.cluster, file.uri, stream.domain, stream.app, stream.stream,
                 utc_key(file.start), utc_key(file.end), file.duration, self.epoch)  # fmt: skip
        async with self._fenced("verification write") as cur:
            await cur.execute(sql.FILE_INSERT.encode(), value)
            return cur.rowcount > 0

    async def files(self, stream: StreamKey, start: datetime, end: datetime) -> list[IndexFile]:
        """Callback files of exactly `stream` overlapping [start, end)."""
        args = (self._db.cluster, stream.domain, stream.app, stream.stream, end, start)
        got = await self._db.fetch(sql.FILES, args)
        return [
            IndexFile(uri=u, start=_utc(a), end=_utc(b), duration=float(d)) for u, a, b, d in got
        ]

    async def close(self) -> None:
        """Nothing: the pool outlives the term."""

    def _values(self, r: RecordingState) -> tuple[object, ...]:
        return (
            self._db.cluster, r.window_id, r.stream.domain, r.stream.app, r.stream.stream,
            r.start, r.end, r.finalize.value, r.delay.total_seconds(), r.phase.value,
            r.last_command.value, r.updated_at, r.started_at, r.stopped_at, self.epoch,
        )  # fmt: skip


async def shared_rows(
    config: DatabaseConfig, since: datetime, until: datetime
) -> list[Verification]:
    """`liverecd report` under `database:`: the cluster's verification rows (no lease needed)."""
    db = Database(config, max_size=1)
    try:
        await db.open()
        return await TermStore(db, "report", None).verifications(since, until)
    finally:
        await db.close()


def _row(values: tuple[Any, ...]) -> RecordingState:
    (wid, domain, app, stream, start, end, finalize, delay, phase, last, updated, started,
     stopped) = values  # fmt: skip
    return RecordingState(
        window_id=wid, stream=StreamKey(domain, app, stream), start=_utc(start), end=_utc(end),
        finalize=Finalize(finalize), delay=timedelta(seconds=float(delay)), phase=Phase(phase),
        last_command=Command(last), updated_at=_utc(updated), started_at=_utc(started),
        stopped_at=_utc(stopped),
    )  # fmt: skip


def _utc(value: Any) -> Any:
    return None if value is None else value.astimezone(UTC)

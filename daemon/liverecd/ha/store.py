"""The shared state in PostgreSQL: a small psycopg 3 async pool, the schema and its forward
migrations, and the `StateStore` of one term of leadership, every write fenced by its epoch.

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
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import psycopg_pool
import structlog

from liverecd.config import DatabaseConfig
from liverecd.engine.lifecycle import Phase, RecordingState
from liverecd.errors import LiverecdError, StateError
from liverecd.ha import sql
from liverecd.schedule.model import Finalize
from liverecd.streams import Command, StreamKey

log = structlog.get_logger(__name__)

PASSWORD_FILE = "database_password"  # noqa: S105 - a file name, not a password


class DatabaseError(LiverecdError):
    """The database could not be reached or used; the message names host and port."""


class SchemaTooNewError(DatabaseError):
    """The schema was written by a newer liverecd: this one refuses to touch it."""


class FencedError(StateError):
    """A state write under an epoch that is no longer the lease's: another member took over."""


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
    """The `StateStore` of one term: rows are read at the start of the term (`refresh`), every
    write is refused unless the lease still carries `epoch` (FencedError).

    `apply` is called from the state book's worker thread and runs on the event loop that owns
    the pool; `load` returns what the last `refresh` read (the engine calls it on the loop).
    """

    def __init__(self, db: Database, holder: str, epoch: int) -> None:
        self._db = db
        self._holder = holder
        self.epoch = epoch
        self._rows: list[RecordingState] = []
        self._loop = asyncio.get_running_loop()

    async def refresh(self) -> list[RecordingState]:
        """Read every row of the cluster from the database."""
        rows = await self._db.fetch(sql.SELECT, (self._db.cluster,))
        self._rows = [_row(r) for r in rows]
        return self._rows

    def load(self) -> list[RecordingState]:
        """The rows the last `refresh` read."""
        return list(self._rows)

    def apply(self, put: Iterable[RecordingState] = (), delete: Iterable[str] = ()) -> None:
        """One fenced transaction (from a worker thread): StateError when it failed."""
        puts, deletes = list(put), list(delete)
        if not puts and not deletes:
            return
        future = asyncio.run_coroutine_threadsafe(self.apply_async(puts, deletes), self._loop)
        try:
            future.result(timeout=self._db.timeout * 4)
        except TimeoutError as exc:
            future.cancel()
            raise StateError(f"database {where(self._db.config)}: write timed out") from exc
        except DatabaseError as exc:
            raise StateError(str(exc)) from exc

    async def apply_async(self, puts: list[RecordingState], deletes: list[str]) -> None:
        """Upserts then deletes, in one transaction fenced by the epoch."""
        keys = {"cluster": self._db.cluster, "holder": self._holder, "epoch": self.epoch}
        async with self._db.transaction() as cur:
            await cur.execute(sql.FENCE.encode(), keys)
            if await cur.fetchone() is None:
                raise FencedError(f"state write refused: epoch {self.epoch} was superseded")
            if puts:
                await cur.executemany(sql.UPSERT.encode(), [self._values(r) for r in puts])
            if deletes:
                await cur.executemany(
                    sql.DELETE.encode(), [(self._db.cluster, wid) for wid in deletes]
                )

    def _values(self, r: RecordingState) -> tuple[object, ...]:
        return (
            self._db.cluster, r.window_id, r.stream.domain, r.stream.app, r.stream.stream,
            r.start, r.end, r.finalize.value, r.delay.total_seconds(), r.phase.value,
            r.last_command.value, r.updated_at, r.started_at, r.stopped_at, self.epoch,
        )  # fmt: skip

    def close(self) -> None:
        """Nothing: the pool outlives the term."""


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

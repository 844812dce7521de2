"""The daemon's view of its state: an in-memory mirror in front of a `StateStore`, with group
commit.

Reads are the mirror (the daemon decides from it on every command), indexed by stream; writes
update the mirror at once and reach the store in batches, one `apply` in flight at a time, so a
burst of 2,000 intents costs one fsync (or one PostgreSQL transaction) rather than 2,000.
`put`/`delete` return a future that resolves when the change is durable: callers that must not
send before their intent is on disk (an opening command) await it; the rest let it complete in
the background. A write that fails (a full disk, a locked database) is retried with backoff until
it lands, newer changes to the same row taking its place; `last_error` says so meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from liverecd.clock import Clock
from liverecd.engine.lifecycle import Phase, RecordingState
from liverecd.engine.store.interface import StateStore
from liverecd.errors import StateError
from liverecd.streams import StreamKey

log = structlog.get_logger(__name__)

RETRY_FIRST = 0.5  # seconds before a failed write is tried again; doubles up to RETRY_CAP
RETRY_CAP = 5.0
CLOSE_GRACE = 5.0  # seconds a shutdown waits for writes that keep failing


class StateBook:
    """Mirror + batched durable writes. Create and use it on the event loop."""

    def __init__(
        self, store: StateStore, clock: Clock, *, intent_timeout: float | None = None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:  # fmt: skip
        self._store = store
        self._clock = clock
        self._intent_timeout = intent_timeout
        self._on_change = on_change  # hears `last_error` set and cleared (the status shows it)
        self._rows: dict[str, RecordingState] = {}
        self._by_stream: dict[StreamKey, dict[str, RecordingState]] = {}
        self._pending: dict[str, RecordingState | None] = {}  # window id -> row or deletion
        self._waiters: list[asyncio.Future[None]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.last_error: str | None = None

    async def load(self) -> list[RecordingState]:
        """Read every row from the store into the mirror (start-up; may raise StateError)."""
        rows = await self._store.load()
        self._rows, self._by_stream = {}, {}
        for r in rows:
            self._index(r)
        return rows

    def _index(self, row: RecordingState) -> None:
        old = self._rows.get(row.window_id)
        if old is not None and old.stream != row.stream:
            self._unindex(row.window_id)
        self._rows[row.window_id] = row
        self._by_stream.setdefault(row.stream, {})[row.window_id] = row

    def _unindex(self, window_id: str) -> None:
        old = self._rows.pop(window_id, None)
        if old is not None:
            lane = self._by_stream.get(old.stream, {})
            lane.pop(window_id, None)
            if not lane:
                self._by_stream.pop(old.stream, None)

    # -- reads ------------------------------------------------------------------------------

    def get(self, window_id: str) -> RecordingState | None:
        """The row of `window_id`, if any."""
        return self._rows.get(window_id)

    def rows(self) -> list[RecordingState]:
        """Every row, by window id."""
        return [self._rows[k] for k in sorted(self._rows)]

    def of_stream(self, stream: StreamKey) -> list[RecordingState]:
        """The rows of one stream."""
        return list(self._by_stream.get(stream, {}).values())

    def rows_running(self) -> list[RecordingState]:
        """The rows a stop is still owed for."""
        return [r for r in self._rows.values() if r.phase.running]

    def count(self, *phases: Phase) -> int:
        """How many rows are in one of `phases` (the rows are few: windows held open)."""
        return sum(1 for r in self._rows.values() if r.phase in phases)

    def __len__(self) -> int:
        return len(self._rows)

    # -- writes -----------------------------------------------------------------------------

    def put(self, *rows: RecordingState) -> asyncio.Future[None]:
        """Upsert rows; the future resolves once they are durable."""
        for r in rows:
            self._index(r)
            self._pending[r.window_id] = r
        return self._schedule()

    def delete(self, *window_ids: str) -> asyncio.Future[None]:
        """Delete rows; the future resolves once the deletion is durable."""
        for wid in window_ids:
            self._unindex(wid)
            self._pending[wid] = None
        return self._schedule()

    def _schedule(self) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(_retrieve)  # a failure nobody awaits is logged, not left dangling
        if not self._pending:
            fut.set_result(None)
            return fut
        self._waiters.append(fut)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_all(), name="state-flush")
        return fut

    async def _flush_all(self) -> None:
        # One batch per round: changes made while a batch is on disk wait for the next round.
        pause = RETRY_FIRST
        while self._pending:
            batch, self._pending = self._pending, {}
            waiters, self._waiters = self._waiters, []
            puts = [r for r in batch.values() if r is not None]
            deletes = [wid for wid, r in batch.items() if r is None]
            try:
                await self._store.apply(puts, deletes)
            except StateError as exc:
                # Put the batch back under what changed since; its waiters keep waiting.
                self._pending = {**batch, **self._pending}
                self._waiters = waiters + self._waiters
                self._failed(exc)
                await self._clock.sleep(pause)
                pause = min(RETRY_CAP, pause * 2)
                continue
            if self.last_error is not None:
                log.info("state_write_recovered")
                self.last_error = None
                self._on_change()
            pause = RETRY_FIRST
            for w in waiters:
                if not w.done():
                    w.set_result(None)

    def _failed(self, exc: StateError) -> None:
        # The mirror stays right; the store is behind until a retry lands.
        if self.last_error != str(exc):
            log.error("state_write_failed", error=str(exc), retry=True)
            self.last_error = str(exc)
            self._on_change()

    async def durable(self, fut: asyncio.Future[None], deadline: datetime) -> bool:
        """Wait for `fut` (a write of this book) until `deadline` on the wall clock; True once
        it is durable (a failing write is retried meanwhile): an opening command waits here.

        With `intent_timeout` (a cluster member: its lease gate guards every send, and its
        shared database may be failing over), True also once that long has passed while the
        window is still open: DESIGN §9 keeps sending what is owed through a database blip."""
        if fut.done():
            return fut.exception() is None
        now = self._clock.wall()
        limit = deadline
        if self._intent_timeout is not None:
            limit = min(deadline, now + timedelta(seconds=self._intent_timeout))
        nap = asyncio.ensure_future(self._clock.sleep((limit - now).total_seconds()))
        try:
            await asyncio.wait((nap, asyncio.shield(fut)), return_when=asyncio.FIRST_COMPLETED)
        finally:
            nap.cancel()
        if fut.done() and fut.exception() is None:
            return True
        if self._intent_timeout is not None and deadline > self._clock.wall():
            log.warning("start_without_intent", error=self.last_error)
            return True
        return False

    @property
    def unwritten(self) -> int:
        """Changes not yet durable."""
        return len(self._pending) + (1 if self._flusher and not self._flusher.done() else 0)

    async def flush(self) -> None:
        """Wait until every change made so far is durable (or its write failed)."""
        if self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def close(self) -> None:
        """Flush (writes that keep failing get `CLOSE_GRACE` seconds). The store stays open:
        its creator closes it once the verifier beside the engine has written too."""
        if self._flusher is not None and not self._flusher.done():
            sleeper = asyncio.ensure_future(self._clock.sleep(CLOSE_GRACE))
            await asyncio.wait(
                (sleeper, asyncio.shield(self._flusher)), return_when=asyncio.FIRST_COMPLETED
            )
            sleeper.cancel()
            if not self._flusher.done():
                self._flusher.cancel()
                log.error("state_unflushed", rows=len(self._pending), error=self.last_error)


def _retrieve(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled():
        fut.exception()

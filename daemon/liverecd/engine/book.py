"""The daemon's view of its state: an in-memory mirror in front of a `StateStore`, with group
commit off the event loop.

Reads are the mirror (the daemon decides from it on every command); writes update the mirror at
once and reach the store in batches on one worker thread, so a burst of 2,000 intents costs one
fsync rather than 2,000 and the loop never blocks on the disk. `put`/`delete` return a future
that resolves when the change is durable: callers that must not send before their intent is on
disk (an opening command) await it; the rest let it complete in the background.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import structlog

from liverecd.engine.state import RecordingState, StateStore
from liverecd.errors import StateError
from liverecd.streams import StreamKey

log = structlog.get_logger(__name__)


class StateBook:
    """Mirror + batched durable writes. Create and use it on the event loop."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._rows: dict[str, RecordingState] = {}
        self._pending: dict[str, RecordingState | None] = {}  # window id -> row or deletion
        self._waiters: list[asyncio.Future[None]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="liverecd-state")
        self.last_error: str | None = None

    def load(self) -> list[RecordingState]:
        """Read every row from the store into the mirror (start-up; may raise StateError)."""
        rows = self._store.load()
        self._rows = {r.window_id: r for r in rows}
        return rows

    # -- reads ------------------------------------------------------------------------------

    def get(self, window_id: str) -> RecordingState | None:
        """The row of `window_id`, if any."""
        return self._rows.get(window_id)

    def rows(self) -> list[RecordingState]:
        """Every row, by window id."""
        return [self._rows[k] for k in sorted(self._rows)]

    def of_stream(self, stream: StreamKey) -> list[RecordingState]:
        """The rows of one stream."""
        return [r for r in self._rows.values() if r.stream == stream]

    def __len__(self) -> int:
        return len(self._rows)

    # -- writes -----------------------------------------------------------------------------

    def put(self, *rows: RecordingState) -> asyncio.Future[None]:
        """Upsert rows; the future resolves once they are durable."""
        for r in rows:
            self._rows[r.window_id] = r
            self._pending[r.window_id] = r
        return self._schedule()

    def delete(self, *window_ids: str) -> asyncio.Future[None]:
        """Delete rows; the future resolves once the deletion is durable."""
        for wid in window_ids:
            self._rows.pop(wid, None)
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
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending, {}
            waiters, self._waiters = self._waiters, []
            puts = [r for r in batch.values() if r is not None]
            deletes = [wid for wid, r in batch.items() if r is None]
            try:
                await loop.run_in_executor(self._executor, self._store.apply, puts, deletes)
            except StateError as exc:
                self._failed(exc, waiters)
                continue
            self.last_error = None
            for w in waiters:
                if not w.done():
                    w.set_result(None)

    def _failed(self, exc: StateError, waiters: Iterable[asyncio.Future[None]]) -> None:
        # The mirror stays right; the store is behind. Callers waiting for durability hear it.
        self.last_error = str(exc)
        log.error("state_write_failed", error=str(exc))
        for w in waiters:
            if not w.done():
                w.set_exception(exc)

    async def flush(self) -> None:
        """Wait until every change made so far is durable (or its write failed)."""
        if self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def close(self) -> None:
        """Flush, then close the store and the writer thread."""
        try:
            await self.flush()
        finally:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._store.close)
            self._executor.shutdown(wait=False)


def _retrieve(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled():
        fut.exception()

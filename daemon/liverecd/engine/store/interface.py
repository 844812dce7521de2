"""The state store: one async interface for everything the daemon keeps where a crash cannot
take it.

Two kinds of rows live behind it:
- `RecordingState`, one per window the daemon opened (or is about to open), keyed by window id:
  enough for a restarted daemon (or the member taking over) to stop a recording whose window
  closed meanwhile and to re-assert one still open. Per window, not per stream, so that a start
  released early for the next window never hides the stop the previous one still needs.
- verification (DESIGN §8): one `Verification` per window, pending until checked, and the file
  callbacks it is checked against, keyed by uri (a callback delivered twice is stored once).

Implementations: `engine.store.sqlite.SqliteStateStore` (embedded, `state_dir/state.sqlite3`, fence
None) and `ha.store.TermStore` (PostgreSQL, one term of leadership, fence = the lease's epoch).
Every write is atomic and durable when its call returns; under a fencing token every write is
refused with `FencedError` once that token is superseded, so a member that lost its lease cannot
overwrite what its successor wrote. Reads need no token. Failures are `StateError`s. Nothing here
assumes one process: the daemon reads the store at start-up instead of trusting that it ran
before.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from liverecd.api.record_index import IndexFile
from liverecd.engine.lifecycle import RecordingState
from liverecd.streams import StreamKey
from liverecd.verify.rows import Verification


class StateStore(Protocol):
    """Durable recording rows and verification rows; every method runs on the event loop and
    never blocks it."""

    @property
    def fence(self) -> int | None:
        """The fencing token every write carries: None when nobody else can write (embedded)."""
        ...

    async def load(self) -> list[RecordingState]:
        """Every recording row, by window id."""
        ...

    async def apply(self, put: Iterable[RecordingState] = (), delete: Iterable[str] = ()) -> None:
        """Upsert `put` and delete the ids in `delete` in one atomic, durable transaction."""
        ...

    async def rows_of(self, stream: StreamKey) -> list[RecordingState]:
        """The recording rows of exactly `stream`, by window id."""
        ...

    async def rows_between(self, since: datetime, until: datetime) -> list[RecordingState]:
        """The recording rows whose window [start, end) overlaps [since, until), by window id."""
        ...

    async def put_verification(self, *rows: Verification) -> None:
        """Upsert verification rows by window id, in one transaction."""
        ...

    async def verification(self, window_id: str) -> Verification | None:
        """One window's verification row, if any."""
        ...

    async def verifications(self, since: datetime, until: datetime) -> list[Verification]:
        """Verification rows of windows that ended in [since, until], by end then id."""
        ...

    async def pending(self) -> list[Verification]:
        """Verification rows still to be checked, soonest due first."""
        ...

    async def put_file(self, stream: StreamKey, file: IndexFile) -> bool:
        """Store a file callback; False when its uri was already stored (idempotent)."""
        ...

    async def files(self, stream: StreamKey, start: datetime, end: datetime) -> list[IndexFile]:
        """Callback files of exactly `stream` overlapping [start, end)."""
        ...

    async def close(self) -> None:
        """Release the store (its creator calls this, after every user is done); idempotent."""
        ...

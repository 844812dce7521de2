"""The verifier: after each window's file is due plus `verify.grace`, read what Alibaba recorded
and persist the window's result (DESIGN §8).

Windows become known from the engine's settled orders (`on_settled`): an opening command of a
window registers it, pending. Its file is due when its cancel_delay settles (finalize:
immediate) or its stop's delay has passed (finalize: delayed); it is checked `grace` after
that. A window whose stop never comes (it never opened) is checked at its end + the stop delay
+ `FALLBACK` + grace. Pending rows are in the store, so a restart resumes them and a reload
that deletes an ended window does not drop its check. An index read that fails is retried
with backoff; the result is `unverified` only once the first check is `give_up` (24 h) old.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import random
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import structlog

from liverecd.api.record_index import IndexFile, IndexRead
from liverecd.clock import Clock
from liverecd.config import VerifyConfig
from liverecd.engine.dispatch.orders import Settled
from liverecd.schedule.actions import Recording
from liverecd.schedule.model import Finalize
from liverecd.streams import Command, StreamKey
from liverecd.verify.coverage import Result, judge
from liverecd.verify.evidence import Evidence
from liverecd.verify.recent import SPAN, RecentResults
from liverecd.verify.rows import Verification

if TYPE_CHECKING:
    from liverecd.engine.store.interface import StateStore

log = structlog.get_logger(__name__)

T = TypeVar("T")
IndexReader = Callable[[StreamKey, datetime, datetime], Awaitable[IndexRead]]
GIVE_UP = timedelta(hours=24)
RETRY_BASE = timedelta(seconds=10)
RETRY_CAP = timedelta(minutes=15)
CONCURRENCY = 64  # checks in flight; the index limiter paces their calls
FALLBACK = timedelta(minutes=5)  # a stop and its cancel_delay land well within this


@runtime_checkable
class VerifyObserver(Protocol):
    """Where results are counted (`ops.metrics.Metrics`)."""

    def window_verified(self, result: str, coverage: float | None) -> None: ...


class Verifier:
    """Pending windows, checked when due. Create and run on the event loop."""

    def __init__(
        self, config: VerifyConfig, store: StateStore, read: IndexReader, clock: Clock,
        *, evidence: Evidence | None = None, observer: VerifyObserver | None = None,
        give_up: timedelta = GIVE_UP, retry_base: timedelta = RETRY_BASE,
        retry_cap: timedelta = RETRY_CAP, slack: timedelta = timedelta(seconds=15),
    ) -> None:  # fmt: skip
        self.config = config  # read at each use: a main-config reload replaces it
        self._store = store
        self._read = read
        self._clock = clock
        self.evidence = evidence or Evidence()
        self._observer = observer
        self._give_up, self._retry_base, self._retry_cap = give_up, retry_base, retry_cap
        self._slack = slack
        self._rows: dict[str, Verification] = {}
        self._heap: list[tuple[datetime, str]] = []  # (due, window id); stale entries skipped
        self._busy: set[str] = set()
        self._wake = asyncio.Event()
        self._gate = asyncio.Semaphore(CONCURRENCY)
        self._rng = random.Random()  # noqa: S311 - jitter, not security
        self.done = 0  # results written (tests and the bench wait on it)
        # Store calls run one after another, in the order they were made: a window's result
        # must never be overtaken by its older pending row (PostgreSQL has a pool of
        # connections), and a check reads the files stored before it.
        self._last: asyncio.Future[Any] | None = None
        self._seen: set[str] = set()
        self.recent = RecentResults()  # for the status page

    async def load(self) -> int:
        """Resume the pending rows of the store (start-up), and the last hour's results for the
        status page; how many pending."""
        now = self._clock.wall()
        self.recent.seed(await self._store.verifications(now - SPAN, now))
        for row in await self._store.pending():
            self._rows[row.window_id] = row
            self._seen.add(row.window_id)
            heapq.heappush(self._heap, (row.due, row.window_id))
        return len(self._rows)

    async def flush(self) -> None:
        """Wait until every store call made so far is done (failed ones are logged)."""
        if self._last is not None:
            await asyncio.wait([self._last])

    close = flush  # finish the queued writes; the store stays open (it is the daemon's)

    def _write(self, fn: Callable[..., Awaitable[T]], *args: object) -> asyncio.Future[T]:
        before = self._last

        async def call() -> T:
            if before is not None:
                await asyncio.wait([before])
            return await fn(*args)

        future = asyncio.ensure_future(call())
        future.add_done_callback(_log_failure)
        self._last = future
        return future

    # -- what the engine tells ----------------------------------------------------------------

    def on_settled(self, settled: Settled) -> None:
        """A settle-listener: registers windows, moves files due, notes evidence."""
        order, now = settled.order, self._clock.wall()
        at = settled.sent_at or now
        if order.opens and settled.reason == "cancelled":
            return  # its window was edited away before it opened: nothing to prove
        if order.opens:
            self._register(order.window_id, order.stream, settled.window, settled)
            if settled.succeeded:
                self.evidence.observe(order.stream, at, True)
            if settled.succeeded and settled.command is Command.RESTART:
                self._split_closed(order.stream, order.window_id, now)
            elif settled.result is not None and settled.result.code == "StreamNotFound":
                self.evidence.observe(order.stream, at, False)
            return
        rec = settled.window
        if order.command is Command.CANCEL_DELAY:
            self._file_due(order.window_id, now)
        elif (
            order.command is Command.STOP
            and rec is not None
            and (rec.finalize is Finalize.DELAYED or not settled.succeeded)
        ):
            self._file_due(order.window_id, at + rec.delay)

    def _split_closed(self, stream: StreamKey, wid: str, now: datetime) -> None:
        """A restart at a split boundary closed the previous window's file (it has no stop)."""
        for row in list(self._rows.values()):
            if row.stream == stream and row.window_id != wid and row.end <= now:
                self._file_due(row.window_id, now)

    def _file_due(self, wid: str, at: datetime) -> None:
        row = self._rows.get(wid)
        if row is not None and wid not in self._busy:
            due = at + self.config.grace
            self._put(replace(row, due=due, first_due=due))

    def _register(
        self, wid: str, stream: StreamKey, rec: Recording | None, settled: Settled
    ) -> None:
        if wid in self._seen:
            return
        if rec is not None:
            start, end = rec.start, rec.end
            delayed = rec.finalize is Finalize.DELAYED and rec.closes
            file_delay = rec.delay if delayed else timedelta(0)
        elif settled.order.deadline is not None:
            start, end, file_delay = settled.order.due, settled.order.deadline, timedelta(0)
        else:
            return
        due = end + file_delay + FALLBACK + self.config.grace
        row = Verification(window_id=wid, stream=stream, start=start, end=end, due=due,
                           first_due=due)  # fmt: skip
        self._put(row)

    def _put(self, row: Verification) -> asyncio.Future[None]:
        self._seen.add(row.window_id)
        written = self._write(self._store.put_verification, row)
        if row.result is Result.PENDING:
            self._rows[row.window_id] = row
            if not self._heap or row.due < self._heap[0][0]:
                self._wake.set()  # due sooner than anything the loop sleeps for
            heapq.heappush(self._heap, (row.due, row.window_id))
        else:
            self._rows.pop(row.window_id, None)
            self._seen.discard(row.window_id)  # its window is over: no opening command follows
        return written

    def add_file(self, stream: StreamKey, file: IndexFile) -> None:
        """A file callback, stored idempotently by uri (in the order of the store calls)."""
        self._write(self._store.put_file, stream, file)

    # -- checking -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Check windows as they fall due, until cancelled."""
        async with asyncio.TaskGroup() as tg:
            while True:
                now = self._clock.wall()
                while self._heap and self._heap[0][0] <= now:
                    due, wid = heapq.heappop(self._heap)
                    row = self._rows.get(wid)
                    if row is None or row.due != due or wid in self._busy:
                        continue  # superseded (moved, done) or being checked
                    self._busy.add(wid)
                    tg.create_task(self._check(wid), name=f"verify-{wid}")
                await self._nap(now)

    async def _nap(self, now: datetime) -> None:
        soonest = self._heap[0][0] if self._heap else None
        wait = 60.0 if soonest is None else min(60.0, max(0.0, (soonest - now).total_seconds()))
        self._wake.clear()
        sleeper = asyncio.ensure_future(self._clock.sleep(wait))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

    async def _check(self, wid: str) -> None:
        try:
            async with self._gate:
                row = self._rows.get(wid)
                if row is not None:
                    read = await self._read(row.stream, row.start, row.end)
                    await self._conclude(row, read)
        except Exception:
            log.exception("verify_failed", window=wid)
        finally:
            self._busy.discard(wid)
            self._wake.set()

    async def _conclude(self, row: Verification, read: IndexRead) -> None:
        now = self._clock.wall()
        if not read.ok:
            attempts = row.attempts + 1
            if now - row.first_due < self._give_up:
                delay = self._backoff(attempts)
                log.info("verify_retry", window=row.window_id, error=read.failure,
                         attempt=attempts, in_seconds=round(delay.total_seconds(), 1))  # fmt: skip
                self._put(replace(row, due=now + delay, attempts=attempts, error=read.failure))
                return
            done = replace(row, result=Result.UNVERIFIED, attempts=attempts, error=read.failure)
        else:
            files = await self._write(self._store.files, row.stream, row.start, row.end)
            done = self._judged(row, files, read.files)
        await self._put(done)
        self.done += 1
        self._report(done)

    def _judged(
        self, row: Verification, heard: list[IndexFile], indexed: tuple[IndexFile, ...]
    ) -> Verification:
        files = {f.uri: f for f in heard}
        files.update((f.uri, f) for f in indexed)
        ordered = tuple(sorted(files.values(), key=lambda f: (f.start, f.uri)))
        verdict = judge(
            row.start, row.end, [(f.start, f.end) for f in ordered],
            self.evidence.offline(row.stream, row.start, row.end),
            min_coverage=self.config.min_coverage, slack=self._slack,
        )  # fmt: skip
        return replace(row, result=verdict.result, coverage=verdict.coverage,
                       gaps=verdict.gaps, files=ordered, attempts=row.attempts + 1,
                       error=None)  # fmt: skip

    def _backoff(self, attempts: int) -> timedelta:
        cap = min(self._retry_cap, self._retry_base * (1 << min(attempts - 1, 20)))
        return cap * (0.5 + self._rng.random() / 2)

    def _report(self, row: Verification) -> None:
        level = "warning" if row.result in (Result.GAP, Result.UNVERIFIED) else "info"
        with contextlib.suppress(OSError):
            getattr(log, level)(
                "window_verified", window=row.window_id, stream=str(row.stream),
                result=row.result.value, coverage=row.coverage, gaps=len(row.gaps),
                missed=sum(1 for g in row.gaps if g.cause == "missed"), files=len(row.files),
                error=row.error,
            )  # fmt: skip
        if self._observer is not None:
            self._observer.window_verified(row.result.value, row.coverage)
        self.recent.add((row,))

    def results(self, needle: str, limit: int) -> list[Verification]:
        """The status page's recent windows: over and waiting for their check, then results."""
        now = self._clock.wall()
        return self.recent.latest(needle, limit, (v for v in self._rows.values() if v.end <= now))

    @property
    def pending(self) -> int:
        """Windows not checked yet."""
        return len(self._rows)


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and (exc := future.exception()) is not None:
        log.error("verify_store_failed", error=str(exc))

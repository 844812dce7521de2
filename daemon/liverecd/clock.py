"""The one seam through which liverecd reads time.

Scheduling maths, the rate limiter and the dispatcher take a `Clock`, so tests drive time by hand
instead of sleeping. `wall()` is for timetables (aware UTC); `monotonic()` is for pacing and
timeouts, which must not jump when an operator or NTP steps the wall clock. `timeout()` bounds a
block of awaits on this clock's time, so a daemon on FakeClock times out a hung request too.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Wall and monotonic time, and a sleep that agrees with them."""

    def wall(self) -> datetime:
        """Now, as an aware UTC datetime."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Suspend for `seconds` of this clock's time."""
        ...

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[object]:
        """Cancel the block once `seconds` of this clock's time pass: TimeoutError."""
        ...


class SystemClock:
    """The real clock. `monotonic()` is the event loop's clock so `call_at` agrees with it."""

    def wall(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[object]:
        return asyncio.timeout(max(0.0, seconds))


class FakeClock:
    """A hand-driven clock for tests: `sleep` parks until `advance` passes its deadline.

    `autojump=True` makes a sleeper with nothing else runnable advance time itself, so code that
    sleeps through simulated minutes finishes in milliseconds.
    """

    def __init__(
        self, start: datetime | None = None, *, monotonic: float = 1000.0, autojump: bool = False
    ) -> None:
        self._wall0 = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._mono0 = monotonic
        self._mono = monotonic
        self._wall_offset = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        # Deadlines of open `timeout` blocks. Kept apart from the sleepers: autojump jumps to
        # a sleeper's wake-up only, so a deadline never strands a sleeper short of its own.
        self._deadlines: list[tuple[float, int, asyncio.Timeout]] = []
        self._seq = itertools.count()
        self.autojump = autojump

    def wall(self) -> datetime:
        return self._wall0 + timedelta(seconds=self._mono - self._mono0 + self._wall_offset)

    def monotonic(self) -> float:
        return self._mono

    def step_wall(self, seconds: float) -> None:
        """Jump the wall clock only (an NTP step or an operator's `date -s`)."""
        self._wall_offset += seconds

    def advance(self, seconds: float) -> None:
        """Move both clocks forward; wake every sleeper and expire every `timeout` block whose
        deadline has passed."""
        self._mono += seconds
        while self._sleepers and self._sleepers[0][0] <= self._mono:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)
        while self._deadlines and self._deadlines[0][0] <= self._mono:
            _, _, block = heapq.heappop(self._deadlines)
            block.reschedule(asyncio.get_running_loop().time())  # expires on the next turn

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + seconds, next(self._seq), fut))
        try:
            if self.autojump:
                await asyncio.sleep(0)
                # A cancelled sleeper leaves its entry behind: jumping to it would wake nobody.
                while self._sleepers and self._sleepers[0][2].done():
                    heapq.heappop(self._sleepers)
                if not fut.done():
                    self.advance(max(0.0, self._sleepers[0][0] - self._mono))
            await fut
        finally:
            fut.cancel()  # no-op once woken; marks the entry stale when the sleeper is cancelled

    @asynccontextmanager
    async def timeout(self, seconds: float) -> AsyncIterator[None]:
        """Like `asyncio.timeout`, on fake time: the block is cancelled (TimeoutError) once
        `advance` passes its deadline, however little real time went by."""
        async with asyncio.timeout(None) as block:
            entry = (self._mono + seconds, next(self._seq), block)
            if seconds <= 0:
                block.reschedule(asyncio.get_running_loop().time())
            else:
                heapq.heappush(self._deadlines, entry)
            try:
                yield
            finally:
                # A block left before its deadline must not be rescheduled after its exit.
                if entry in self._deadlines:
                    self._deadlines.remove(entry)
                    heapq.heapify(self._deadlines)

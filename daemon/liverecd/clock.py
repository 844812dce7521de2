"""The one seam through which liverecd reads time.

Scheduling maths, the rate limiter and the dispatcher take a `Clock`, so tests drive time by hand
instead of sleeping. `wall()` is for timetables (aware UTC); `monotonic()` is for pacing and
timeouts, which must not jump when an operator or NTP steps the wall clock.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
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
        """Move both clocks forward and wake every sleeper whose deadline has passed."""
        self._mono += seconds
        while self._sleepers and self._sleepers[0][0] <= self._mono:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

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

"""Time for the dispatcher: one re-armable wake-up, and wall-clock instants on the monotonic
clock (with step detection)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import datetime
from typing import Protocol, runtime_checkable

from liverecd.clock import Clock
from liverecd.streams import StreamKey

CLOCK_JUMP = 2.0  # seconds of disagreement between wall and monotonic that count as a jump


class Wakeup:
    """An event plus at most one timer: `poke()` wakes the waiter now, `at(t)` at monotonic t.

    Re-arming replaces the timer; with no timer armed nothing wakes up (no polling)."""

    def __init__(self, clock: Clock, name: str) -> None:
        self._clock = clock
        self._name = name
        self._event = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None
        self._timer_at = math.inf

    def poke(self) -> None:
        """Wake the waiter at once."""
        self._event.set()

    def at(self, when: float) -> None:
        """Wake the waiter at monotonic time `when` (inf: no timer)."""
        if when == self._timer_at and self._timer is not None and not self._timer.done():
            return
        self.cancel()
        self._timer_at = when
        if math.isfinite(when):
            self._timer = asyncio.create_task(self._sleep_until(when), name=self._name)

    async def wait(self) -> None:
        """Until poked or the timer fires."""
        await self._event.wait()
        self._event.clear()

    def cancel(self) -> None:
        """Disarm the timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = math.inf

    async def _sleep_until(self, when: float) -> None:
        await self._clock.sleep(when - self._clock.monotonic())
        self._timer_at = math.inf
        self.poke()


class WallMono:
    """Wall-clock instants on the monotonic clock, through one offset for every instant (so
    instants that are equal on the wall stay equal), re-read at every `check`."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._offset = self._read()

    def _read(self) -> float:
        return self._clock.wall().timestamp() - self._clock.monotonic()

    def mono(self, when: datetime) -> float:
        """`when` on the monotonic clock."""
        return when.timestamp() - self._offset

    def mono_or_none(self, when: datetime | None) -> float | None:
        """`mono(when)`, None for None."""
        return None if when is None else self.mono(when)

    def check(self) -> float | None:
        """Re-read the offset; the jump in seconds when the wall clock was stepped by more than
        CLOCK_JUMP (NTP's slewing is adopted silently), else None."""
        offset = self._read()
        jump, self._offset = offset - self._offset, offset
        return jump if abs(jump) > CLOCK_JUMP else None


class Pacer(Protocol):
    """The limiter as the dispatcher uses it (`api.ratelimit.RateLimiter`)."""

    @property
    def interval(self) -> float: ...

    def next_slot(self) -> float: ...

    def take(self) -> None: ...

    def on_throttled(self, retry_after: float | None = None) -> None: ...

    def on_success(self) -> None: ...


@runtime_checkable
class RoutedPacer(Pacer, Protocol):
    """Limiters per account (`api.accounts.AccountPacers`): each stream is paced by the limiter
    of its group (its account)."""

    def group_of(self, stream: StreamKey) -> str: ...

    def for_group(self, group: str) -> Pacer: ...


def routes(
    pacer: Pacer,
) -> tuple[Callable[[StreamKey], str | None], Callable[[str | None], Pacer]]:
    """How to find a stream's pacer: its group (account) and that group's pacer when `pacer`
    routes (several accounts, `api.accounts`), else no group and the one pacer."""
    if isinstance(pacer, RoutedPacer):
        routed = pacer
        return routed.group_of, lambda group: routed.for_group(group or "")
    return (lambda _: None), (lambda _: pacer)

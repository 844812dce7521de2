"""The per-account limiter: no sliding 1-second window ever holds more than `qps` sends.

A token bucket of capacity N refilled at N/s lets 2N through in one second (a full bucket, then
a second's refill). So this limiter paces instead: sends are spaced at least
`interval = (1 + margin)/rate` apart (a schedule on a grid: a send late by less than one interval
does not slow later sends), and as a hard backstop the send `qps` places back must be at least
`1 + margin` seconds old. The margin (1 % by default) keeps 0.99 of the quota while leaving 10 ms
per second of slack for jitter between our send and the server's count.

The backstop keeps that same slack, measured from the sends' real times: a send that went out
late (a loop busy with a takeover's burst) stays on the grid, so the send `qps` places after it
was due less than a second later. With a backstop of one second plus 1 ms, that pair was 1.001 s
apart and any jitter on the way to the server put both in one second (bench/failover.py counted
51 for a lone member).

A send later than one interval restarts the grid from itself (an idle gap, or a stalled
caller). Holding the grid instead would make the sends a stall owes go back to back until the
grid is caught up, and the only room for that is the margin: measured in bench/burst.py, the
slack fell to the backstop's 1 ms and the emulator counted 51-53 calls in a second (2 of 8
runs). Callers that plan on the grid (the dispatcher's chain of early starts) add headroom.

When the server throttles anyway (another tool shares the account; its windows differ), the
rate is cut to 0.7x at most once per window and recovers along the cubic curve of the AWS SDKs'
adaptive retry mode; `x-acs-retry-after` pauses sending altogether. The curve levels off at the
rate of the last cut that followed a success: cuts in a row with no call getting through (a
throttle storm, where the server refuses everything) still slow the probing down, but say
nothing new about the account's capacity, so after the storm the rate climbs back to where it
was within seconds (bench/limiter.py --storm) instead of from the storm's floor.

A priority dispatcher sits in front by asking `next_slot()`, choosing whom to send, and calling
`take()`; simple callers `await acquire()`.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque

from liverecd.clock import Clock, SystemClock

WINDOW = 1.0  # the server's quota window, seconds
BETA = 0.7  # multiplicative decrease on throttling (AWS adaptive mode)
CUBIC_C = 0.4  # cubic recovery scale (AWS adaptive mode)


class RateLimiter:
    """Paces sends for one AccessKeyId. Reads time only through `clock.monotonic()`."""

    def __init__(self, qps: float, clock: Clock, *, margin: float = 0.01) -> None:
        if qps <= 0:
            raise ValueError("qps must be positive")
        self._clock = clock
        self._margin = margin
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._tat = -math.inf  # theoretical time of the next send
        self._paused_until = -math.inf
        self._last_cut = -math.inf
        self._max_rate = qps  # rate before the last cut: where the cubic curve levels off
        self._through_since_cut = True  # a call got through since the last cut
        self._sends: deque[float] = deque()
        self._qps = qps
        self._rate = qps
        self.set_qps(qps)

    @property
    def qps(self) -> float:
        """The configured ceiling (`api.qps`)."""
        return self._qps

    @property
    def rate(self) -> float:
        """The current sending rate, at most `qps`; lower after throttling."""
        return self._rate

    @property
    def burst(self) -> int:
        """Most sends any window may hold."""
        return max(1, math.floor(self._qps))

    def set_qps(self, qps: float) -> None:
        """Change the ceiling (config reload); the current rate is clamped to it."""
        if qps <= 0:
            raise ValueError("qps must be positive")
        self._qps = qps
        self._rate = min(self._rate, qps)
        self._max_rate = min(self._max_rate, qps)
        self._sends = deque(self._sends, maxlen=self.burst)

    def sent_last_second(self) -> int:
        """Sends in the last quota window (for the status page; at most `burst`)."""
        since = self._clock.monotonic() - WINDOW
        return sum(1 for t in self._sends if t > since)

    def next_slot(self) -> float:
        """Monotonic time at which the next send may go; a value <= now means now."""
        slot = max(self._tat, self._paused_until)
        if len(self._sends) >= self.burst:
            slot = max(slot, self._sends[0] + WINDOW * (1.0 + self._margin))
        return slot

    @property
    def interval(self) -> float:
        """Seconds between two send slots at the current rate: `(1 + margin) / rate`."""
        return (1.0 + self._margin) / self._rate

    def take(self) -> None:
        """Record a send happening now. Callers check `next_slot()` first."""
        now = self._clock.monotonic()
        self._sends.append(now)
        interval = self.interval
        # Stay on the grid when this send is early or late by less than a step, so wake-up
        # lateness does not add up send after send; after an idle gap, restart from now.
        base = self._tat if now < self._tat + interval else now
        self._tat = base + interval

    async def acquire(self) -> float:
        """Wait for a slot and take it; returns the seconds waited."""
        start = self._clock.monotonic()
        async with self._loop_lock():
            while (slot := self.next_slot()) > (now := self._clock.monotonic()):
                await self._clock.sleep(slot - now)
            self.take()
        return self._clock.monotonic() - start

    def _loop_lock(self) -> asyncio.Lock:
        """A FIFO lock (waiters take slots in arrival order) for the running loop: a process
        may run several loops over its life (`fire`, tests), and a Lock serves only one."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:
            self._lock = (loop, asyncio.Lock())
        return self._lock[1]

    def on_throttled(self, retry_after: float | None = None) -> None:
        """The server said Throttling: cut the rate (once per window) and honour retry_after."""
        now = self._clock.monotonic()
        if retry_after is not None and retry_after > 0:
            self._paused_until = max(self._paused_until, now + retry_after)
        # Answers to sends already in flight report the same overload: cut once per window.
        if now - self._last_cut < WINDOW:
            return
        self._last_cut = now
        if self._through_since_cut:
            self._max_rate = self._rate
            self._through_since_cut = False
        self._rate = max(self._floor, self._rate * BETA)
        # A slower rate applies from the next send on; do not leave a slot scheduled early.
        self._tat = max(self._tat, now + self.interval)

    def on_success(self) -> None:
        """The server answered without throttling (a success or a definite refusal): move the
        rate back up along the cubic curve, never above qps."""
        self._through_since_cut = True
        if self._rate >= self._qps:
            return
        elapsed = self._clock.monotonic() - self._last_cut
        k = (self._max_rate * (1 - BETA) / CUBIC_C) ** (1 / 3)
        cubic = CUBIC_C * (elapsed - k) ** 3 + self._max_rate
        # Past the old maximum the curve keeps probing upward, up to the configured ceiling.
        self._rate = min(self._qps, max(self._rate, cubic))

    @property
    def _floor(self) -> float:
        return min(1.0, self._qps)


_REGISTRY: dict[tuple[str, str, int | None], RateLimiter] = {}


def limiter_for(
    access_key_id: str,
    qps: float,
    clock: Clock,
    *,
    api: str = "RealTimeRecordCommand",
    margin: float = 0.01,
) -> RateLimiter:
    """The process's one limiter for (`access_key_id`, `api`), shared by every caller on the
    system clock (a fake clock gets its own, so tests stay apart). Each API has its own quota
    (live-api.md §1.6), so e.g. index reads never take a RealTimeRecordCommand slot.

    A different `qps` (config reload) updates the existing limiter's ceiling; `margin` applies
    when the limiter is created.
    """
    # id(clock) is stable: the limiter keeps its clock alive for as long as it is registered.
    key = (access_key_id, api, None if isinstance(clock, SystemClock) else id(clock))
    limiter = _REGISTRY.get(key)
    if limiter is None:
        limiter = _REGISTRY[key] = RateLimiter(qps, clock, margin=margin)
    elif limiter.qps != qps:
        limiter.set_qps(qps)
    return limiter

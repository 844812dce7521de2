"""The sender gate: no Live API request of any kind leaves a member that cannot prove its lease.

Every request (RealTimeRecordCommand and DescribeLiveStreamsOnlineList) passes the gate at the
last moment before it is sent. The gate is open until a deadline on a monotonic clock that the
lease keeps pushing forward (`confirm`): the time of the last confirmed renewal's *sending* plus
the lease minus a safety margin, so it closes before the database can have handed the lease to
another member. A process frozen by SIGSTOP or a stalled loop wakes up past its deadline and
sends nothing.

A closed gate holds commands rather than failing them: if the lease is confirmed again under the
same epoch (nobody took over: a database blip), they go out late but they go out; once the term
is over (`end`) every held and future command is refused as never sent (`CONNECT`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from liverecd.api.record_index import ActionCaller
from liverecd.api.result import ApiResult, TransportError
from liverecd.clock import Clock, SystemClock
from liverecd.engine.dispatch.dispatcher import Sender
from liverecd.engine.online.lister import OnlineLister
from liverecd.errors import LiverecdError
from liverecd.streams import Command, StreamKey


def fence_clock(clock: Clock) -> Callable[[], float]:
    """The clock fences are measured on: CLOCK_BOOTTIME for the real clock, since unlike
    CLOCK_MONOTONIC it keeps counting while the host is suspended, as the database's lease
    expiry does; a resumed VM must not believe its lease is younger than it is."""
    if isinstance(clock, SystemClock) and hasattr(time, "CLOCK_BOOTTIME"):
        return lambda: time.clock_gettime(time.CLOCK_BOOTTIME)
    return clock.monotonic


class GateClosedError(LiverecdError):
    """A Live API request refused because this member is not (or no longer surely) active."""


class SenderGate:
    """Open while `fence_clock(clock)() < deadline` and the term is not over. One per term."""

    def __init__(self, clock: Clock) -> None:
        self._now = fence_clock(clock)
        self._deadline = -math.inf
        self._ended = False
        self._wake = asyncio.Event()
        self.refused = 0  # requests refused at the end of the term (never sent)

    @property
    def is_open(self) -> bool:
        """True when a request may leave now."""
        return not self._ended and self._now() < self._deadline

    @property
    def deadline(self) -> float:
        """Instant (fence clock) the gate closes at, unless confirmed again."""
        return self._deadline

    def confirm(self, until: float) -> None:
        """The lease is ours until at least `until` (fence clock, margin already taken off)."""
        if not self._ended and until > self._deadline:
            self._deadline = until
            self._notify()

    def end(self) -> None:
        """The term is over: refuse everything from now on, held requests included."""
        self._ended = True
        self._notify()

    def _notify(self) -> None:
        self._wake.set()
        self._wake = asyncio.Event()

    async def _passage(self) -> bool:
        while not self._ended:
            if self.is_open:
                return True
            await self._wake.wait()
        self.refused += 1
        return False

    def sender(self, send: Sender) -> Sender:
        """`send`, behind the gate: a refused command is answered as never sent."""

        async def gated(command: Command, stream: StreamKey) -> ApiResult:
            if not await self._passage():
                return ApiResult(transport_error=TransportError.CONNECT)
            return await send(command, stream)

        return gated

    def caller(self, caller: ActionCaller) -> ActionCaller:
        """`caller` (the verifier's index reads), behind the gate like commands."""
        return _GatedCaller(self, caller)

    def lister(self, lister: OnlineLister) -> OnlineLister:
        """`lister`, behind the gate: a poll while closed raises GateClosedError at once (the
        watch polls again later; holding a poll would only delay the next one)."""
        return _GatedLister(self, lister)


class _GatedLister:
    def __init__(self, gate: SenderGate, lister: OnlineLister) -> None:
        self._gate = gate
        self._lister = lister

    async def describe_live_streams_online_list(self, domain: str, **kwargs: Any) -> Any:
        if not self._gate.is_open:
            raise GateClosedError("standby: no Live API request")
        return await self._lister.describe_live_streams_online_list(domain, **kwargs)


class _GatedCaller:
    def __init__(self, gate: SenderGate, caller: ActionCaller) -> None:
        self._gate = gate
        self._caller = caller

    async def call(self, action: str, params: Mapping[str, str]) -> ApiResult:
        if not await self._gate._passage():
            return ApiResult(transport_error=TransportError.CONNECT, detail="standby")
        return await self._caller.call(action, params)

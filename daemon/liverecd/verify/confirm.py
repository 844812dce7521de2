"""In-window confirmation (with recording callbacks on): a start answered OK is not a recording
until Alibaba says `record_started`. One that has not said so within `verify.confirm` is sent
again (event `recording_not_confirmed`), at most `MAX_RESENDS` times per window, then an
error-level `recording_unconfirmed` is logged and the verifier has the last word. A
`record_paused` while the stream is live and its window open gets the same treatment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from liverecd.clock import Clock
from liverecd.engine.dispatch.orders import Settled
from liverecd.streams import StreamKey

log = structlog.get_logger(__name__)

MAX_RESENDS = 3


@dataclass(slots=True)
class _Waiting:
    window_id: str
    deadline: datetime
    resends: int = 0


class Confirmer:
    """Waits for `record_started` after each successful start. `resend(stream, window_id)` asks
    the engine to start again (True when queued); `is_open(window_id)` and `is_offline(stream)`
    say whether a pause deserves a resend."""

    def __init__(
        self, confirm: timedelta, clock: Clock, *, resend: Callable[[StreamKey, str], bool],
        is_open: Callable[[str], bool], is_offline: Callable[[StreamKey], bool],
    ) -> None:  # fmt: skip
        self.confirm = confirm  # a main-config reload may change it
        self._clock = clock
        self._resend, self._is_open, self._is_offline = resend, is_open, is_offline
        self._waiting: dict[StreamKey, _Waiting] = {}
        self._resends: dict[str, int] = {}
        self._recording: set[StreamKey] = set()  # record_started/resumed, and not paused since
        self._wake = asyncio.Event()
        self.resent = 0  # starts sent again (tests, the demo)

    def on_settled(self, settled: Settled) -> None:
        """A settle-listener: a start that landed inside its open window is awaited."""
        order = settled.order
        if not (order.opens and settled.succeeded and self._is_open(order.window_id)):
            return
        if order.stream in self._recording:
            return  # already recording (TaskAlreadyStarted): Alibaba said so before we asked
        at = settled.sent_at or self._clock.wall()
        self._await(order.stream, order.window_id, at)

    def on_status(self, stream: StreamKey, event: str, window_id: str | None) -> None:
        """A status callback; `window_id` is the stream's open window, if any."""
        if event in ("record_started", "record_resumed"):
            self._waiting.pop(stream, None)
            self._recording.add(stream)
            return
        self._recording.discard(stream)
        if (
            event == "record_paused"
            and window_id is not None
            and self._is_open(window_id)
            and not self._is_offline(stream)
        ):
            self._await(stream, window_id, self._clock.wall())

    def _await(self, stream: StreamKey, window_id: str, at: datetime) -> None:
        self._waiting[stream] = _Waiting(window_id, at + self.confirm)
        self._wake.set()

    async def run(self) -> None:
        """Resend what is not confirmed in time, until cancelled."""
        while True:
            now = self._clock.wall()
            for stream, waiting in list(self._waiting.items()):
                if waiting.deadline <= now:
                    del self._waiting[stream]
                    self._expired(stream, waiting)
            await self._nap(now)

    def _expired(self, stream: StreamKey, waiting: _Waiting) -> None:
        wid = waiting.window_id
        if not self._is_open(wid):
            return
        count = self._resends.get(wid, 0)
        if count >= MAX_RESENDS:
            log.error("recording_unconfirmed", stream=str(stream), window=wid, resends=count)
            return
        self._resends[wid] = count + 1
        log.warning("recording_not_confirmed", stream=str(stream), window=wid, resend=count + 1)
        if self._resend(stream, wid):
            self.resent += 1

    async def _nap(self, now: datetime) -> None:
        deadlines = [w.deadline for w in self._waiting.values()]
        wait = min(60.0, max(0.0, (min(deadlines) - now).total_seconds())) if deadlines else 60.0
        self._wake.clear()
        sleeper = asyncio.ensure_future(self._clock.sleep(wait))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

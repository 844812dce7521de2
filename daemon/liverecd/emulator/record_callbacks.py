"""Recording callbacks (live-api.md §6.3): JSON POSTs for status events and finished files.

Signed, when a key is set, with `ALI-LIVE-SIGNATURE` = md5(`host|ALI-LIVE-TIMESTAMP|key`), host
being the callback URL's hostname. Up to 5 attempts 1 s apart, 5 s timeout each; deliveries of
one stream go out in order. A file closed by stop's delay is noticed by a ticker (the stream
book settles lazily), so its callback comes within `TICK` of the delay's end.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import structlog
from yarl import URL

from liverecd.api.signing import callback_signature
from liverecd.clock import Clock
from liverecd.emulator.callbacks import ATTEMPTS, RETRY_INTERVAL, TIMEOUT, OrderedDeliveries
from liverecd.emulator.config import RecordFile
from liverecd.streams import StreamKey

log = structlog.get_logger(__name__)

TICK = 0.25


def record_body(kind: str, key: StreamKey, file: RecordFile | None) -> dict[str, Any]:
    """The JSON body Alibaba posts for `kind` (a status event, or `file_created`)."""
    body: dict[str, Any] = {"domain": key.domain, "app": key.app, "stream": key.stream}
    if file is None:
        return {**body, "event": kind}
    return {
        **body, "uri": file.uri, "duration": round(file.seconds, 3),
        "start_time": int(file.start.timestamp()), "stop_time": int(file.end.timestamp()),
        "push_args": {},
    }  # fmt: skip


class RecordCallbackSender(OrderedDeliveries):
    """Posts recording callbacks to `url`; `delivered` keeps (body, status) of each one."""

    def __init__(self, url: str, key: str | None, clock: Clock) -> None:
        super().__init__()
        self._url = url
        self._host = URL(url).host or ""
        self._key = key
        self._clock = clock
        self.delivered: list[tuple[dict[str, Any], int | None]] = []

    def event(self, kind: str, key: StreamKey, file: RecordFile | None) -> None:
        """Queue one delivery (the stream book's `on_event`)."""
        body = record_body(kind, key, file)
        self._queue(key, lambda prev: self._deliver(prev, body), f"record-callback-{key}")

    async def tick(self, settle: Callable[[], object]) -> None:
        """Settle the book every TICK so files closed by a delay are posted (until cancelled)."""
        while True:
            settle()
            await self._clock.sleep(TICK)

    async def _deliver(self, previous: asyncio.Task[None] | None, body: dict[str, Any]) -> None:
        if previous is not None and not previous.done():
            await asyncio.gather(previous, return_exceptions=True)
        status: int | None = None
        for attempt in range(1, ATTEMPTS + 1):
            status = await self._attempt(body)
            if status == 200:
                break
            if attempt < ATTEMPTS:
                await self._clock.sleep(RETRY_INTERVAL)
        else:
            log.warning("emulator_record_callback_failed", status=status, body=body)
        self.delivered.append((body, status))

    async def _attempt(self, body: dict[str, Any]) -> int | None:
        headers = {"Content-Type": "application/json"}
        if self._key is not None:
            stamp = str(int(self._clock.wall().timestamp()))
            headers["ALI-LIVE-TIMESTAMP"] = stamp
            headers["ALI-LIVE-SIGNATURE"] = callback_signature(self._host, stamp, self._key)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT))
        try:
            async with self._session.post(self._url, data=json.dumps(body), headers=headers) as r:
                await r.read()
                return r.status
        except (aiohttp.ClientError, TimeoutError):
            return None

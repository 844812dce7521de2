"""Stream-ingest callbacks (live-api.md §6.2): a signed HTTP GET on publish and publish_done.

Deliveries for one stream go out in order (each waits for the one before), up to 5 attempts
1 s apart, 5 s timeout each. They run as tasks the sender owns and cancels on close.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Literal

import aiohttp
import structlog

from liverecd.api.signing import callback_signature
from liverecd.clock import Clock
from liverecd.emulator.config import CallbackRecord
from liverecd.streams import StreamKey

log = structlog.get_logger(__name__)

ATTEMPTS = 5
RETRY_INTERVAL = 1.0
TIMEOUT = 5.0


class OrderedDeliveries:
    """Deliveries as tasks this object owns: one stream's go out in order (each waits for the
    one before), all are drained or cancelled together. Both callback senders are one."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._last: dict[StreamKey, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _queue(
        self, key: StreamKey, deliver: Callable[[asyncio.Task[None] | None], Any], name: str
    ) -> None:
        task = asyncio.get_running_loop().create_task(deliver(self._last.get(key)), name=name)
        self._last[key] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every queued delivery has finished (delivered or given up)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Cancel pending deliveries and close the HTTP session."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None


class CallbackSender(OrderedDeliveries):
    """Sends ingest callbacks to `url`, signed when `auth_key` is set, and records each one."""

    def __init__(
        self,
        url: str,
        auth_key: str | None,
        ingest_domain: Callable[[str], str],
        clock: Clock,
    ) -> None:
        super().__init__()
        self._url = url
        self._auth_key = auth_key
        self._ingest_domain = ingest_domain
        self._clock = clock
        self.records: list[CallbackRecord] = []

    def send(self, action: Literal["publish", "publish_done"], key: StreamKey) -> None:
        """Queue one delivery (fire and forget; see `drain`)."""
        event_time = int(self._clock.wall().timestamp())
        self._queue(
            key, lambda prev: self._deliver(prev, action, key, event_time), f"ingest-callback-{key}"
        )

    async def _deliver(
        self,
        previous: asyncio.Task[None] | None,
        action: Literal["publish", "publish_done"],
        key: StreamKey,
        event_time: int,
    ) -> None:
        if previous is not None and not previous.done():
            await asyncio.gather(previous, return_exceptions=True)
        ingest = self._ingest_domain(key.domain)
        params = {
            "action": action,
            "ip": "127.0.0.1",
            "id": key.stream,
            "app": ingest,
            "appname": key.app,
            "time": str(event_time),
            "usrargs": "",
            "node": "emulator",
        }
        status: int | None = None
        for attempt in range(1, ATTEMPTS + 1):
            status = await self._attempt(params, ingest)
            if status == 200:
                self.records.append(CallbackRecord(action, key, attempt, status, True))
                return
            if attempt < ATTEMPTS:
                await self._clock.sleep(RETRY_INTERVAL)
        log.warning("emulator_callback_failed", action=action, stream=str(key), status=status)
        self.records.append(CallbackRecord(action, key, ATTEMPTS, status, False))

    async def _attempt(self, params: dict[str, str], ingest: str) -> int | None:
        headers: dict[str, str] = {}
        if self._auth_key is not None:
            # The timestamp is read per attempt: a retry is a new, freshly signed request.
            stamp = str(int(self._clock.wall().timestamp()))
            headers["ALI-LIVE-TIMESTAMP"] = stamp
            headers["ALI-LIVE-SIGNATURE"] = callback_signature(ingest, stamp, self._auth_key)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT))
        try:
            async with self._session.get(self._url, params=params, headers=headers) as resp:
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, TimeoutError):
            return None

"""Every port liverecd listens on (status, ingest callbacks) is served through here, so no
client can exhaust the daemon's file descriptors or its log (issue 12, cases 4 and 11).

- **A connection budget per port**, from the file-descriptor limit: what the Live API client
  (100 connections), the state store and the logs need is reserved first, so a flood of inbound
  connections can never make a start or stop fail to connect. A connection over the budget is
  closed as soon as it is accepted.
- **Deadlines**: a connection must send its request headers within `HEADER_TIMEOUT` and be
  answered within `REQUEST_TIMEOUT` after that (a slowloris holds nothing for long). One request
  per connection: both callers get a request every few seconds at most.
- **Quiet failures**: a malformed request is a rate-limited warning line without a traceback;
  so is `accept()` failing (EMFILE), which asyncio would otherwise log at every retry.
"""

from __future__ import annotations

import asyncio
import logging
import math
import resource
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from liverecd.config import ListenAddress

log = structlog.get_logger(__name__)

HEADER_TIMEOUT = 10.0  # seconds from accept to a complete request header
REQUEST_TIMEOUT = 10.0  # seconds from the header to the answer (body included)
MAX_CONNECTIONS = 512  # per port: callbacks and scrapes come one at a time
MIN_CONNECTIONS = 8
RESERVED_FDS = 200  # the API client's pool (100), the state store, logs, watchers, slack
LISTENERS = 2  # status and ingest share what is left
LOG_EVERY = 10.0  # seconds between two lines about the same kind of trouble
_ACCEPT_TROUBLE = "socket.accept() out of system resource"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def connection_limit(listeners: int = LISTENERS) -> int:
    """Inbound connections one port may hold, given RLIMIT_NOFILE."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(MIN_CONNECTIONS, min(MAX_CONNECTIONS, (soft - RESERVED_FDS) // listeners))


class RateLimitedLog:
    """One warning per `every` seconds per kind, counting what it held back in between."""

    def __init__(self, every: float = LOG_EVERY) -> None:
        self._every = every
        self._last: dict[str, tuple[float, int]] = {}

    def warning(self, event: str, kind: str, **fields: Any) -> None:
        now = time.monotonic()
        last, held = self._last.get(kind, (-math.inf, 0))
        if now - last < self._every:
            self._last[kind] = (last, held + 1)
            return
        self._last[kind] = (now, 0)
        log.warning(event, suppressed_since_last=held, **fields)


class Guard:
    """The budget and deadlines of one listening port."""

    def __init__(self, name: str, limit: int | None = None) -> None:
        self.name = name
        self.limit = connection_limit() if limit is None else limit
        self.active = 0
        self.refused = 0  # connections closed at accept: over the budget
        self.expired = 0  # connections closed by a deadline
        self.quiet = RateLimitedLog()
        self._timers: dict[asyncio.BaseTransport, asyncio.TimerHandle] = {}

    def protocol(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory that puts `inner`'s connections under this guard."""
        return lambda: _Guarded(inner(), self)

    def malformed(self, remote: str | None, reason: str) -> None:
        """A request that could not be read: a warning, rate-limited, no traceback."""
        self.quiet.warning("http_request_malformed", "malformed", listener=self.name,
                           remote=remote, reason=reason[:200])  # fmt: skip

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The header arrived: stop its clock, start the request's, one request per line."""
        if request.transport is not None and (timer := self._timers.pop(request.transport, None)):
            timer.cancel()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                response = await handler(request)
        except TimeoutError:
            self.expired += 1
            response = web.Response(status=408, text="request timeout\n")
        response.force_close()
        return response

    def _open(self, transport: asyncio.BaseTransport) -> bool:
        if self.active >= self.limit:
            self.refused += 1
            self.quiet.warning("connection_refused_over_budget", "budget",
                               listener=self.name, limit=self.limit,
                               refused=self.refused)  # fmt: skip
            return False
        self.active += 1
        loop = asyncio.get_running_loop()
        self._timers[transport] = loop.call_later(HEADER_TIMEOUT, self._expire, transport)
        return True

    def _expire(self, transport: asyncio.BaseTransport) -> None:
        self._timers.pop(transport, None)
        self.expired += 1
        transport.abort() if isinstance(transport, asyncio.Transport) else transport.close()

    def _close(self, transport: asyncio.BaseTransport) -> None:
        self.active -= 1
        if timer := self._timers.pop(transport, None):
            timer.cancel()


class _Guarded(asyncio.Protocol):
    """Forwards to aiohttp's protocol, unless the guard turned the connection away."""

    def __init__(self, inner: asyncio.Protocol, guard: Guard) -> None:
        self._inner = inner
        self._guard = guard
        self._admitted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._admitted = self._guard._open(transport)  # a pair of classes
        if self._admitted:
            self._inner.connection_made(transport)
            self._transport = transport
        elif isinstance(transport, asyncio.Transport):
            transport.abort()  # the descriptor is free again at once

    def data_received(self, data: bytes) -> None:
        if self._admitted:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._admitted else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._admitted:
            self._guard._close(self._transport)
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class _ServerLog(logging.Logger):
    """aiohttp's per-connection logger: an unreadable request is the client's fault, so it is
    a rate-limited warning without a traceback; anything else keeps aiohttp's own report."""

    def __init__(self, guard: Guard) -> None:
        super().__init__("aiohttp.server")
        self.parent = logging.getLogger("aiohttp")
        self._guard = guard

    def handle(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else None
            self._guard.malformed(str(remote), f"{type(exc).__name__}: {exc.message}")
            return
        super().handle(record)


def _quiet_accept_errors(loop: asyncio.AbstractEventLoop, limiter: RateLimitedLog) -> None:
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if str(context.get("message", "")).startswith(_ACCEPT_TROUBLE):
            error = context.get("exception")
            limiter.warning("accept_failed", "accept", reason=str(error)[:200])
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


class _GuardedSite(web.TCPSite):
    """A TCPSite whose connections go through a Guard (aiohttp has no connection limit)."""

    def __init__(self, runner: web.AppRunner, listen: ListenAddress, guard: Guard) -> None:
        super().__init__(runner, listen.host, listen.port)
        self._guard = guard

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with its runner
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        self._server = await loop.create_server(
            self._guard.protocol(server), self._host, self._port,
            backlog=self._backlog, reuse_address=self._reuse_address,
        )  # fmt: skip


async def serve(app: web.Application, listen: ListenAddress, name: str) -> web.AppRunner:
    """Serve `app` on `listen` under a Guard; returns the runner (`addresses`, `cleanup()`).
    OSError when the address cannot be bound (the runner is cleaned up already)."""
    guard = Guard(name)
    app.middlewares.append(guard.middleware)
    runner = web.AppRunner(app, access_log=None, logger=_ServerLog(guard))
    await runner.setup()
    _quiet_accept_errors(asyncio.get_running_loop(), guard.quiet)
    try:
        await _GuardedSite(runner, listen, guard).start()
    except OSError:
        await runner.cleanup()
        raise
    return runner

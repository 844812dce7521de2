"""The status endpoint on `status.listen`: `GET /healthz` (JSON) and `GET /metrics` (Prometheus).

Why a thread: /healthz must say 503 when the daemon's event loop is wedged, and a handler running
on that loop cannot answer at all when it is (the scrape just times out, which a monitor cannot
tell from a network fault). So the HTTP server runs on an event loop of its own in a small
dedicated thread. The main loop proves it runs by calling `Heartbeat.beat()` every second
(`heartbeat_loop`); the status thread only reads the age of the last beat, a float whose
read is atomic, so it never waits on the main loop. `/metrics` is served from the same thread:
prometheus-client's metrics are thread-safe, and a stale heartbeat gauge in a scrape taken while
the loop is wedged is itself the alert.

`snapshot` is called from the status thread too, so it must not touch the engine's live
structures: the service publishes an immutable mapping on each change (replace, never mutate)
and `snapshot` returns the current one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial

import structlog
from aiohttp import web

from liverecd import redaction
from liverecd.clock import Clock, SystemClock
from liverecd.config import ListenAddress
from liverecd.engine.observer import EngineObserver
from liverecd.errors import LiverecdError
from liverecd.ops import listen
from liverecd.ops.metrics import Metrics

log = structlog.get_logger(__name__)

CONFIG_LOADED = "config_loaded"  # snapshot key: truthy once a config has loaded successfully
WEDGED_AFTER = 5.0  # seconds without a heartbeat before /healthz calls the loop wedged
HEARTBEAT_INTERVAL = 1.0
START_TIMEOUT = 10.0  # binding a loopback port takes milliseconds; this only catches a hang
JOIN_TIMEOUT = 5.0


class StatusServerError(LiverecdError):
    """The status endpoint could not start (address in use, not an address of this host...)."""


class Heartbeat:
    """When the main event loop last ran, readable from any thread."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._last: float | None = None

    def beat(self) -> None:
        """Record that the loop runs now."""
        self._last = self._monotonic()

    def age(self) -> float:
        """Seconds since the last beat; infinity before the first."""
        last = self._last
        return math.inf if last is None else max(0.0, self._monotonic() - last)


async def heartbeat_loop(
    heartbeat: Heartbeat,
    observer: EngineObserver,
    *,
    clock: Clock | None = None,
    interval: float = HEARTBEAT_INTERVAL,
) -> None:
    """Beat every `interval` seconds from the loop it runs on, and report it to `observer`."""
    clock = clock or SystemClock()
    while True:
        heartbeat.beat()
        observer.loop_heartbeat(clock.wall().timestamp())
        await clock.sleep(interval)


class StatusServer:
    """`GET /healthz` and `GET /metrics` on `listen`, served from a dedicated thread."""

    def __init__(
        self,
        listen: ListenAddress,
        snapshot: Callable[[], Mapping[str, object]],
        metrics: Metrics,
        heartbeat_age: Callable[[], float],
        *,
        wedged_after: float = WEDGED_AFTER,
        routes: Callable[[web.Application, StatusServer], None] | None = None,
    ) -> None:
        self._listen = listen
        self._snapshot = snapshot
        self._metrics = metrics
        self._heartbeat_age = heartbeat_age
        self._wedged_after = wedged_after
        self._routes = routes  # more pages on this server (the status page, ops/page)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.address: tuple[str, int] | None = None  # bound host and port once started

    async def start(self) -> None:
        """Bind and serve; raise StatusServerError when the address cannot be bound."""
        started: concurrent.futures.Future[tuple[str, int]] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(started),), name="liverecd-status", daemon=True
        )
        self._thread.start()
        try:
            async with asyncio.timeout(START_TIMEOUT):
                self.address = await asyncio.wrap_future(started)
        except OSError as exc:  # TimeoutError included
            await self.close()
            reason = exc.strerror or str(exc) or "no answer from the status thread"
            raise StatusServerError(f"status.listen {self._listen}: {reason}") from exc
        log.info("status_listening", listen=f"{self.address[0]}:{self.address[1]}")

    async def close(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            # RuntimeError: the thread's loop closed between the check and the call.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.to_thread(thread.join, JOIN_TIMEOUT)

    async def _serve(self, started: concurrent.futures.Future[tuple[str, int]]) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics_page)
        if self._routes is not None:
            self._routes(app, self)
        try:
            runner = await listen.serve(app, self._listen, "status")  # limits, timeouts
        except Exception as exc:  # noqa: BLE001 - whatever it is, start() must hear of it
            started.set_exception(exc)
            return
        host, port = runner.addresses[0][:2]
        started.set_result((str(host), int(port)))
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def health(self) -> tuple[int, dict[str, object]]:
        """The /healthz answer: HTTP status and JSON body (the snapshot plus the verdict)."""
        body = dict(self._snapshot())
        age = self._heartbeat_age()
        found = body.get("problems")
        problems = [str(p) for p in found] if isinstance(found, list) else []
        if not body.get(CONFIG_LOADED):
            problems.append("no configuration has loaded yet")
        if age > self._wedged_after:
            problems.append(f"event loop wedged: no heartbeat for {age:.1f}s")
        body["loop_heartbeat_age_seconds"] = round(age, 3) if math.isfinite(age) else None
        body["healthy"] = not problems
        body["problems"] = problems
        # last_error and friends quote the server's words, which may echo a secret.
        return (503 if problems else 200), redaction.scrub_tree(body)

    async def _healthz(self, request: web.Request) -> web.Response:
        status, body = self.health()
        return web.json_response(body, status=status, dumps=partial(json.dumps, default=str))

    async def _metrics_page(self, request: web.Request) -> web.Response:
        page = redaction.scrub(self._metrics.render().decode()).encode()
        return web.Response(body=page, headers={"Content-Type": self._metrics.content_type})

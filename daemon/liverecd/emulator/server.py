"""The Emulator: a faithful stand-in for the Live API on loopback (DESIGN.md §7), with a Python
API for tests and the demo, and an HTTP control API for other processes."""

from __future__ import annotations

import asyncio
from types import TracebackType

import structlog
from aiohttp import web

from liverecd.clock import Clock, SystemClock
from liverecd.emulator.app import ApiEndpoint
from liverecd.emulator.callbacks import CallbackSender
from liverecd.emulator.config import (
    CallbackRecord,
    EmulatorConfig,
    FaultPlan,
    RecordFile,
    RecordingInterval,
    RequestRecord,
    StreamState,
)
from liverecd.emulator.control import ControlApi, loopback_only
from liverecd.emulator.faults import FaultInjector
from liverecd.emulator.record_callbacks import RecordCallbackSender
from liverecd.emulator.streams import StreamBook
from liverecd.emulator.sts import PATH as STS_PATH
from liverecd.emulator.sts import StsIssuer
from liverecd.emulator.throttle import REAL_TIME_RECORD_COMMAND
from liverecd.errors import LiverecdError
from liverecd.net import is_loopback
from liverecd.streams import StreamKey

log = structlog.get_logger(__name__)


class Emulator:
    """The emulated Live API. Start with `await emu.start()` or `async with Emulator(...)`.

    Timing reads `clock` (default: the event loop's), so stop delays and hangs follow a
    FakeClock in tests that use one. Every method is meant for the event loop's thread.
    """

    def __init__(self, config: EmulatorConfig, *, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.clock_skew = config.clock_skew
        self._closing = asyncio.Event()
        self._book = StreamBook(config, self.clock)
        self._faults = FaultInjector(config.seed)
        self.sts = StsIssuer(config.accounts, self.clock, config.sts_ttl)
        self._api = ApiEndpoint(
            config,
            self.clock,
            self._book,
            self._faults,
            self._closing,
            lambda: self.clock_skew,
            self.sts,
        )
        self._callbacks: CallbackSender | None = None
        if config.notify_url is not None:
            self._callbacks = CallbackSender(
                config.notify_url, config.notify_auth_key, config.ingest_domain, self.clock
            )
        self.record_callbacks: RecordCallbackSender | None = None
        self._ticker: asyncio.Task[None] | None = None
        if config.record_notify_url is not None:
            self.record_callbacks = RecordCallbackSender(
                config.record_notify_url, config.record_notify_key, self.clock
            )
            self._book.on_event = self.record_callbacks.event
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, *, allow_remote: bool = False
    ) -> str:
        """Listen on `host:port` (0: any free port) and return the base URL.

        A host that is not loopback is refused unless `allow_remote` is true. Starting a running
        emulator again on its own address (port 0 matches any) just returns its URL, so
        `async with Emulator(...) as emu: await emu.start(...)` works too."""
        if self._runner is not None:
            bound_host, bound_port = self._runner.addresses[0][:2]
            if host == bound_host and port in (0, bound_port):
                return self.url
            raise LiverecdError(f"emulator already listening on {self.url}")
        if not allow_remote and not is_loopback(host):
            raise LiverecdError(f"refusing to listen on non-loopback host {host!r}")
        app = web.Application(middlewares=[loopback_only])
        app.router.add_get("/", self._api.handle)
        app.router.add_post("/", self._api.handle)
        app.router.add_get(STS_PATH, self.sts.handle)
        ControlApi(self).add_routes(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise LiverecdError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        self._runner = runner
        if self.record_callbacks is not None:
            self._ticker = asyncio.create_task(self.record_callbacks.tick(self._book.recordings))
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self._url = f"http://{shown}:{bound_port}"
        log.info("emulator_listening", url=self._url)
        return self._url

    def credentials_uri(self, account: str | None = None) -> str:
        """The URL to put in `ALIBABA_CLOUD_CREDENTIALS_URI` for temporary keys of `account`
        (a permanent AccessKeyId; default: the first)."""
        return self.url + STS_PATH + (f"?account={account}" if account else "")

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:40123` (only once started)."""
        if self._url is None:
            raise LiverecdError("emulator not started")
        return self._url

    async def close(self) -> None:
        """Stop listening; hung requests are dropped at once, pending callbacks cancelled."""
        self._closing.set()
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        if self._callbacks is not None:
            await self._callbacks.close()
        if self.record_callbacks is not None:
            await self.record_callbacks.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- streams ------------------------------------------------------------------------------

    def set_online(self, key: StreamKey, online: bool) -> None:
        """Publish (`True`) or drop (`False`) a stream; a drop ends its recording for good.
        Sends the ingest callback when `notify_url` is configured and something changed."""
        changed = self._book.set_online(key, online)
        if changed and self._callbacks is not None:
            self._callbacks.send("publish" if online else "publish_done", key)

    def is_online(self, key: StreamKey) -> bool:
        """Whether `key` is being ingested (unknown streams: `default_online`)."""
        return self._book.is_online(key)

    def set_stop_delay(self, key: StreamKey, seconds: float | None) -> None:
        """Override stop's delay for one stream; None restores the configured one."""
        self._book.set_stop_delay(key, seconds)

    def state(self, key: StreamKey) -> StreamState:
        """`idle`, `recording` or `paused_waiting` (a StrEnum, so it compares to the strings)."""
        return self._book.state(key)

    def recordings(self, stream: StreamKey | None = None) -> list[RecordingInterval]:
        """Every recording interval (of one stream), in the order they began."""
        return self._book.recordings(stream)

    def files(self, stream: StreamKey | None = None) -> list[RecordFile]:
        """Finalized files (of one stream) as the record index lists them."""
        return self._book.files(stream)

    # -- faults -------------------------------------------------------------------------------

    def respond_with(
        self,
        code: str = "Throttling.User",
        http_status: int = 400,
        times: int = 1,
        retry_after_ms: int | None = None,
        command: str | None = None,
        message: str | None = None,
        action: str | None = REAL_TIME_RECORD_COMMAND,
        shape: str | None = None,
    ) -> None:
        """Answer the next `times` calls of `action` (None: any API; by default only
        RealTimeRecordCommand, so a background online-list poll cannot eat the script) and, if
        given, of `command`, with this error. Scripts are served FIFO and have no effect on any
        stream; `retry_after_ms` adds the `x-acs-retry-after` header; `shape` answers with a
        body that is no API answer (emulator/odd.py: html, empty, truncated, ok_code, endless,
        unknown_code)."""
        self._faults.respond_with(
            code,
            http_status,
            times=times,
            retry_after_ms=retry_after_ms,
            command=command,
            message=message,
            action=action,
            shape=shape,
        )

    def inject(self, plan: FaultPlan) -> None:
        """Start drawing random faults per request (replaces the previous plan)."""
        self._faults.inject(plan)

    def throttle_storm(self, seconds: float = 10.0) -> None:
        """Answer every API call 400 Throttling.User for `seconds`."""
        self._faults.throttle_storm(self.clock.monotonic(), seconds)

    def silent_starts(self, key: StreamKey, times: int = 1) -> None:
        """The next `times` starts of `key` answer 200 and record nothing."""
        self._book.silent_starts(key, times)

    def lose_files(self, key: StreamKey, times: int = 1) -> None:
        """The next `times` files of `key` never reach the index or a recording callback."""
        self._book.lose_files(key, times)

    def clear_faults(self) -> None:
        """Drop the random plan, any storm and every scripted answer."""
        self._faults.clear()

    # -- records ------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every API request received so far, in arrival order of their decisions."""
        return list(self._api.requests)

    def max_in_any_second(
        self, access_key_id: str | None = None, action: str = REAL_TIME_RECORD_COMMAND
    ) -> int:
        """Most calls of `action` (accepted and throttled) that reached the limiter in any
        sliding second, for one key or for all keys together."""
        return self._api.throttle.max_in_any_second(access_key_id, action)

    @property
    def callbacks(self) -> list[CallbackRecord]:
        """Ingest callback deliveries finished so far."""
        return list(self._callbacks.records) if self._callbacks else []

    async def drain_callbacks(self) -> None:
        """Wait for every queued ingest callback to be delivered or given up."""
        if self._callbacks is not None:
            await self._callbacks.drain()

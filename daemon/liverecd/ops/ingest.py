"""The ingest-callback endpoint (live-api.md §6.2): Alibaba's `publish` / `publish_done`
notifications, on `watch.callback_listen`, path `/notify/ingest` (GET as Alibaba sends it; a
POST form is accepted too).

Authentication is the point: this endpoint makes liverecd send commands, so it refuses to run
without a notify auth key, and answers 403 and does nothing unless `ALI-LIVE-SIGNATURE` is
md5(`app` "|" `ALI-LIVE-TIMESTAMP` "|" key) in hex (any case), the timestamp is within 5 minutes
of now, and the same signed event has not been accepted before (replay memory).

The scheme's limit (Alibaba's, not ours): the signature covers the ingest domain and the
timestamp only, not the action or the stream. Whoever captures one signed request can, for five
minutes, send other events of that domain with the same headers. Exact repeats are refused;
a forged `publish` starts nothing by itself, because the watch confirms every `publish` with the
online list first; a forged `publish_done` only makes the next poll look again. So serve the
endpoint behind a reverse proxy that terminates TLS, and keep it on loopback otherwise.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import math
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any

import structlog
from aiohttp import web

from liverecd import redaction
from liverecd.api.credentials import load_notify_auth_key
from liverecd.api.signing import callback_signature
from liverecd.clock import Clock
from liverecd.config import ListenAddress, WatchConfig
from liverecd.errors import CredentialsError, LiverecdError
from liverecd.ops import listen
from liverecd.schedule.model import Stream
from liverecd.streams import StreamKey

log = structlog.get_logger(__name__)

PATH = "/notify/ingest"
FRESHNESS = 300.0  # seconds either side of now (live-api.md §6.2 suggests about 5 min)
REPLAY_CAPACITY = 100_000  # signed events remembered at most (oldest forgotten first)
MAX_BODY = 64 * 1024  # a callback is a few hundred bytes
REFUSAL_LOG_EVERY = 10.0  # seconds: a flood of forged requests must not flood the log
HEADER_TIMESTAMP = "ALI-LIVE-TIMESTAMP"
HEADER_SIGNATURE = "ALI-LIVE-SIGNATURE"
ACTIONS = ("publish", "publish_done")
_KEY_RULE = re.compile(r"[A-Za-z0-9]{16,64}")  # Alibaba's NotifyAuthKey format

StreamCallback = Callable[[StreamKey], Awaitable[None] | None]
DomainMap = Callable[[], Mapping[str, Collection[str]]]


class IngestEndpointError(LiverecdError):
    """The endpoint could not start (no key, address in use...)."""


def validate_auth_key(key: str | None) -> str:
    """The key, if it can be Alibaba's NotifyAuthKey; CredentialsError otherwise (the message
    never contains the key)."""
    if key is None:
        raise CredentialsError(
            "watch.callback_listen is set but no notify auth key is configured: provide "
            "notify_auth_key in $CREDENTIALS_DIRECTORY or LIVERECD_NOTIFY_AUTH_KEY (an "
            "unauthenticated ingest callback would let anyone trigger recordings)"
        )
    if not _KEY_RULE.fullmatch(key):
        raise CredentialsError(
            "the notify auth key must be 16-64 letters and digits (Alibaba's NotifyAuthKey rule)"
        )
    return key


def ingest_domains(streams: Iterable[Stream]) -> dict[str, frozenset[str]]:
    """Ingest domain → the streaming domains it feeds, from the schedules' `ingest_domain`
    (a stream without one is ingested on its own domain)."""
    found: dict[str, set[str]] = {}
    for s in streams:
        found.setdefault(s.ingest_domain or s.key.domain, set()).add(s.key.domain)
    return {ingest: frozenset(domains) for ingest, domains in found.items()}


def endpoint_from_config(
    config: WatchConfig,
    *,
    on_publish: StreamCallback,
    on_publish_done: StreamCallback,
    domains: DomainMap,
    clock: Clock,
    environ: Mapping[str, str] | None = None,
) -> IngestEndpoint | None:
    """The endpoint `watch.callback_listen` asks for (not started), or None when it is not set.
    CredentialsError when it is set and the notify auth key is missing or malformed."""
    if config.callback_listen is None:
        return None
    key = validate_auth_key(load_notify_auth_key(environ))
    return IngestEndpoint(
        config.callback_listen, key, on_publish=on_publish, on_publish_done=on_publish_done,
        domains=domains, clock=clock,
    )  # fmt: skip


class ReplayGuard:
    """Remembers accepted signed events for `memory` seconds (monotonic)."""

    def __init__(self, clock: Clock, memory: float, capacity: int = REPLAY_CAPACITY) -> None:
        self._clock = clock
        self._memory = memory
        self._capacity = capacity
        self._seen: OrderedDict[tuple[str, ...], float] = OrderedDict()

    def first_time(self, ident: tuple[str, ...]) -> bool:
        """True (and remembered) unless `ident` was accepted within the memory."""
        now = self._clock.monotonic()
        # Insertion order is expiry order: every entry lives the same `memory`.
        while self._seen and next(iter(self._seen.values())) <= now:
            self._seen.popitem(last=False)
        if ident in self._seen:
            return False
        if len(self._seen) >= self._capacity:
            self._seen.popitem(last=False)
        self._seen[ident] = now + self._memory
        return True


class IngestEndpoint:
    """Serves `/notify/ingest` on `listen`; calls `on_publish(key)` / `on_publish_done(key)`
    (sync, or async run as tasks the endpoint owns) for each streaming-domain stream an
    authenticated event names. `domains()` maps an ingest domain to its streaming domains."""

    def __init__(
        self,
        listen: ListenAddress,
        auth_key: str,
        *,
        on_publish: StreamCallback,
        on_publish_done: StreamCallback,
        domains: DomainMap,
        clock: Clock,
        freshness: float = FRESHNESS,
    ) -> None:
        self._listen = listen
        self._key = validate_auth_key(auth_key)
        redaction.register(self._key)  # the one registry every output is scrubbed with
        self._callbacks = {"publish": on_publish, "publish_done": on_publish_done}
        self._domains = domains
        self._clock = clock
        self._freshness = freshness
        # A captured request stays fresh until its timestamp + freshness, at most 2x from now.
        self._replays = ReplayGuard(clock, 2 * freshness)
        self._refusals: dict[str, tuple[float, int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self.url: str | None = None  # http://host:port/notify/ingest once started

    def __repr__(self) -> str:
        return f"IngestEndpoint(listen={self._listen})"  # never the key

    async def start(self) -> str:
        """Bind and serve; returns the URL. IngestEndpointError when it cannot bind."""
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_get(PATH, self._handle)
        app.router.add_post(PATH, self._handle)
        try:
            runner = await listen.serve(app, self._listen, "ingest")  # limits, timeouts
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise IngestEndpointError(f"watch.callback_listen {self._listen}: {reason}") from exc
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.url = f"http://{ListenAddress(str(host), int(port))}{PATH}"
        log.info("ingest_endpoint_listening", url=self.url)
        return self.url

    async def close(self) -> None:
        """Stop serving and cancel callback tasks still running (idempotent)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def drain(self) -> None:
        """Wait until every callback task started so far has finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- requests -----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if request.method == "POST":
            try:
                form = await request.post()
            except web.HTTPException:
                raise  # too large: aiohttp answers it
            except Exception:  # noqa: BLE001 - an unreadable body is the sender's problem
                self._log_refusal("malformed_body", request.remote)
                return web.Response(status=400, text="bad request\n")
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        refusal = self._verify(request, params)
        if refusal is not None:
            self._log_refusal(refusal, request.remote)
            return web.Response(status=403, text="forbidden\n")
        action, app = params.get("action", ""), params.get("app", "")
        appname, stream = params.get("appname", ""), params.get("id", "")
        if action not in ACTIONS:
            log.info("ingest_callback_ignored", action=action[:32])  # authentic, not for us
            return web.Response(text="ok\n")
        if not (app and appname and stream):
            return web.Response(status=400, text="app, appname and id are required\n")
        keys = [StreamKey(d, appname, stream) for d in sorted(self._domains().get(app, (app,)))]
        log.info("ingest_callback", action=action, ingest_domain=app,
                 streams=[str(k) for k in keys], event_time=params.get("time"))  # fmt: skip
        for key in keys:
            self._run(self._callbacks[action], key)
        return web.Response(text="ok\n")

    def _verify(self, request: web.Request, params: Mapping[str, str]) -> str | None:
        """None when the request is authentic, fresh and new; else why it is refused."""
        stamp = request.headers.get(HEADER_TIMESTAMP, "").strip()
        given = request.headers.get(HEADER_SIGNATURE, "").strip().lower()
        if not stamp or not given:
            return "unsigned"
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            return "bad_timestamp"
        app = params.get("app", "")
        expected = callback_signature(app, stamp, self._key)
        if not hmac.compare_digest(expected.encode(), given.encode()):
            return "bad_signature"
        if abs(self._clock.wall().timestamp() - int(stamp)) > self._freshness:
            return "stale_timestamp"
        ident = (stamp, given, *(params.get(k, "") for k in ("action", "app", "appname", "id")))
        if not self._replays.first_time(ident):
            return "replay"
        return None

    def _log_refusal(self, reason: str, remote: str | None) -> None:
        now = self._clock.monotonic()
        last, suppressed = self._refusals.get(reason, (-math.inf, 0))
        if now - last < REFUSAL_LOG_EVERY:
            self._refusals[reason] = (last, suppressed + 1)
            return
        self._refusals[reason] = (now, 0)
        log.warning("ingest_callback_refused", reason=reason, remote=remote,
                    suppressed_since_last=suppressed)  # fmt: skip

    def _run(self, callback: StreamCallback, key: StreamKey) -> None:
        try:
            result: Any = callback(key)
        except Exception:
            log.exception("ingest_callback_failed", stream=str(key))
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(self._await(result, key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _await(pending: Awaitable[None], key: StreamKey) -> None:
        try:
            await pending
        except Exception:
            log.exception("ingest_callback_failed", stream=str(key))

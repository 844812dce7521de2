"""The recording-callback receiver (live-api.md §6.3) on `verify.callback_listen`, path
`/notify/record`: Alibaba's JSON POSTs of status events (`record_started`, `record_paused`,
`record_resumed`) and file events (`uri`, `start_time`, `stop_time`, `duration`).

Authentication: `ALI-LIVE-SIGNATURE` = md5(`host|ALI-LIVE-TIMESTAMP|key`) with host the callback
URL's host as configured in Alibaba (`verify.callback_host`, default the host of
`callback_listen`), and a timestamp within 5 minutes. A wrong or missing signature or a stale
timestamp is answered 403, a body that is not a JSON object or of 1 MB or more 400; nothing is
stored and a warning names the reason (at most one per reason every 10 s). Never the key.
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from aiohttp import web

from liverecd.api.record_index import IndexFile
from liverecd.api.signing import callback_signature
from liverecd.clock import Clock
from liverecd.config import ListenAddress
from liverecd.errors import LiverecdError
from liverecd.ops.ingest import (
    FRESHNESS,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    REFUSAL_LOG_EVERY,
)
from liverecd.streams import StreamKey

log = structlog.get_logger(__name__)

PATH = "/notify/record"
MAX_BODY = 1024 * 1024  # a callback is a few hundred bytes; 1 MB or more is refused
STATUS_EVENTS = ("record_started", "record_paused", "record_resumed")

OnFile = Callable[[StreamKey, IndexFile], object]
OnStatus = Callable[[StreamKey, str], None]


class ReceiverError(LiverecdError):
    """The receiver cannot listen where configured."""


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _file(body: dict[str, object]) -> IndexFile | None:
    try:
        start = datetime.fromtimestamp(float(str(body["start_time"])), UTC)
        end = datetime.fromtimestamp(float(str(body["stop_time"])), UTC)
        duration = float(str(body.get("duration", (end - start).total_seconds())))
    except (KeyError, ValueError, OverflowError):
        return None
    return IndexFile(uri=str(body["uri"]), start=start, end=end, duration=duration)


class RecordReceiver:
    """Serves `/notify/record` on `listen`; hands authentic events to `on_file` / `on_status`."""

    def __init__(
        self, listen: ListenAddress, key: str, *, host: str | None, clock: Clock,
        on_file: OnFile, on_status: OnStatus,
    ) -> None:  # fmt: skip
        self._listen = listen
        self._key = key
        self._host = host or listen.host
        self._clock = clock
        self._on_file, self._on_status = on_file, on_status
        self._refusals: dict[str, float] = {}
        self._runner: web.AppRunner | None = None
        self.url: str | None = None

    def __repr__(self) -> str:
        return f"RecordReceiver(listen={self._listen})"  # never the key

    async def start(self) -> str:
        """Bind and serve; ReceiverError when it cannot."""
        app = web.Application(client_max_size=2 * MAX_BODY)
        app.router.add_post(PATH, self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._listen.host, self._listen.port).start()
        except OSError as exc:
            await runner.cleanup()
            raise ReceiverError(f"verify.callback_listen {self._listen}: {exc.strerror}") from exc
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.url = f"http://{ListenAddress(str(host), int(port))}{PATH}"
        log.info("record_callback_listening", url=self.url)
        return self.url

    async def close(self) -> None:
        """Stop serving (idempotent)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            self._verify(request)
            body = _json(await request.read())
            stream = StreamKey(str(body["domain"]), str(body["app"]), str(body["stream"]))
        except _Refused as refused:
            self._refuse(refused.reason, request.remote)
            return web.Response(status=refused.status, text=f"{refused.reason}\n")
        except (KeyError, ValueError):
            self._refuse("not_a_callback", request.remote)
            return web.Response(status=400, text="domain, app and stream are required\n")
        self._dispatch(stream, body)
        return web.Response(text="ok\n")

    def _dispatch(self, stream: StreamKey, body: dict[str, object]) -> None:
        event = body.get("event")
        if isinstance(event, str) and event in STATUS_EVENTS:
            log.info("record_callback", kind=event, stream=str(stream))
            self._on_status(stream, event)
            return
        file = _file(body) if "uri" in body else None
        if file is not None:
            log.info("record_callback", kind="file", stream=str(stream), uri=file.uri)
            self._on_file(stream, file)

    def _verify(self, request: web.Request) -> None:
        stamp = request.headers.get(HEADER_TIMESTAMP, "").strip()
        given = request.headers.get(HEADER_SIGNATURE, "").strip().lower()
        if not stamp or not given:
            raise _Refused(403, "unsigned")
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            raise _Refused(403, "bad_timestamp")
        expected = callback_signature(self._host, stamp, self._key)
        if not hmac.compare_digest(expected.encode(), given.encode()):
            raise _Refused(403, "bad_signature")
        if abs(self._clock.wall().timestamp() - int(stamp)) > FRESHNESS:
            raise _Refused(403, "stale_timestamp")

    def _refuse(self, reason: str, remote: str | None) -> None:
        now = self._clock.monotonic()
        if now - self._refusals.get(reason, -math.inf) < REFUSAL_LOG_EVERY:
            return
        self._refusals[reason] = now
        log.warning("record_callback_refused", reason=reason, remote=remote)


def _json(raw: bytes) -> dict[str, object]:
    if len(raw) >= MAX_BODY:
        raise _Refused(400, "too_large")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _Refused(400, "not_json") from None
    if not isinstance(body, dict):
        raise _Refused(400, "not_json")
    return body

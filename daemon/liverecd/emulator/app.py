"""The emulated API endpoint: one handler for `GET /` and `POST /`.

Pipeline per request: parse -> fault (a faulted request has no effect, except a hang after
effect) -> authenticate (signature, timestamp, key, token, nonce) -> find the API -> per-key
flow control -> the API itself (state machine or online list). Every request is recorded.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import structlog
from aiohttp import web

from liverecd.api.signing import API_VERSION
from liverecd.clock import Clock
from liverecd.emulator.auth import Authenticator, ParsedRequest, parse_request
from liverecd.emulator.config import EmulatorConfig, RequestRecord
from liverecd.emulator.faults import Fault, FaultInjector
from liverecd.emulator.odd import render_odd
from liverecd.emulator.online_list import describe_online, strict_target
from liverecd.emulator.record_index import describe_index, index_target
from liverecd.emulator.streams import StreamBook
from liverecd.emulator.sts import StsIssuer
from liverecd.emulator.throttle import (
    ONLINE_LIST,
    REAL_TIME_RECORD_COMMAND,
    RECORD_INDEX,
    Throttle,
)
from liverecd.emulator.wire import Rejection, missing, new_request_id, render, render_error
from liverecd.streams import Command, StreamKey

log = structlog.get_logger(__name__)

_FORM = "application/x-www-form-urlencoded"
_ACTIONS = (REAL_TIME_RECORD_COMMAND, ONLINE_LIST, RECORD_INDEX)


@dataclass(slots=True)
class _Outcome:
    """What the pipeline decided for one request, before the answer is written."""

    body: dict[str, Any] | None = None
    rejection: Rejection | None = None
    access_key_id: str | None = None
    throttled: bool = False


@dataclass(frozen=True, slots=True)
class _Arrival:
    """A parsed request with when it arrived and the RequestId it is answered with."""

    req: ParsedRequest
    mono: float
    wall: datetime
    request_id: str

    @property
    def command(self) -> str | None:
        if self.req.action != REAL_TIME_RECORD_COMMAND:
            return None
        return self.req.params.get("Command")


async def _parse(request: web.Request) -> ParsedRequest:
    body = await request.read()
    form: list[tuple[str, str]] = []
    if request.content_type == _FORM:
        form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    query = parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True)
    return parse_request(request.method, query, form, request.headers, body)


def _stream_of(req: ParsedRequest) -> StreamKey | None:
    parts = [req.params.get(k) for k in ("DomainName", "AppName", "StreamName")]
    if all(parts):
        return StreamKey(*(p for p in parts if p is not None))
    return None


class ApiEndpoint:
    """Serves the emulated Live API and appends a RequestRecord for every request."""

    def __init__(
        self,
        config: EmulatorConfig,
        clock: Clock,
        book: StreamBook,
        faults: FaultInjector,
        closing: asyncio.Event,
        skew: Callable[[], float],
        sts: StsIssuer | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._book = book
        self._faults = faults
        self._closing = closing
        self._skew = skew
        self._auth = Authenticator(
            config.accounts,
            config.sts_tokens,
            timestamp_window=config.timestamp_window,
            nonce_memory=config.nonce_memory,
            require_signed_content_type=config.require_signed_content_type,
            sts=sts,
        )
        self.throttle = Throttle(config.qps, config.online_list_per_minute, config.index_qps)
        self.requests: deque[RequestRecord] = deque(maxlen=config.request_log_limit)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The aiohttp handler for `/`."""
        mono, wall = self._clock.monotonic(), self._clock.wall()
        req = await _parse(request)
        arrival = _Arrival(req, mono, wall, new_request_id())
        fault = self._faults.decide(req.action, arrival.command, mono)
        if fault is not None and not fault.after_effect:
            return await self._fault(request, arrival, fault)
        outcome = self._serve(req, mono, wall + timedelta(seconds=self._skew()))
        code = outcome.rejection.code if outcome.rejection else None
        if fault is not None:  # a hang after the request took effect: the answer never comes
            self._record(arrival, None, code, fault="hang", throttled=outcome.throttled)
            return await self._hang(request, fault.hang_seconds)
        if outcome.rejection is not None:
            self._record(arrival, outcome.rejection.http_status, code, throttled=outcome.throttled)
            return render_error(
                outcome.rejection,
                xml=req.wants_xml,
                request_id=arrival.request_id,
                host_id=self._config.host_id,
            )
        self._record(arrival, 200, None)
        return render(
            {"RequestId": arrival.request_id, **(outcome.body or {})},
            status=200,
            root=f"{req.action}Response",
            xml=req.wants_xml,
            request_id=arrival.request_id,
        )

    def _record(
        self,
        arrival: _Arrival,
        status: int | None,
        code: str | None,
        *,
        fault: str | None = None,
        throttled: bool = False,
    ) -> None:
        req = arrival.req
        rec = RequestRecord(
            wall=arrival.wall,
            mono=arrival.mono,
            method=req.method,
            action=req.action,
            command=arrival.command,
            stream=_stream_of(req),
            access_key_id=req.access_key_id,
            nonce=req.nonce,
            signature_version=req.signature_version,
            request_id=arrival.request_id,
            http_status=status,
            code=code,
            fault=fault,
            throttled=throttled,
        )
        self.requests.append(rec)
        log.info(
            "emulator_request",
            action=rec.action,
            command=rec.command,
            stream=str(rec.stream) if rec.stream else None,
            status=status,
            code=code,
            fault=fault,
        )

    async def _fault(
        self, request: web.Request, arrival: _Arrival, fault: Fault
    ) -> web.StreamResponse:
        if fault.kind == "hang":
            self._record(arrival, None, None, fault="hang")
            return await self._hang(request, fault.hang_seconds)
        if fault.kind == "reset":
            self._record(arrival, None, None, fault="reset")
            return self._drop(request)
        assert fault.http_status is not None and fault.code is not None
        self._record(arrival, fault.http_status, fault.code, fault=fault.shape or fault.kind)
        if fault.shape is not None:
            return await render_odd(
                request, fault.shape, fault.http_status, fault.code, arrival.request_id
            )
        return render_error(
            Rejection(fault.http_status, fault.code, fault.message),
            xml=arrival.req.wants_xml,
            request_id=arrival.request_id,
            host_id=self._config.host_id,
            retry_after_ms=fault.retry_after_ms,
        )

    async def _hang(self, request: web.Request, seconds: float) -> web.StreamResponse:
        """Answer nothing for `seconds` (or until the emulator closes), then drop the line."""
        sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
        closer = asyncio.ensure_future(self._closing.wait())
        try:
            await asyncio.wait({sleeper, closer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            closer.cancel()
        return self._drop(request)

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        """Close the connection without an answer; aiohttp then discards the dummy response."""
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)

    def _serve(self, req: ParsedRequest, mono: float, server_now: datetime) -> _Outcome:
        outcome = _Outcome()
        try:
            outcome.access_key_id = self._auth.verify(req, server_now, mono)
            action = self._action(req)
            if not self.throttle.admit(outcome.access_key_id, action, mono):
                outcome.throttled = True
                raise Rejection(400, "Throttling.User")  # noqa: TRY301 - one exit for errors
            outcome.body = self._call(action, req)
        except Rejection as rejection:
            outcome.rejection = rejection
        return outcome

    @staticmethod
    def _action(req: ParsedRequest) -> str:
        action = req.action
        if action is None:
            raise missing("Action")
        if action not in _ACTIONS or req.api_version != API_VERSION:
            raise Rejection(404, "InvalidApi.NotFound")
        return action

    def _call(self, action: str, req: ParsedRequest) -> dict[str, Any] | None:
        if action == REAL_TIME_RECORD_COMMAND:
            self._record_command(req)
            return None
        if action == RECORD_INDEX:
            key = index_target(req.params)[0]
            return describe_index(
                req.params, self._book.files(key), millis=self._config.index_millis
            )
        target = strict_target(req.params)
        if target is not None:
            self._book.mention(target)
        return describe_online(req.params, self._book.online_streams(), self._config.ingest_domain)

    def _record_command(self, req: ParsedRequest) -> None:
        for name in ("Command", "DomainName", "AppName", "StreamName"):
            if not req.params.get(name):
                raise missing(name)
        try:
            command = Command(req.params["Command"])
        except ValueError:
            raise Rejection(
                400, "MalformedParam", "Command must be start, stop, cancel_delay or restart."
            ) from None
        key = _stream_of(req)
        assert key is not None
        self._book.command(key, command)

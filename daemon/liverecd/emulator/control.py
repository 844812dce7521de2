"""The emulator's own HTTP control API under `/_emulator/` (JSON, unsigned, loopback callers
only), for the demo and for tests in another process:

| method and path                              | does                                         |
|----------------------------------------------|----------------------------------------------|
| PUT / DELETE /_emulator/streams/{d}/{a}/{s}  | publish / drop a stream                      |
| GET /_emulator/streams/{d}/{a}/{s}           | its online flag and recording state          |
| POST /_emulator/faults                       | FaultPlan fields, `throttle_storm` seconds,  |
|                                              | `respond_with` (one object or a list; its    |
|                                              | `shape` gives an odd answer: emulator/odd.py)|
| DELETE /_emulator/faults                     | clear every fault                            |
| GET /_emulator/requests                      | every request record                         |
| GET /_emulator/recordings[?stream=d/a/s]     | recording intervals                          |
| GET /_emulator/callbacks                     | ingest callback deliveries                   |
| POST /_emulator/streams/{d}/{a}/{s}/silent   | `{"starts": n, "files": n}`: silent faults   |
| GET /_emulator/files[?stream=d/a/s]          | finalized files (what the record index has)  |
| PUT /_emulator/clock                         | `{"skew": seconds}` for the server clock     |
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from aiohttp import web

from liverecd.emulator.config import (
    CallbackRecord,
    FaultPlan,
    RecordFile,
    RecordingInterval,
    RequestRecord,
    StreamState,
)
from liverecd.emulator.odd import SHAPES
from liverecd.net import is_loopback
from liverecd.streams import StreamKey

PREFIX = "/_emulator"
_PLAN_FIELDS = {f.name for f in dataclasses.fields(FaultPlan)}
_SCRIPT_FIELDS = {
    "code", "http_status", "times", "retry_after_ms", "command", "message", "action", "shape",
}  # fmt: skip
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def jsonable(value: Any) -> Any:
    """Records as JSON values: datetimes ISO 8601, stream keys `d/a/s`, dataclasses as objects."""
    if isinstance(value, StreamKey):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple | frozenset | set):
        return [jsonable(v) for v in value]
    return value


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


def _key(request: web.Request) -> StreamKey:
    info = request.match_info
    return StreamKey(info["domain"], info["app"], info["stream"])


def _parse_script(script: object) -> dict[str, Any]:
    if not isinstance(script, dict) or not set(script) <= _SCRIPT_FIELDS:
        raise ValueError(f"respond_with entries take {sorted(_SCRIPT_FIELDS)}")
    if not isinstance(script.get("code"), str) or not isinstance(script.get("http_status"), int):
        raise ValueError("respond_with entries need a string code and an integer http_status")
    if script.get("shape") not in (None, *SHAPES):
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}")
    times = script.get("times", 1)
    if not isinstance(times, int) or times < 1:
        raise ValueError("times must be an integer >= 1")
    return dict(script)


def _parse_faults(body: object) -> tuple[FaultPlan | None, list[dict[str, Any]], float | None]:
    """(plan, scripted answers, storm seconds) from a POST /_emulator/faults body."""
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    unknown = set(body) - _PLAN_FIELDS - {"throttle_storm", "respond_with"}
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    plan_fields = {k: v for k, v in body.items() if k in _PLAN_FIELDS}
    if plan_fields.get("commands") is not None:
        plan_fields["commands"] = frozenset(plan_fields["commands"])
    plan = FaultPlan(**plan_fields) if plan_fields else None
    raw = body.get("respond_with", [])
    scripts = [_parse_script(s) for s in ([raw] if isinstance(raw, dict) else raw)]
    storm = body.get("throttle_storm")
    return plan, scripts, None if storm is None else float(storm)


@web.middleware
async def loopback_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse control calls that do not come from this host, even on a remote-bound emulator."""
    if request.path.startswith(PREFIX):
        peer = request.remote or ""
        # An empty or path-like peer is a unix socket or a test transport: this host too.
        local = is_loopback(peer) or peer == "" or peer.startswith("/")
        if not local:
            return web.json_response({"error": "control API is loopback only"}, status=403)
    return await handler(request)


class Controlled(Protocol):
    """What the control API drives: the Emulator (server.py), which mounts it; a Protocol so
    imports go one way, server → control."""

    clock_skew: float

    @property
    def requests(self) -> list[RequestRecord]: ...
    @property
    def callbacks(self) -> list[CallbackRecord]: ...
    def set_online(self, key: StreamKey, online: bool) -> None: ...
    def is_online(self, key: StreamKey) -> bool: ...
    def state(self, key: StreamKey) -> StreamState: ...
    def recordings(self, stream: StreamKey | None = ...) -> list[RecordingInterval]: ...
    def files(self, stream: StreamKey | None = ...) -> list[RecordFile]: ...
    def respond_with(
        self, code: str = ..., http_status: int = ..., times: int = ...,
        retry_after_ms: int | None = ..., command: str | None = ..., message: str | None = ...,
        action: str | None = ..., shape: str | None = ...,
    ) -> None: ...  # fmt: skip
    def inject(self, plan: FaultPlan) -> None: ...
    def throttle_storm(self, seconds: float = ...) -> None: ...
    def silent_starts(self, key: StreamKey, times: int = ...) -> None: ...
    def lose_files(self, key: StreamKey, times: int = ...) -> None: ...
    def clear_faults(self) -> None: ...


class ControlApi:
    """Route handlers bound to one Emulator."""

    def __init__(self, emulator: Controlled) -> None:
        self._emu = emulator

    def add_routes(self, app: web.Application) -> None:
        """Mount every control route on `app`."""
        stream = PREFIX + "/streams/{domain}/{app}/{stream}"
        app.router.add_put(stream, self.stream_online)
        app.router.add_delete(stream, self.stream_offline)
        app.router.add_get(stream, self.stream_status)
        app.router.add_post(PREFIX + "/faults", self.faults_set)
        app.router.add_delete(PREFIX + "/faults", self.faults_clear)
        app.router.add_get(PREFIX + "/requests", self.requests)
        app.router.add_get(PREFIX + "/recordings", self.recordings)
        app.router.add_get(PREFIX + "/callbacks", self.callbacks)
        app.router.add_put(PREFIX + "/clock", self.clock)
        app.router.add_post(stream + "/silent", self.silent)
        app.router.add_get(PREFIX + "/files", self.files)

    def _status(self, key: StreamKey) -> web.Response:
        return web.json_response(
            {"stream": str(key), "online": self._emu.is_online(key), "state": self._emu.state(key)}
        )

    async def stream_online(self, request: web.Request) -> web.Response:
        """Publish a stream."""
        self._emu.set_online(_key(request), True)
        return self._status(_key(request))

    async def stream_offline(self, request: web.Request) -> web.Response:
        """Drop a stream (ends its recording)."""
        self._emu.set_online(_key(request), False)
        return self._status(_key(request))

    async def stream_status(self, request: web.Request) -> web.Response:
        """A stream's online flag and state."""
        return self._status(_key(request))

    async def faults_set(self, request: web.Request) -> web.Response:
        """Apply the faults described by the JSON body (all or nothing)."""
        try:
            plan, scripts, storm = _parse_faults(await request.json())
        except (TypeError, ValueError) as exc:
            return _bad(str(exc))
        if plan is not None:
            self._emu.inject(plan)
        for script in scripts:
            self._emu.respond_with(**script)
        if storm is not None:
            self._emu.throttle_storm(storm)
        return web.json_response({"ok": True})

    async def faults_clear(self, request: web.Request) -> web.Response:
        """Clear every fault."""
        self._emu.clear_faults()
        return web.json_response({"ok": True})

    async def requests(self, request: web.Request) -> web.Response:
        """Every request record."""
        return web.json_response(jsonable(self._emu.requests), dumps=json.dumps)

    async def recordings(self, request: web.Request) -> web.Response:
        """Recording intervals, of one stream with `?stream=d/a/s`."""
        key = None
        if "stream" in request.query:
            try:
                key = StreamKey.parse(request.query["stream"])
            except ValueError as exc:
                return _bad(str(exc))
        return web.json_response(jsonable(self._emu.recordings(key)))

    async def callbacks(self, request: web.Request) -> web.Response:
        """Ingest callback deliveries."""
        return web.json_response(jsonable(self._emu.callbacks))

    async def silent(self, request: web.Request) -> web.Response:
        """Silent faults for one stream: starts that record nothing, files that get lost."""
        try:
            body = await request.json()
            starts, files = int(body.get("starts", 0)), int(body.get("files", 0))
        except (ValueError, TypeError, AttributeError):
            return _bad('body must be {"starts": n, "files": n}')
        if starts > 0:
            self._emu.silent_starts(_key(request), starts)
        if files > 0:
            self._emu.lose_files(_key(request), files)
        return web.json_response({"ok": True})

    async def files(self, request: web.Request) -> web.Response:
        """Finalized files, of one stream with `?stream=d/a/s`."""
        key = None
        if "stream" in request.query:
            try:
                key = StreamKey.parse(request.query["stream"])
            except ValueError as exc:
                return _bad(str(exc))
        return web.json_response(jsonable(self._emu.files(key)))

    async def clock(self, request: web.Request) -> web.Response:
        """Set how far the emulator's server clock runs ahead (negative: behind)."""
        try:
            body = await request.json()
            self._emu.clock_skew = float(body["skew"])
        except (ValueError, KeyError, TypeError):
            return _bad('body must be {"skew": seconds}')
        return web.json_response({"skew": self._emu.clock_skew})

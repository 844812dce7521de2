"""Answers that are not API answers, on demand (issue 12, case 1): what a proxy, a gateway or a
broken server can put between the daemon and the real API. Scripted like any error answer
(`respond_with(..., shape=...)`), so a test picks the call and the command they strike.

| shape     | body                                                            |
|-----------|-----------------------------------------------------------------|
| html      | a gateway's HTML error page                                     |
| empty     | nothing at all                                                  |
| truncated | the first half of a JSON error answer                           |
| ok_code   | `{"Code":"OK"}`: a shape the real API never uses                |
| endless   | a chunked JSON body that never ends (until the client hangs up) |

A scripted `code` rides along: in the truncated body, and as an unknown `Code` when the shape
is `unknown_code` (a well-formed error answer whose code no table lists).
"""

from __future__ import annotations

import asyncio
import json
from typing import Final

from aiohttp import web

SHAPES: Final = ("html", "empty", "truncated", "ok_code", "endless", "unknown_code")
_HTML = (
    "<!DOCTYPE html>\n<html><head><title>{status} Error</title></head>\n"
    "<body><h1>{status}</h1><p>The gateway could not serve this request.</p></body></html>\n"
)
_ENDLESS_CHUNK = b'"padding padding padding padding padding padding padding padding",' * 256


def _json(request_id: str, code: str) -> str:
    return json.dumps({"RequestId": request_id, "Code": code, "Message": f"{code} (emulated)"})


async def render_odd(
    request: web.Request, shape: str, status: int, code: str, request_id: str
) -> web.StreamResponse:
    """The answer of `shape` with HTTP `status` (`code` is used by truncated/unknown_code)."""
    if shape == "html":
        return web.Response(
            status=status, text=_HTML.format(status=status), content_type="text/html"
        )
    if shape == "empty":
        return web.Response(status=status, body=b"")
    if shape == "truncated":
        text = _json(request_id, code)
        return web.Response(
            status=status, text=text[: len(text) // 2], content_type="application/json"
        )
    if shape == "ok_code":
        return web.json_response({"Code": "OK"}, status=status)
    if shape == "unknown_code":
        return web.Response(
            status=status, text=_json(request_id, code), content_type="application/json"
        )
    if shape == "endless":
        return await _endless(request, status)
    raise ValueError(f"unknown answer shape {shape!r}: use one of {', '.join(SHAPES)}")


async def _endless(request: web.Request, status: int) -> web.StreamResponse:
    response = web.StreamResponse(status=status, headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        await response.write(b'{"RequestId":"endless","Padding":[')
        while True:
            await response.write(_ENDLESS_CHUNK)
            await asyncio.sleep(0)  # let the client's hang-up (and everything else) through
    except (ConnectionError, RuntimeError):
        pass  # the client hung up: what the test wanted
    return response

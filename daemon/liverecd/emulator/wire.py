"""Answer bodies as the POP gateway writes them: JSON, or XML for V1 calls that did not ask for
JSON (live-api.md §1.4, §3.1)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from liverecd.errors import LiverecdError

# Messages for codes the emulator answers; the texts of live-api.md §3.2 where it quotes them.
MESSAGES: Mapping[str, str] = {
    "Throttling.User": "Request was denied due to user flow control.",
    "Throttling.Api": "Request was denied due to api flow control.",
    "Throttling": "Request was denied due to flow control.",
    "ServiceUnavailable": "The request has failed due to a temporary failure of the server.",
    "InternalError": "The request processing has failed due to some unknown error.",
    "SignatureNonceUsed": "Specified signature nonce was used already.",
    "InvalidTimeStamp.Expired": "Specified time stamp or date value is expired.",
    "InvalidTimeStamp.Format": "Specified time stamp or date value is not well formatted.",
    "InvalidAccessKeyId.NotFound": "Specified access key is not found.",
    "IncompleteSignature": "The request signature does not conform to Aliyun standards.",
    "InvalidSecurityToken.MismatchWithAccessKey": "Specified SecurityToken mismatch with the "
    "AccessKey.",
    "InvalidSecurityToken.Expired": "Specified SecurityToken is expired.",
    "InvalidApi.NotFound": "Specified api is not found, please check your url and method.",
    "StreamNotFound": "The stream is not being ingested.",
    "TaskAlreadyStarted": "Task has already started.",
    "Forbidden.RAM": "User not authorized to operate on the specified resource.",
}


class Rejection(LiverecdError):
    """An error answer decided somewhere in the pipeline: HTTP status, Code and Message."""

    def __init__(self, http_status: int, code: str, message: str | None = None) -> None:
        self.http_status = http_status
        self.code = code
        self.message = message if message is not None else MESSAGES.get(code, code)
        super().__init__(f"{http_status} {code}: {self.message}")


def missing(name: str) -> Rejection:
    """`Missing{Name}` for a missing parameter (live-api.md §1.5 legacy table, §3.2)."""
    return Rejection(
        400,
        f"Missing{name}",
        f'The input parameter "{name}" that is mandatory for processing this request is not '
        "supplied.",
    )


def new_request_id() -> str:
    """A RequestId shaped like Alibaba's (upper-case UUID)."""
    return str(uuid.uuid4()).upper()


def _xml(value: Any, tag: str) -> str:
    if isinstance(value, Mapping):
        inner = "".join(_xml(v, k) for k, v in value.items())
        return f"<{tag}>{inner}</{tag}>"
    if isinstance(value, list):
        # Alibaba's XML repeats the element for each list item, under the list's name.
        return "".join(_xml(item, tag) for item in value)
    text = "true" if value is True else "false" if value is False else str(value)
    return f"<{tag}>{escape(text)}</{tag}>"


def render(
    body: Mapping[str, Any],
    *,
    status: int,
    root: str,
    xml: bool,
    request_id: str,
    retry_after_ms: int | None = None,
) -> web.Response:
    """A response carrying `body` as JSON, or as XML under `<root>` when `xml` is true."""
    headers = {"x-acs-request-id": request_id}
    if retry_after_ms is not None:
        headers["x-acs-retry-after"] = str(retry_after_ms)
    if xml:
        text = "<?xml version='1.0' encoding='UTF-8'?>" + _xml(body, root)
        return web.Response(
            status=status, text=text, headers=headers, content_type="text/xml", charset="utf-8"
        )
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )


def render_error(
    rejection: Rejection,
    *,
    xml: bool,
    request_id: str,
    host_id: str,
    retry_after_ms: int | None = None,
) -> web.Response:
    """The error body of live-api.md §3.1: RequestId, HostId, Code, Message, Recommend."""
    body = {
        "RequestId": request_id,
        "HostId": host_id,
        "Code": rejection.code,
        "Message": rejection.message,
        "Recommend": "https://api.aliyun.com/troubleshoot"
        f"?q={rejection.code}&product=Live&requestId={request_id}",
    }
    return render(
        body,
        status=rejection.http_status,
        root="Error",
        xml=xml,
        request_id=request_id,
        retry_after_ms=retry_after_ms,
    )

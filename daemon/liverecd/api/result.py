"""What one attempt of a Live API call produced (`ApiResult`), read from the wire, and what it
means for the caller (`Outcome`).

One type for every action: RealTimeRecordCommand, the online list and the record index alike.
The caller knows what it asked (command, stream, page), so the result holds only the answer.
Reading it is pure functions over bytes and strings, so every odd body the server may send is
tested without a network. Field names come PascalCase from the API; camelCase is tolerated as
the SDK does.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import structlog

from liverecd.api.signing import percent_encode
from liverecd.streams import Command, StreamKey

log = structlog.get_logger(__name__)

_XML_FIELD = re.compile(r"<(RequestId|Code|Message)>(.*?)</\1>", re.DOTALL)
# V1: "...server string to sign is:POST&%2F&..."; V3: "...server StringToSign is [ACS3...]".
_SERVER_STS = (
    re.compile(r"server string to sign is:\s*(\S+)", re.IGNORECASE),
    re.compile(r"server StringToSign is \[(.*?)\]", re.DOTALL),
)


class Outcome(StrEnum):
    """The one clear meaning of an API answer (DESIGN.md §5)."""

    OK = "ok"
    IDEMPOTENT_OK = "idempotent_ok"  # TaskAlreadyStarted on start, StreamNotFound on stop...
    RETRY = "retry"  # transient: backoff with full jitter, honour x-acs-retry-after
    RETRY_RESIGNED_ONCE = "retry_resigned_once"  # SignatureNonceUsed: one immediate re-signed try
    WAIT_FOR_STREAM = "wait_for_stream"  # StreamNotFound on start/restart: not live yet
    FATAL = "fatal"  # a documented refusal: config, signature, key, permission, parameter

    @property
    def succeeded(self) -> bool:
        return self in (Outcome.OK, Outcome.IDEMPOTENT_OK)

    @property
    def log_level(self) -> str:
        """The level of a `command_attempt` event with this outcome: error when it is final,
        warning when it will be retried, info on success (alerts key on these)."""
        if self is Outcome.FATAL:
            return "error"
        return "info" if self.succeeded else "warning"


class TransportError(StrEnum):
    """Failures below HTTP: the request may or may not have reached the server."""

    TIMEOUT = "timeout"  # unknown outcome: the server may have acted
    CONNECT = "connect"  # never reached the server
    RESET = "reset"  # connection dropped mid-request: unknown outcome
    BAD_RESPONSE = "bad_response"  # an answer that is not an API answer: unknown outcome
    TOO_LARGE = "too_large"  # an answer past the size cap (an endless body): unknown outcome


@dataclass(frozen=True, slots=True)
class ApiResult:
    """One attempt of any action, as answered. Never holds credentials."""

    http_status: int | None = None
    request_id: str | None = None
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None  # seconds, from `x-acs-retry-after` (sent in ms)
    latency: float = 0.0  # seconds from send to answer
    transport_error: TransportError | None = None
    nonce: str = ""
    body: Mapping[str, Any] | None = None  # the parsed answer (JSON, or XML's three fields)
    detail: str | None = None  # what failed on the wire: host, port, reason (never a secret)

    @classmethod
    def read(
        cls, status: int, retry_header: str | None, raw: bytes, *,
        latency: float, nonce: str, secrets: Iterable[str] = (),
    ) -> ApiResult:  # fmt: skip
        """An HTTP answer as a result. The server's words may echo what we sent, secrets
        included: they are redacted here, at the source."""
        data = parse_body(raw)
        secrets = tuple(secrets)
        return cls(
            http_status=status,
            request_id=redact(field(data, "RequestId"), secrets),
            code=redact(field(data, "Code"), secrets),
            message=redact(field(data, "Message"), secrets),
            retry_after=retry_after_seconds(retry_header),
            latency=latency,
            transport_error=TransportError.BAD_RESPONSE if data is None else None,
            nonce=nonce,
            body=data,
            detail=None if data is not None else f"HTTP {status}: {_describe(raw)}",
        )

    @property
    def ok(self) -> bool:
        """A well-formed success: 2xx, a RequestId, no error code."""
        status = self.http_status
        return (
            status is not None and 200 <= status < 300 and not self.code and bool(self.request_id)
        )

    @property
    def outcome_unknown(self) -> bool:
        """True when the server may have acted although we saw no usable answer."""
        return self.transport_error not in (None, TransportError.CONNECT)


def parse_body(body: bytes) -> dict[str, Any] | None:
    """The answer body as a dict (JSON object, or the fields of an XML answer); None if it is
    neither (an HTML page, empty, truncated)."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None
    if text.startswith("<"):
        # Only three flat fields are needed: a regex avoids parsing untrusted XML entities.
        fields = {name: html.unescape(value.strip()) for name, value in _XML_FIELD.findall(text)}
        return fields or None
    return None


def _describe(body: bytes) -> str:
    """What an answer that is not an API answer looked like, without quoting it."""
    if not body.strip():
        return "empty body"
    head = body.lstrip()[:15].lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return f"an HTML page ({len(body)} bytes)"
    return f"not an API answer ({len(body)} bytes)"


def field(data: Mapping[str, Any] | None, name: str) -> str | None:
    """`name` (PascalCase) or its camelCase twin, as a non-empty string, else None."""
    if not data:
        return None
    for key in (name, name[:1].lower() + name[1:]):
        value = data.get(key)
        if value is not None and value != "":
            return str(value)
    return None


def retry_after_seconds(header: str | None) -> float | None:
    """`x-acs-retry-after` (positive integer milliseconds) in seconds; junk is ignored."""
    if header is None:
        return None
    try:
        millis = float(header.strip())
    except ValueError:
        return None
    if not millis > 0 or millis == float("inf"):
        return None
    return millis / 1000.0


def server_string_to_sign(message: str | None) -> str | None:
    """The server's string-to-sign quoted in a SignatureDoesNotMatch message, if any."""
    if not message:
        return None
    for pattern in _SERVER_STS:
        found = pattern.search(message)
        if found:
            return found.group(1)
    return None


def redact(text: str | None, secrets: Iterable[str]) -> str | None:
    """`text` with every secret replaced by `***`, in raw, encoded and doubly encoded forms
    (a V1 string-to-sign carries the STS token percent-encoded twice)."""
    if text is None:
        return None
    for secret in secrets:
        if not secret:
            continue
        once = percent_encode(secret)
        for form in (percent_encode(once), once, secret):
            text = text.replace(form, "***")
    return text


def log_attempt(
    command: Command, stream: StreamKey, result: ApiResult, outcome: Outcome, attempt: int, *,
    window: str | None = None, lateness: float | None = None,
) -> None:  # fmt: skip
    """The one `command_attempt` event of an attempt, at `outcome.log_level` (README "Logs").
    `window` and `lateness` (seconds past the due time) are the daemon's; `fire` has none."""
    fields = {
        "window": window,
        "lateness_ms": None if lateness is None else round(lateness * 1000, 1),
        "request_id": result.request_id,
        "http_status": result.http_status,
        "code": result.code,
        "message": result.message if outcome is Outcome.FATAL else None,
        "transport_error": result.transport_error.value if result.transport_error else None,
        "transport_detail": result.detail,
    }
    log.log(
        logging.getLevelNamesMapping()[outcome.log_level.upper()],
        "command_attempt",
        stream=str(stream),
        command=command.value,
        outcome=outcome.value,
        attempt=attempt,
        latency_ms=round(result.latency * 1000, 1),
        # Only what the attempt had: `code=None message=None` is noise to a reader.
        **{k: v for k, v in fields.items() if v is not None},
    )

"""Reading a Live API answer: JSON (or tolerated XML) bodies, retry-after, redaction.

Pure functions over bytes and strings, so every odd body the server may send is tested without
a network. Field names come PascalCase from the API; camelCase is tolerated as the SDK does.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from liverecd.api.result import TransportError
from liverecd.api.signing import percent_encode

_XML_FIELD = re.compile(r"<(RequestId|Code|Message)>(.*?)</\1>", re.DOTALL)
# V1: "...server string to sign is:POST&%2F&..."; V3: "...server StringToSign is [ACS3...]".
_SERVER_STS = (
    re.compile(r"server string to sign is:\s*(\S+)", re.IGNORECASE),
    re.compile(r"server StringToSign is \[(.*?)\]", re.DOTALL),
)


@dataclass(frozen=True, slots=True)
class Answer:
    """One attempt of any action, before the caller gives it a meaning. Holds no secret."""

    http_status: int | None = None
    request_id: str | None = None
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
    latency: float = 0.0
    transport_error: TransportError | None = None
    nonce: str = ""
    body: Mapping[str, Any] | None = None
    detail: str | None = None  # what failed on the wire: host, port, reason (never a secret)

    @property
    def ok(self) -> bool:
        """A well-formed success: 2xx, a RequestId, no error code."""
        status = self.http_status
        return (
            status is not None and 200 <= status < 300 and not self.code and bool(self.request_id)
        )


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

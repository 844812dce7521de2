"""What one attempt of a Live API call produced, and what it means for the caller."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

import structlog

from liverecd.streams import Command, StreamKey

log = structlog.get_logger(__name__)


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
    """One attempt's answer. Never holds credentials."""

    command: Command
    stream: StreamKey
    http_status: int | None = None
    request_id: str | None = None
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None  # seconds, from `x-acs-retry-after` (sent in ms)
    latency: float = 0.0  # seconds from send to answer
    transport_error: TransportError | None = None
    nonce: str = ""
    detail: str | None = None  # what failed on the wire: host, port, reason (never a secret)

    @property
    def outcome_unknown(self) -> bool:
        """True when the server may have acted although we saw no usable answer."""
        return self.transport_error not in (None, TransportError.CONNECT)


def log_attempt(
    result: ApiResult, outcome: Outcome, attempt: int, *,
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
        stream=str(result.stream),
        command=result.command.value,
        outcome=outcome.value,
        attempt=attempt,
        latency_ms=round(result.latency * 1000, 1),
        # Only what the attempt had: `code=None message=None` is noise to a reader.
        **{k: v for k, v in fields.items() if v is not None},
    )

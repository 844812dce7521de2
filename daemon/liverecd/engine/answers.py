"""What one answer means for the order that got it: settle it, or retry after how long. Pure,
apart from the log line every attempt gets (`command_attempt`)."""

from __future__ import annotations

import random

import structlog

from liverecd.api.result import ApiResult, Outcome
from liverecd.api.retry import RetryPolicy
from liverecd.engine.queue import Item
from liverecd.streams import Command

log = structlog.get_logger(__name__)


def decide(
    it: Item, result: ApiResult, outcome: Outcome, policy: RetryPolicy, rng: random.Random,
    now: float,
) -> str | float:  # fmt: skip
    """A settle reason (`succeeded`, `cancelled`, `fatal`, `retries_exhausted`,
    `window_closed`) or the seconds to wait before the next attempt.

    A restart whose outcome is unknown is not repeated (a duplicate closes one more file): the
    item turns into a start, which TaskAlreadyStarted answers when the restart did go through.
    An opening command's retries end when its window closes.
    """
    if outcome.succeeded:
        return "succeeded"
    if it.cancel_requested:
        return "cancelled"
    if outcome is Outcome.FATAL:
        return "fatal"
    if it.command is Command.RESTART and result.outcome_unknown:
        log.warning("restart_outcome_unknown", window=it.order.window_id,
                    stream=str(it.order.stream))  # fmt: skip
        it.command = Command.START
        return 0.0
    delay = policy.next_delay(
        it.command, outcome, it.per_class[outcome], result.retry_after, rng,
        outcome_unknown=result.outcome_unknown,
    )  # fmt: skip
    if delay is None:
        return "retries_exhausted"
    if it.deadline is not None and now + delay >= it.deadline:
        return "window_closed"
    return delay


def log_attempt(it: Item, result: ApiResult, outcome: Outcome, lateness: float | None) -> None:
    if outcome is Outcome.FATAL:
        emit = log.error
    elif outcome.succeeded:
        emit = log.info
    else:
        emit = log.warning
    emit(
        "command_attempt",
        stream=str(it.order.stream),
        command=it.command.value,
        window=it.order.window_id,
        outcome=outcome.value,
        attempt=it.attempt,
        request_id=result.request_id,
        latency_ms=round(result.latency * 1000, 1),
        lateness_ms=None if lateness is None else round(lateness * 1000, 1),
        http_status=result.http_status,
        code=result.code,
        message=result.message if outcome is Outcome.FATAL else None,
        transport_error=result.transport_error.value if result.transport_error else None,
    )

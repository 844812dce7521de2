"""What one answer means for the order that got it: what it is (`hear`: classified, counted,
logged, told to the limiter and the metrics), then whether to settle the order or retry it
after how long (`decide`: pure, apart from a `restart_outcome_unknown` warning and what
`stream_wait` reads)."""

from __future__ import annotations

import random
from collections.abc import Callable

import structlog

from liverecd.api.outcome import classify, is_throttle
from liverecd.api.result import ApiResult, Outcome, log_attempt
from liverecd.api.retry import RetryPolicy
from liverecd.engine.dispatch.queue import Item
from liverecd.engine.dispatch.timing import Pacer
from liverecd.engine.observer import EngineObserver
from liverecd.streams import Command, StreamKey

log = structlog.get_logger(__name__)


def hear(
    it: Item, result: ApiResult, pacer: Pacer, observer: EngineObserver, lateness: float | None
) -> Outcome:
    """Book one answer on `it` and return its outcome. A throttle slows the pacer; any other
    answer that got past the server's flow control (a refusal such as StreamNotFound too) lets
    it climb back, and a throttle after it is a new episode (api.ratelimit)."""
    outcome = classify(it.command, result)
    it.attempt += 1
    it.per_class[outcome] += 1
    it.maybe_acted = it.maybe_acted or outcome.succeeded or result.outcome_unknown
    if is_throttle(result):
        pacer.on_throttled(result.retry_after)
        observer.throttled()
    elif result.transport_error is None:
        pacer.on_success()
    log_attempt(
        it.command, it.order.stream, result, outcome, it.attempt,
        window=it.order.window_id, lateness=lateness,
    )  # fmt: skip
    observer.command_attempt(it.command, outcome, result.latency, lateness)
    return outcome


def decide(
    it: Item, result: ApiResult, outcome: Outcome, policy: RetryPolicy, rng: random.Random,
    now: float, stream_wait: Callable[[StreamKey], float | None] | None = None,
) -> str | float:  # fmt: skip
    """A settle reason (`succeeded`, `cancelled`, `fatal`, `retries_exhausted`,
    `window_closed`) or the seconds to wait before the next attempt.

    A restart whose outcome is unknown is not repeated (a duplicate closes one more file): the
    item turns into a start, which TaskAlreadyStarted answers when the restart did go through.
    An opening command's retries end when its window closes, not after `max_attempts`. A start
    whose stream is not live waits `stream_wait(stream)` seconds when that says so (the watch
    will hurry it when the stream shows up), at most until its window closes; otherwise it backs
    off as the policy says (capped at `wait_for_stream_cap`).
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
    if outcome is Outcome.WAIT_FOR_STREAM and stream_wait is not None:
        park = stream_wait(it.order.stream)
        if park is not None:
            return _parked(it, park, now)
    delay = policy.next_delay(
        it.command, outcome, it.per_class[outcome], result.retry_after, rng,
        outcome_unknown=result.outcome_unknown,
        until_deadline=it.deadline is not None,
    )  # fmt: skip
    if delay is None:
        return "retries_exhausted"
    if it.deadline is not None and now + delay >= it.deadline:
        return "window_closed"
    return delay


def _parked(it: Item, park: float, now: float) -> str | float:
    if it.deadline is None:
        return park
    left = it.deadline - now
    # Parked until the window's end at most: the item then leaves as `window_closed`.
    return min(park, left) if left > 0 else "window_closed"


def wait_backoff(it: Item, policy: RetryPolicy, rng: random.Random) -> float:
    """The policy's backoff for `it`'s next wait for its stream (a parked start sent back to
    the timer)."""
    count = it.per_class[Outcome.WAIT_FOR_STREAM]
    delay = policy.next_delay(it.command, Outcome.WAIT_FOR_STREAM, count, None, rng)
    return delay if delay is not None else 0.0

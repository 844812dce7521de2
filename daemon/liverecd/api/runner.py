"""One command, carried to a conclusion: pace, send, classify, retry within the deadline.

The runner is where the client (one attempt), the limiter (when) and the retry policy (whether
and how long) meet. Every attempt logs one `command_attempt` event; the report says how the
command ended and why.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from liverecd.api.client import LiveClient
from liverecd.api.outcome import classify, is_throttle
from liverecd.api.ratelimit import RateLimiter
from liverecd.api.result import ApiResult, Outcome, log_attempt
from liverecd.api.retry import RetryPolicy, fits_deadline
from liverecd.clock import Clock
from liverecd.streams import Command, StreamKey


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try: its answer and the meaning given to it."""

    result: ApiResult
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class CommandReport:
    """How a command ended. `outcome` is the last attempt's; `gave_up_reason` says why the
    runner stopped when that outcome is not a success."""

    command: Command
    stream: StreamKey
    outcome: Outcome
    attempts: tuple[Attempt, ...]
    gave_up_reason: str | None = None

    @property
    def result(self) -> ApiResult:
        """The final attempt's answer."""
        return self.attempts[-1].result

    @property
    def succeeded(self) -> bool:
        """OK or IDEMPOTENT_OK."""
        return self.outcome.succeeded


class CommandRunner:
    """Runs commands through one client, one limiter and one retry policy."""

    def __init__(
        self,
        client: LiveClient,
        limiter: RateLimiter,
        policy: RetryPolicy,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._limiter = limiter
        self._policy = policy
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    async def run(
        self,
        command: Command,
        stream: StreamKey,
        *,
        deadline: float | None = None,
        wait_for_stream: float = 0.0,
    ) -> CommandReport:
        """Send `command` until it succeeds, fails fatally, exhausts its retries or would
        start after `deadline` (monotonic). A not-live stream is waited for `wait_for_stream`
        seconds at most."""
        attempts: list[Attempt] = []
        per_class: Counter[Outcome] = Counter()
        stream_deadline = self._clock.monotonic() + wait_for_stream
        while True:
            await self._limiter.acquire()
            result = await self._client.real_time_record_command(command, stream)
            outcome = classify(command, result)
            attempts.append(Attempt(result, outcome))
            self._feed_limiter(result)
            log_attempt(result, outcome, len(attempts))
            per_class[outcome] += 1
            reason = self._why_stop(result, outcome, per_class[outcome])
            delay = None
            if reason is None:
                delay = self._policy.next_delay(
                    command,
                    outcome,
                    per_class[outcome],
                    result.retry_after,
                    self._rng,
                    outcome_unknown=result.outcome_unknown,
                )
                reason = self._why_not_retry(delay, outcome, deadline, stream_deadline)
            if reason is not None or delay is None:
                return CommandReport(command, stream, outcome, tuple(attempts), reason)
            await self._clock.sleep(delay)

    def _feed_limiter(self, result: ApiResult) -> None:
        if is_throttle(result):
            self._limiter.on_throttled(result.retry_after)
        elif result.transport_error is None:  # past flow control, answered or refused
            self._limiter.on_success()

    @staticmethod
    def _why_stop(result: ApiResult, outcome: Outcome, count: int) -> str | None:
        if outcome.succeeded:
            return None
        if outcome is Outcome.FATAL:
            return f"fatal answer {result.code or result.http_status or result.transport_error}"
        if outcome is Outcome.RETRY_RESIGNED_ONCE and count > 1:
            return "SignatureNonceUsed twice: nonces are not unique"
        if result.command is Command.RESTART and result.outcome_unknown:
            return "restart outcome unknown (not repeated: a duplicate closes another file)"
        return None

    def _why_not_retry(
        self,
        delay: float | None,
        outcome: Outcome,
        deadline: float | None,
        stream_deadline: float,
    ) -> str | None:
        if outcome.succeeded:
            return None
        if delay is None:
            return "retries exhausted"
        now = self._clock.monotonic()
        if outcome is Outcome.WAIT_FOR_STREAM and not fits_deadline(now, delay, stream_deadline):
            return "stream not live"
        if not fits_deadline(now, delay, deadline):
            return "deadline passed"
        return None

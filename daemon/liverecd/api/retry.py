"""When to try a command again: exponential backoff with full jitter, per DESIGN.md §5.

Pure and frozen: the policy says how long to wait, the caller owns the clock and the deadline.
Stops and cancel_delays never exhaust (a recording nobody stops costs money); starts give up
after `max_attempts` transient failures; a `restart` whose outcome is unknown is not repeated,
since a duplicate restart closes one more file (`engine.dispatch.answers.decide` re-sends it
as a start).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from liverecd.api.result import Outcome
from liverecd.config import RetryConfig
from liverecd.streams import Command

_MAX_EXPONENT = 60  # 2**60 * any sane base is far past every cap; avoids float overflow


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Backoff parameters, in seconds."""

    base: float = 0.2
    cap: float = 30.0
    max_attempts: int = 8
    wait_for_stream_cap: float = 10.0
    stop_cap: float = 30.0

    @classmethod
    def from_config(cls, config: RetryConfig) -> RetryPolicy:
        """The policy that `api.retry` in the main config describes."""
        return cls(
            base=config.base.total_seconds(),
            cap=config.cap.total_seconds(),
            max_attempts=config.max_attempts,
            wait_for_stream_cap=config.wait_for_stream_cap.total_seconds(),
            stop_cap=config.stop_cap.total_seconds(),
        )

    def backoff(self, attempt: int, cap: float, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]. `attempt` counts from 0."""
        ceiling = min(cap, self.base * 2 ** min(max(attempt, 0), _MAX_EXPONENT))
        return rng.uniform(0.0, ceiling)

    def next_delay(
        self,
        command: Command,
        outcome: Outcome,
        attempt: int,
        retry_after: float | None,
        rng: random.Random,
        *,
        outcome_unknown: bool = False,
        until_deadline: bool = False,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to give up (or nothing to retry).

        `until_deadline`: the caller drops the command at a deadline of its own (a start when
        its window closes), so `max_attempts` does not apply: an outage shorter than the window
        must not cost the rest of the window.

        `attempt` is the 1-based count of attempts so far that ended in `outcome`'s class (the
        caller counts each class separately, so waiting for a stream does not use up the
        attempts meant for transient errors). `retry_after` (the server's `x-acs-retry-after`)
        is a floor. Deadlines are the caller's (`engine.dispatch.answers.decide`).
        """
        delay = self._delay(
            command, outcome, attempt, rng,
            outcome_unknown=outcome_unknown, until_deadline=until_deadline,
        )  # fmt: skip
        if delay is None:
            return None
        return max(delay, retry_after) if retry_after is not None else delay

    def _delay(
        self,
        command: Command,
        outcome: Outcome,
        attempt: int,
        rng: random.Random,
        *,
        outcome_unknown: bool,
        until_deadline: bool,
    ) -> float | None:
        if outcome is Outcome.RETRY_RESIGNED_ONCE:
            if attempt <= 1:
                return 0.0
            if command not in (Command.STOP, Command.CANCEL_DELAY):
                return None  # a second SignatureNonceUsed is not chance
            outcome = Outcome.RETRY  # but a stop never gives up on a guess: back off instead
        if outcome is Outcome.WAIT_FOR_STREAM:
            return self.backoff(attempt - 1, self.wait_for_stream_cap, rng)
        if outcome is not Outcome.RETRY:
            return None  # success or FATAL
        if command is Command.RESTART and outcome_unknown:
            return None
        if command in (Command.STOP, Command.CANCEL_DELAY):
            return self.backoff(attempt - 1, self.stop_cap, rng)
        if attempt >= self.max_attempts and not until_deadline:
            return None
        return self.backoff(attempt - 1, self.cap, rng)

"""The retry policy: full jitter, caps per command class, exhaustion, restart's caution."""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from liverecd.api.result import Outcome
from liverecd.api.retry import RetryPolicy
from liverecd.config import RetryConfig
from liverecd.streams import Command

POLICY = RetryPolicy(base=0.2, cap=30.0, max_attempts=4, wait_for_stream_cap=10.0, stop_cap=30.0)


@given(attempt=st.integers(min_value=0, max_value=10_000), seed=st.integers())
def test_backoff_is_within_the_full_jitter_range(attempt: int, seed: int) -> None:
    delay = POLICY.backoff(attempt, 7.0, random.Random(seed))
    assert 0.0 <= delay <= min(7.0, 0.2 * 2.0 ** min(attempt, 60))


def test_policy_is_built_from_config() -> None:
    policy = RetryPolicy.from_config(RetryConfig(base=timedelta(milliseconds=50), max_attempts=3))
    assert policy.base == 0.05
    assert policy.max_attempts == 3
    assert policy.wait_for_stream_cap == 10.0


def test_success_and_fatal_are_not_retried() -> None:
    rng = random.Random(0)
    for outcome in (Outcome.OK, Outcome.IDEMPOTENT_OK, Outcome.FATAL):
        assert POLICY.next_delay(Command.START, outcome, 1, None, rng) is None


def test_start_gives_up_after_max_attempts() -> None:
    rng = random.Random(0)
    assert POLICY.next_delay(Command.START, Outcome.RETRY, 3, None, rng) is not None
    assert POLICY.next_delay(Command.START, Outcome.RETRY, 4, None, rng) is None


def test_a_start_bounded_by_its_window_keeps_retrying_past_max_attempts() -> None:
    rng = random.Random(0)
    for attempt in (4, 50, 10_000):
        delay = POLICY.next_delay(
            Command.START, Outcome.RETRY, attempt, None, rng, until_deadline=True
        )
        assert delay is not None
        assert 0.0 <= delay <= POLICY.cap


def test_stops_never_exhaust_and_stay_under_their_cap() -> None:
    rng = random.Random(0)
    for command in (Command.STOP, Command.CANCEL_DELAY):
        delays = [POLICY.next_delay(command, Outcome.RETRY, n, None, rng) for n in range(1, 500)]
        assert all(d is not None and 0 <= d <= 30.0 for d in delays)


def test_waiting_for_a_stream_is_capped_at_ten_seconds() -> None:
    rng = random.Random(0)
    delays = [
        POLICY.next_delay(Command.START, Outcome.WAIT_FOR_STREAM, n, None, rng)
        for n in range(1, 200)
    ]
    assert all(d is not None and d <= 10.0 for d in delays)
    assert max(d for d in delays if d is not None) > 5.0  # the cap is reached, not just the base


def test_nonce_reuse_gets_one_immediate_retry_only() -> None:
    rng = random.Random(0)
    assert POLICY.next_delay(Command.START, Outcome.RETRY_RESIGNED_ONCE, 1, None, rng) == 0.0
    assert POLICY.next_delay(Command.START, Outcome.RETRY_RESIGNED_ONCE, 2, None, rng) is None


def test_retry_after_is_a_floor() -> None:
    rng = random.Random(0)
    delay = POLICY.next_delay(Command.START, Outcome.RETRY, 1, 5.0, rng)
    assert delay is not None and delay >= 5.0


def test_restart_with_unknown_outcome_is_not_repeated() -> None:
    rng = random.Random(0)
    assert (
        POLICY.next_delay(Command.RESTART, Outcome.RETRY, 1, None, rng, outcome_unknown=True)
        is None
    )
    assert POLICY.next_delay(Command.RESTART, Outcome.RETRY, 1, None, rng) is not None
    assert (
        POLICY.next_delay(Command.START, Outcome.RETRY, 1, None, rng, outcome_unknown=True)
        is not None
    )

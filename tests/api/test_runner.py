"""CommandRunner: client + limiter + retry policy against the emulator over real HTTP.

The runner's and limiter's clock is a FakeClock, so backoff sleeps take no real time; the client
signs with the real wall clock, which the emulator checks.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from structlog.testing import capture_logs

from liverecd.api.credentials import Credentials, Secret
from liverecd.api.ratelimit import RateLimiter
from liverecd.api.result import Outcome, TransportError
from liverecd.api.retry import RetryPolicy
from liverecd.api.runner import CommandReport, CommandRunner
from liverecd.clock import FakeClock
from liverecd.emulator import Emulator, FaultPlan
from liverecd.streams import Command, StreamKey

from .conftest import FAST_RETRY, STS_AK, STS_SECRET, STS_TOKEN, ClientFactory

KEY = StreamKey("play.example.com", "live", "news")


def _runner(client_factory: ClientFactory, clock: FakeClock, **client_kw: object) -> CommandRunner:
    client = client_factory(**client_kw)
    return CommandRunner(
        client, RateLimiter(50, clock), RetryPolicy.from_config(FAST_RETRY), clock, random.Random(7)
    )


async def _run(runner: CommandRunner, command: Command, **kw: float) -> CommandReport:
    async with asyncio.timeout(15):
        return await runner.run(command, KEY, **kw)


def _nonces(report: CommandReport) -> list[str]:
    return [a.result.nonce for a in report.attempts]


async def test_transient_errors_are_retried_with_fresh_nonces(
    emu: Emulator, make_client: ClientFactory
) -> None:
    emu.respond_with(code="ServiceUnavailable", http_status=503, times=2)
    emu.respond_with(code="Throttling.User", http_status=400, times=1)
    report = await _run(_runner(make_client, FakeClock(autojump=True)), Command.START)
    assert report.outcome is Outcome.OK
    assert [a.outcome for a in report.attempts] == [Outcome.RETRY] * 3 + [Outcome.OK]
    assert len(set(_nonces(report))) == 4
    server_nonces = [r.nonce for r in emu.requests]
    assert sorted(server_nonces) == sorted(_nonces(report))


async def test_signature_nonce_used_gets_exactly_one_resigned_retry(
    emu: Emulator, make_client: ClientFactory
) -> None:
    emu.respond_with(code="SignatureNonceUsed", http_status=400, times=1)
    report = await _run(_runner(make_client, FakeClock(autojump=True)), Command.START)
    assert [a.outcome for a in report.attempts] == [Outcome.RETRY_RESIGNED_ONCE, Outcome.OK]
    assert len(set(_nonces(report))) == 2

    emu.respond_with(code="SignatureNonceUsed", http_status=400, times=5)
    again = await _run(_runner(make_client, FakeClock(autojump=True)), Command.STOP)
    assert len(again.attempts) == 2
    assert not again.succeeded
    assert again.gave_up_reason and "SignatureNonceUsed" in again.gave_up_reason


async def test_start_gives_up_after_max_attempts(emu: Emulator, make_client: ClientFactory) -> None:
    emu.respond_with(code="InternalError", http_status=500, times=50)
    report = await _run(_runner(make_client, FakeClock(autojump=True)), Command.START)
    assert len(report.attempts) == FAST_RETRY.max_attempts
    assert report.outcome is Outcome.RETRY
    assert report.gave_up_reason == "retries exhausted"


async def test_stop_keeps_retrying_past_max_attempts(
    emu: Emulator, make_client: ClientFactory
) -> None:
    emu.respond_with(code="InternalError", http_status=500, times=FAST_RETRY.max_attempts + 3)
    report = await _run(_runner(make_client, FakeClock(autojump=True)), Command.STOP)
    assert len(report.attempts) == FAST_RETRY.max_attempts + 4
    assert report.succeeded


async def test_deadline_bounds_every_retry(emu: Emulator, make_client: ClientFactory) -> None:
    emu.respond_with(code="InternalError", http_status=500, times=1000)
    clock = FakeClock(autojump=True)
    report = await _run(_runner(make_client, clock), Command.STOP, deadline=clock.monotonic() + 0.2)
    assert report.gave_up_reason == "deadline passed"
    assert clock.monotonic() <= clock._mono0 + 0.2 + 0.1  # no sleep past the deadline


async def test_fatal_answer_is_not_retried(emu: Emulator, make_client: ClientFactory) -> None:
    emu.respond_with(code="Forbidden.RAM", http_status=403, times=1)
    with capture_logs() as logs:
        report = await _run(_runner(make_client, FakeClock(autojump=True)), Command.START)
    assert (report.outcome, len(report.attempts)) == (Outcome.FATAL, 1)
    assert [e["log_level"] for e in logs if e["event"] == "command_attempt"] == ["error"]


async def test_not_live_stream_is_waited_for_only_as_long_as_asked(
    emu: Emulator, make_client: ClientFactory
) -> None:
    emu.respond_with(code="StreamNotFound", http_status=409, times=3)
    at_once = await _run(_runner(make_client, FakeClock(autojump=True)), Command.START)
    assert (at_once.outcome, len(at_once.attempts)) == (Outcome.WAIT_FOR_STREAM, 1)
    assert at_once.gave_up_reason == "stream not live"

    waited = await _run(
        _runner(make_client, FakeClock(autojump=True)), Command.START, wait_for_stream=60.0
    )
    assert waited.outcome is Outcome.OK
    assert len(waited.attempts) == 3  # two more StreamNotFound, then it is live


async def test_retry_after_is_honoured_by_runner_and_limiter(
    emu: Emulator, make_client: ClientFactory
) -> None:
    emu.respond_with(code="Throttling.User", http_status=400, times=1, retry_after_ms=1500)
    clock = FakeClock(autojump=True)
    runner = _runner(make_client, clock)
    start = clock.monotonic()
    report = await _run(runner, Command.START)
    assert report.succeeded
    assert clock.monotonic() - start >= 1.5


async def test_hung_request_is_abandoned_and_retried(
    emu: Emulator, make_client: ClientFactory
) -> None:
    # FaultPlan draws one random number per request (its documented contract): pick a seed
    # whose first draw hangs and whose second does not.
    seed = next(s for s in range(1000) if _draws(s, 2) == [True, False])
    emu.inject(FaultPlan(hang=0.5, hang_seconds=30, seed=seed))
    runner = _runner(make_client, FakeClock(autojump=True), timeout=0.3)
    report = await _run(runner, Command.START)
    assert [a.result.transport_error for a in report.attempts] == [TransportError.TIMEOUT, None]
    assert report.succeeded
    assert len(set(_nonces(report))) == 2
    assert [r.fault for r in emu.requests] == ["hang", None]


def _draws(seed: int, n: int) -> list[bool]:
    rng = random.Random(seed)
    return [rng.random() < 0.5 for _ in range(n)]


async def test_restart_with_unknown_outcome_is_not_repeated(
    emu: Emulator, make_client: ClientFactory
) -> None:
    emu.inject(FaultPlan(hang=1.0, hang_seconds=30, hang_after_effect=True))
    runner = _runner(make_client, FakeClock(autojump=True), timeout=0.3)
    report = await _run(runner, Command.RESTART)
    assert len(report.attempts) == 1
    assert report.result.transport_error is TransportError.TIMEOUT
    assert report.gave_up_reason and "restart" in report.gave_up_reason
    assert len([r for r in emu.requests if r.command == "restart"]) == 1


async def test_each_attempt_logs_one_event_without_credentials(
    emu: Emulator, make_client: ClientFactory
) -> None:
    emu.respond_with(code="ServiceUnavailable", http_status=503, times=1)
    creds = Credentials(STS_AK, Secret(STS_SECRET), Secret(STS_TOKEN))
    with capture_logs() as logs:
        report = await _run(
            _runner(make_client, FakeClock(autojump=True), credentials=creds), Command.START
        )
    events = [e for e in logs if e["event"] == "command_attempt"]
    assert len(events) == len(report.attempts) == 2
    assert events[1]["outcome"] == "ok"
    assert events[1]["stream"] == str(KEY)
    assert {"command", "attempt", "request_id", "latency_ms"} <= set(events[1])
    text = repr(logs)
    assert STS_SECRET not in text and STS_TOKEN not in text


@pytest.mark.parametrize("signature", ["v1", "v3"])
async def test_full_failed_run_leaks_no_secret_anywhere(
    make_client: ClientFactory, signature: str
) -> None:
    bad = Credentials(STS_AK, Secret("NotTheRightSecretForThisKey00000"), Secret(STS_TOKEN))
    with capture_logs() as logs:
        report = await _run(
            _runner(make_client, FakeClock(autojump=True), signature=signature, credentials=bad),
            Command.START,
        )
    assert report.result.code == "SignatureDoesNotMatch"
    assert report.outcome is Outcome.FATAL
    text = repr(logs) + repr(report) + str(report.result.message)
    for secret in ("NotTheRightSecretForThisKey00000", STS_SECRET, STS_TOKEN):
        assert secret not in text

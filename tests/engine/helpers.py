"""Test doubles for the dispatcher's pure tests: a scripted sender on a FakeClock.

The dispatcher's ordering and release rules are tested without the network; everything that
crosses the wire is tested against the emulator (test_daemon_*.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from liverecd.api.ratelimit import RateLimiter
from liverecd.api.result import ApiResult, TransportError
from liverecd.api.retry import RetryPolicy
from liverecd.clock import FakeClock
from liverecd.engine.dispatch.dispatcher import Dispatcher, StreamWait
from liverecd.engine.dispatch.orders import Order, Settled
from liverecd.streams import Command, StreamKey

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def key(name: str) -> StreamKey:
    return StreamKey("play.example.com", "live", name)


def ok(command: Command, stream: StreamKey) -> ApiResult:
    return ApiResult(http_status=200, request_id="req")


def code(status: int, text: str) -> Callable[[Command, StreamKey], ApiResult]:
    def answer(command: Command, stream: StreamKey) -> ApiResult:
        return ApiResult(http_status=status, code=text, request_id="req")

    return answer


def timeout(command: Command, stream: StreamKey) -> ApiResult:
    return ApiResult(transport_error=TransportError.TIMEOUT)


Reply = Callable[[Command, StreamKey], ApiResult]


@dataclass
class Sent:
    at: float  # monotonic
    wall: datetime
    command: Command
    stream: StreamKey


@dataclass
class Scripted:
    """Answers from per-stream scripts (first answer first; the last one repeats), else OK."""

    clock: FakeClock
    scripts: dict[StreamKey, list[Reply]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)

    async def __call__(self, command: Command, stream: StreamKey) -> ApiResult:
        self.sent.append(Sent(self.clock.monotonic(), self.clock.wall(), command, stream))
        script = self.scripts.get(stream)
        if not script:
            return ok(command, stream)
        answer = script.pop(0) if len(script) > 1 else script[0]
        return answer(command, stream)

    def order_of(self) -> list[tuple[Command, str]]:
        return [(s.command, s.stream.stream) for s in self.sent]


@dataclass
class Rig:
    clock: FakeClock
    sender: Scripted
    limiter: RateLimiter
    dispatcher: Dispatcher
    settled: list[Settled]


FAST = RetryPolicy(base=0.2, cap=2.0, max_attempts=4, wait_for_stream_cap=1.0, stop_cap=2.0)


def rig(
    *,
    qps: float = 50,
    max_lead: float = 0.0,
    start: datetime = T0,
    jumps: list[float] | None = None,
    policy: RetryPolicy = FAST,
    stream_wait: StreamWait | None = None,
) -> Rig:
    clock = FakeClock(start, autojump=True)
    sender = Scripted(clock)
    limiter = RateLimiter(qps, clock)
    settled: list[Settled] = []
    dispatcher = Dispatcher(
        sender,
        limiter,
        policy,
        clock,
        max_lead=max_lead,
        on_settled=settled.append,
        rng=random.Random(0),
        on_clock_jump=None if jumps is None else jumps.append,
        stream_wait=stream_wait,
    )
    return Rig(clock, sender, limiter, dispatcher, settled)


def order(
    command: Command,
    name: str,
    at: float,
    *,
    window: str | None = None,
    deadline: float | None = None,
    early: bool | None = None,
) -> Order:
    """An order due `at` seconds after T0."""
    return Order(
        command=command,
        stream=key(name),
        window_id=window or f"{name}@{at}",
        due=T0 + timedelta(seconds=at),
        deadline=None if deadline is None else T0 + timedelta(seconds=deadline),
        early=command is Command.START if early is None else early,
    )
